"""A short soak of the resolver against the real OpenBao while every entry rotates: no
value past its TTL, no wrong value, and Vault reads within what single-flight allows,
counted in the audit log. The full-size run is ``benchmarks/soak_resolver.py``."""

import uuid

import pytest

from benchmarks.soak_resolver import problems, run_soak

pytestmark = pytest.mark.integration


def test_twenty_threads_never_see_a_rotated_password_past_the_ttl(bao, workspace, canary):
    prefix = canary("soak-" + uuid.uuid4().hex[:12])  # in every password: a leak of any fails
    figures = run_soak(
        bao,
        workspace=workspace,
        threads=20,
        entries=100,
        seconds=8,
        ttl=1.0,
        rotating=100,
        rotate_every=1.0,
        rotators=16,
        sample_every=4,
        password_prefix=prefix,
    )

    assert figures.lookups > 10_000
    assert figures.rotations >= figures.entries, "the entries hardly rotated: nothing was tested"
    assert figures.stale_violations == 0, figures.samples
    assert figures.wrong_values == 0
    assert figures.lookup_errors == 0 and figures.stale_flagged == 0, figures.samples
    assert figures.rotator_errors == 0, figures.samples
    # One read per entry per TTL at most (single-flight), plus the first read of each.
    assert figures.entries <= figures.reader_reads <= figures.entries * (int(figures.window / 1.0) + 1)
    assert problems(figures, rss_bound_mib=None) == []
