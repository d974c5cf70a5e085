"""Load and soak: many threads resolving many entries through one shared CatalogResolver
while the entries' passwords rotate, against a local OpenBao (loopback only).

- Readers (``--threads``, in this process) loop for ``--seconds``, each picking an entry
  (``--mix``: uniform, or Zipf s=1.1 where a few entries are hot) and calling
  ``resolver.get``.
- A rotator process (``--rotators`` threads, each owning a slice of the rotating entries)
  rewrites the password of ``--rotating`` entries (spread evenly over all of them; default
  200 of 1,000) about every ``--rotate-every`` seconds each, with check-and-set. It runs
  apart so that 200 busy readers do not starve it of the GIL (rotation happens elsewhere
  in real life too), and it writes the moment each version's data write returned into
  shared memory, where the readers look it up.
- Readers and rotator use tokens of their own, so that OpenBao's audit log (not our
  counters) tells their requests apart.

The run fails (exit 1) on any of:

- stale past TTL: a lookup started at t returned version v although version v+1 had
  been written (the ``POST {mount}/data/...`` of its ``put()`` had returned) before
  t - ttl - slack. The slack is 0 by default (``--slack``): the resolver counts a value's
  TTL from when its Vault read was sent, so a value it serves at t was current at some
  moment after t - ttl, and every clock reading on the way (the rotator's after its write
  returned, the reader's before its lookup) errs on the side of no violation;
- a wrong value: a password other than the one written for that entry and version;
- a lookup error, or a value flagged stale (served because Vault was unavailable);
- more reader reads in the audit log than single-flight allows: entries x (window/ttl + 1);
- RSS at the end more than ``--rss-bound-mib`` above RSS at the start.

Latencies go into per-thread log-scale histograms (1 % buckets), not lists, so that
millions of lookups do not grow the RSS being measured.

    python benchmarks/soak_resolver.py [--threads 200] [--entries 1000] [--seconds 120]
        [--ttl 2] [--rotating 200] [--rotate-every 5] [--json figures.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import multiprocessing
import random
import secrets
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from dlt_vault_provider import (
    CatalogResolver,
    CatalogStore,
    DatabaseSecret,
    Entry,
    EntryRef,
    Secret,
    VaultError,
    VaultSession,
    VaultSettings,
)
from dlt_vault_provider.devservers import OpenBaoServer

READER = "soak-reader"
ROTATOR = "soak-rotator"

# Latency histogram: bucket k holds [e^((k-OFFSET)/SCALE), e^((k-OFFSET+1)/SCALE)) seconds.
_SCALE = 1 / math.log(1.01)  # 1 % wide buckets
_FLOOR = 1e-7  # 0.1 us
_OFFSET = -int(math.log(_FLOOR) * _SCALE)
_BUCKETS = _OFFSET + int(math.log(1000.0) * _SCALE) + 2  # up to 1000 s


@dataclass
class Figures:
    """What one soak run measured. Times in seconds unless named otherwise."""

    threads: int
    entries: int
    seconds: float
    ttl: float
    rotating: int
    rotate_every: float
    rotators: int
    mix: str
    window: float = 0.0  # from the audit mark before the readers start to the last join
    lookups: int = 0
    lookups_per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    vault_requests: int = 0
    vault_requests_per_s: float = 0.0
    reader_reads: int = 0
    reader_reads_per_s: float = 0.0
    reader_read_bound: int = 0  # single-flight: entries x (window / ttl + 1)
    rotator_requests: int = 0
    rotator_requests_per_s: float = 0.0
    other_requests: int = 0
    rotations: int = 0
    rotations_per_s: float = 0.0
    rotation_interval_mean: float = 0.0  # per entry, between two of its versions
    rotation_interval_max: float = 0.0
    longest_load: float = 0.0  # the longest Vault read the resolver made
    load_p50_ms: float = 0.0  # the resolver's Vault reads (store.get), as it waited for them
    load_p99_ms: float = 0.0
    slack: float = 0.0
    max_late: float = 0.0  # the most a lookup returned a replaced version past v+1's write + ttl
    late_within_slack: int = 0
    stale_violations: int = 0
    wrong_values: int = 0
    stale_flagged: int = 0
    lookup_errors: int = 0
    rotator_errors: int = 0
    pool_discards: int = 0  # urllib3 "connection pool is full" warnings in this process
    rss_start_mib: float = 0.0
    rss_end_mib: float = 0.0
    rss_peak_mib: float = 0.0
    rss_second_half_mib: float = 0.0  # growth between the samples at half time and at the end of the run
    rss_series: list[tuple[float, float, int]] = field(default_factory=list)  # s, MiB, Python blocks
    samples: list[str] = field(default_factory=list)  # errors and late lookups: paths, never values


def _bucket(seconds: float) -> int:
    return min(_BUCKETS - 1, int(math.log(max(seconds, _FLOOR)) * _SCALE) + _OFFSET)


def password(prefix: str, name: str, version: int) -> str:
    """The password version ``version`` of entry ``name`` gets: it names both."""
    return f"{prefix}-{name}-{version}"


def entry_secret(prefix: str, name: str, version: int) -> DatabaseSecret:
    return DatabaseSecret(
        engine="postgresql",
        host="db.internal",
        username=f"user-{name}",
        password=password(prefix, name, version),
    )


class _TimedStore(CatalogStore):
    """The store the resolver reads through, with its reads timed (and the last one of each
    entry kept, to explain a late lookup)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self.longest = 0.0
        self.histogram = [0] * _BUCKETS
        self.last: dict[str, tuple[float, float, int]] = {}  # name -> last read: sent, done, version

    def get(self, ref: EntryRef, version: int | None = None) -> Entry:
        started = time.monotonic()
        try:
            entry = super().get(ref, version)
        finally:
            done = time.monotonic()
            with self._lock:
                self.longest = max(self.longest, done - started)
                self.histogram[_bucket(done - started)] += 1
        self.last[ref.name] = (started, done, entry.version)
        return entry


@dataclass
class _Run:
    """What the readers share. ``written_at[i * stride + v]`` is when version v of entry i
    was written (its ``put()`` returned), 0.0 before; the rotator process fills it in."""

    refs: list[EntryRef]
    prefix: str
    ttl: float
    written_at: Any  # a shared-memory array of doubles
    stride: int
    store: _TimedStore
    table: list[int] | None
    ends_at: float
    stop: threading.Event


@dataclass
class _Reader:
    """One reader thread's tallies, touched by that thread only."""

    histogram: list[int] = field(default_factory=lambda: [0] * _BUCKETS)
    late: list[int] = field(default_factory=lambda: [0] * _BUCKETS)  # by how much past v+1 + ttl
    latest: float = 0.0
    lookups: int = 0
    worst: float = 0.0
    wrong: int = 0
    stale: int = 0
    errors: int = 0
    samples: list[str] = field(default_factory=list)  # errors
    late_samples: dict[tuple[int, int], tuple[float, str]] = field(default_factory=dict)


class _PoolDiscards(logging.Handler):
    """Counts urllib3's "Connection pool is full, discarding connection" warnings."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "pool is full" in record.getMessage():
            self.count += 1


def rss_mib() -> tuple[float, float]:
    """This process's resident set size and its peak so far (VmRSS, VmHWM), in MiB."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024  # kB
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def run_soak(
    server: OpenBaoServer,
    *,
    workspace: str = "soak",
    mount: str = "catalog",
    threads: int = 200,
    entries: int = 1000,
    seconds: float = 120.0,
    ttl: float = 2.0,
    rotating: int | None = 200,
    rotate_every: float = 5.0,
    rotators: int = 32,
    mix: str = "uniform",
    sample_every: float = 10.0,
    password_prefix: str = "",
    slack: float = 0.0,
    seed: int = 1,
) -> Figures:
    """Seed ``entries`` database entries in ``mount``/``workspace`` (a KV v2 mount that
    exists), then soak them as the module docstring says. Nothing secret is printed;
    passwords are ``<password_prefix>-<name>-<version>``, with a random prefix by default.
    ``rotating``: how many of the entries rotate (None: all)."""
    prefix = password_prefix or "soak-" + secrets.token_hex(6)
    rotating = entries if rotating is None else max(0, min(rotating, entries))
    figures = Figures(threads, entries, seconds, ttl, rotating, rotate_every, rotators, mix, slack=slack)
    names = [f"e{i:04d}" for i in range(entries)]
    stride = int(seconds / rotate_every * 3) + 8  # versions kept per entry; the rotator stops there
    context = multiprocessing.get_context("spawn")
    written_at = context.RawArray("d", entries * stride)
    reader_token, rotator_token = _tokens(server, mount, workspace)
    settings = VaultSettings(url=server.address, renew=False)

    with VaultSession(settings.with_overrides(token=rotator_token)) as writer:
        seeding = CatalogStore(writer, mount=mount, workspace=workspace, kv_version=2)

        def seed_one(i: int) -> None:
            version = seeding.put(
                names[i], entry_secret(prefix, names[i], 1), expected_version=0, changed_by=ROTATOR
            )
            written_at[i * stride + version] = time.monotonic()

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(seed_one, range(entries)))

    go, stop_rotating = context.Event(), context.Event()
    ours, theirs = context.Pipe()
    rotator = context.Process(
        target=_rotator_process,
        args=(settings.with_overrides(token=rotator_token), mount, workspace, prefix, names),
        kwargs={
            "rotating": [k * entries // rotating for k in range(rotating)],
            "rotate_every": rotate_every,
            "threads": rotators,
            "written_at": written_at,
            "stride": stride,
            "go": go,
            "stop": stop_rotating,
            "report": theirs,
        },
        name="soak-rotator",
        daemon=True,
    )
    pool_discards = _PoolDiscards()
    urllib3_log = logging.getLogger("urllib3.connectionpool")
    urllib3_log.addHandler(pool_discards)
    stop = threading.Event()
    workers: list[threading.Thread] = []
    tallies = [_Reader() for _ in range(threads)]
    rotated: dict[str, Any] = {}
    try:
        rotator.start()
        theirs.close()  # the child's end: if the child dies, ours sees EOF
        if not _received(ours, 60, "ready"):
            raise RuntimeError("the rotator process did not start")
        with VaultSession(settings.with_overrides(token=reader_token, max_connections=threads)) as reader:
            store = _TimedStore(reader, mount=mount, workspace=workspace, kv_version=2)
            resolver = CatalogResolver(store, ttl=ttl)
            run = _Run(
                refs=[EntryRef("db", name) for name in names],
                prefix=prefix,
                ttl=ttl,
                written_at=written_at,
                stride=stride,
                store=store,
                table=_pick_table(entries, mix, seed),
                ends_at=0.0,
                stop=stop,
            )
            figures.rss_start_mib = rss_mib()[0]
            figures.rss_series.append((0.0, figures.rss_start_mib, sys.getallocatedblocks()))
            mark = server.audit_mark()
            started = time.monotonic()
            run.ends_at = started + seconds
            readers = [
                threading.Thread(target=_read_loop, args=(resolver, run, tally, seed + t), name=f"reader-{t}")
                for t, tally in enumerate(tallies)
            ]
            sampler = threading.Thread(
                target=_sample_rss, args=(figures.rss_series, started, sample_every, stop), name="rss"
            )
            workers = [*readers, sampler]
            go.set()
            for worker in workers:
                worker.daemon = True
                worker.start()
            for worker in readers:
                worker.join()
            stop.set()
            stop_rotating.set()
            sampler.join()
            rotated = _received(ours, 60) or {}
            figures.window = time.monotonic() - started
            figures.rss_end_mib, figures.rss_peak_mib = rss_mib()
            figures.rss_series.append(
                (round(figures.window, 1), figures.rss_end_mib, sys.getallocatedblocks())
            )
            figures.longest_load = store.longest
            figures.load_p50_ms = _quantile(store.histogram, 0.50) * 1000
            figures.load_p99_ms = _quantile(store.histogram, 0.99) * 1000
    finally:
        stop.set()
        stop_rotating.set()
        urllib3_log.removeHandler(pool_discards)
        for worker in workers:
            worker.join(timeout=30)
        if rotator.pid is not None:
            rotator.join(timeout=30)
            if rotator.is_alive():
                rotator.terminate()
                rotator.join(timeout=5)
        ours.close()
    figures.rotator_errors = int(rotated.get("errors", -1))  # -1: it never reported
    figures.samples = list(rotated.get("samples", []))
    _tally(figures, tallies, written_at, stride)
    figures.pool_discards = pool_discards.count
    _count_requests(figures, server, mark)
    return figures


def _rotator_process(
    settings: VaultSettings,
    mount: str,
    workspace: str,
    prefix: str,
    names: list[str],
    *,
    rotating: list[int],
    rotate_every: float,
    threads: int,
    written_at: Any,
    stride: int,
    go: Any,
    stop: Any,
    report: Connection,
) -> None:
    """The rotator, in a process of its own: ``threads`` threads, each rewriting its slice
    of the ``rotating`` entries (indices) in turn so that each gets a new version every
    ``rotate_every`` seconds (as fast as it can when it falls behind). Version 1 is
    already written."""
    errors: list[str] = []
    lock = threading.Lock()
    with _StampingSession(settings) as session:
        store = CatalogStore(session, mount=mount, workspace=workspace, kv_version=2)

        def rotate(owned: list[int]) -> None:
            interval = rotate_every / len(owned)
            next_at = time.monotonic() + random.random() * interval
            current = dict.fromkeys(owned, 1)
            k = 0
            while not stop.is_set():
                now = time.monotonic()
                if now < next_at:
                    stop.wait(next_at - now)
                    continue
                next_at = max(next_at + interval, now)  # behind: as fast as it can, no burst
                i = owned[k]
                k = (k + 1) % len(owned)
                expected = current[i]
                if expected + 1 >= stride:
                    continue  # as many versions as the history holds
                session.written_at()  # forget the last put's
                try:
                    version = store.put(
                        names[i],
                        entry_secret(prefix, names[i], expected + 1),
                        expected_version=expected,
                        changed_by=ROTATOR,
                    )
                except VaultError as exc:
                    with lock:
                        errors.append(str(exc))
                    version = _recover_version(store, EntryRef("db", names[i]), expected)
                if version > expected:
                    written_at[i * stride + version] = session.written_at() or time.monotonic()
                    current[i] = version

        workers = [
            threading.Thread(target=rotate, args=(owned,), daemon=True)
            for r in range(threads)
            if (owned := rotating[r::threads])
        ]
        report.send("ready")
        go.wait()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    report.send({"errors": len(errors), "samples": errors[:5]})
    report.close()


class _StampingSession(VaultSession):
    """Notes, per thread, when its last data write (``POST {mount}/data/...``) returned:
    the new version is readable from then on, before ``put()`` also writes the metadata."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._local = threading.local()

    def request(self, method: str, path: str, **options: Any) -> dict[str, Any] | None:
        body = super().request(method, path, **options)
        if method.upper() == "POST" and "/data/" in path:
            self._local.written = time.monotonic()
        return body

    def written_at(self) -> float:
        """When this thread's last data write returned (0.0: none since the last call)."""
        written, self._local.written = getattr(self._local, "written", 0.0), 0.0
        return written


def _received(connection: Connection, timeout: float, expected: object = None) -> Any:
    """The next message from the rotator (None if none came, or not the one expected)."""
    try:
        if connection.poll(timeout):
            message = connection.recv()
            return message if expected is None or message == expected else None
    except (EOFError, OSError):
        pass
    return None


def _recover_version(store: CatalogStore, ref: EntryRef, expected: int) -> int:
    """After a failed put: the version now current (the write may have landed)."""
    try:
        return store.current_version(ref) or expected
    except VaultError:
        return expected


def _read_loop(resolver: CatalogResolver, run: _Run, tally: _Reader, seed: int) -> None:
    """One reader: look up, time, check the version against the rotation history."""
    rng = random.Random(seed)
    clock, log_ = time.monotonic, math.log
    refs, written_at, stride, table = run.refs, run.written_at, run.stride, run.table
    histogram, ttl, ends_at, stop = tally.histogram, run.ttl, run.ends_at, run.stop
    expected = [(0, "")] * len(refs)  # per entry: the last version seen and its password
    n = len(refs)
    top = _BUCKETS - 1
    lookups = wrong = stale = 0
    worst = 0.0
    while True:
        i = table[rng.getrandbits(16)] if table is not None else int(rng.random() * n)
        started = clock()
        if started >= ends_at or stop.is_set():
            break
        try:
            entry = resolver.get(refs[i])
        except VaultError as exc:
            tally.errors += 1
            if len(tally.samples) < 3:
                tally.samples.append(str(exc))
            continue
        took = clock() - started
        histogram[min(top, int(log_(took if took > _FLOOR else _FLOOR) * _SCALE) + _OFFSET)] += 1
        if took > worst:
            worst = took
        lookups += 1
        version = entry.version
        replaced_at = written_at[i * stride + version + 1] if version + 1 < stride else 0.0
        if 0.0 < replaced_at < started - ttl:
            _late(run, tally, i, version, started - ttl - replaced_at)
        known = expected[i]
        if known[0] != version:
            known = expected[i] = (version, password(run.prefix, refs[i].name, version))
        if entry.secret.password.reveal() != known[1]:  # type: ignore[union-attr]
            wrong += 1
        if entry.stale:
            stale += 1
    tally.lookups, tally.wrong, tally.stale, tally.worst = lookups, wrong, stale, worst


def _late(run: _Run, tally: _Reader, i: int, version: int, late: float) -> None:
    """A lookup returned ``version`` ``late`` seconds past (v+1's write + ttl): counted,
    and the first few explained by the resolver's last Vault read of that entry."""
    tally.late[_bucket(late)] += 1
    tally.latest = max(tally.latest, late)
    key = (i, version)
    known = tally.late_samples.get(key)
    if (known is None and len(tally.late_samples) >= 20) or (known is not None and known[0] >= late):
        return
    ref = run.refs[i]
    replaced_at = run.written_at[i * run.stride + version + 1]
    sent, done, got = run.store.last.get(ref.name, (0.0, 0.0, 0))
    tally.late_samples[key] = (
        late,
        f"{ref} v{version} returned {late:.3f}s past ttl after v{version + 1} was written; the "
        f"resolver's last read of it was sent {sent - replaced_at:+.3f}s and returned v{got} "
        f"{done - replaced_at:+.3f}s from that write",
    )


def _pick_table(entries: int, mix: str, seed: int) -> list[int] | None:
    """None for uniform picks; for Zipf, 65,536 entry indices drawn with weight 1/rank^1.1."""
    if mix == "uniform":
        return None
    if mix != "zipf":
        raise ValueError(f"unknown mix {mix!r}: uniform or zipf")
    weights = [1 / (rank**1.1) for rank in range(1, entries + 1)]
    order = list(range(entries))
    random.Random(seed).shuffle(order)  # the hot entries spread over the rotator's slices
    return random.Random(seed).choices(order, weights, k=65536)


def _sample_rss(
    series: list[tuple[float, float, int]], started: float, every: float, stop: threading.Event
) -> None:
    """RSS, and the blocks Python's allocator holds: when RSS grows and they do not, the
    growth is outside Python objects (the C heap, thread stacks)."""
    while not stop.wait(every):
        series.append((round(time.monotonic() - started, 1), rss_mib()[0], sys.getallocatedblocks()))


def _tokens(server: OpenBaoServer, mount: str, workspace: str) -> tuple[Secret, Secret]:
    """A read-only token for the readers and a read-write one for the rotator."""
    slug = workspace.replace("/", "-")
    data = f'path "{mount}/data/{workspace}/*"'
    meta = f'path "{mount}/metadata/{workspace}/*"'
    policies = {
        READER: f'{data} {{ capabilities = ["read"] }}',
        ROTATOR: f'{data} {{ capabilities = ["create", "update", "read"] }}\n'
        f'{meta} {{ capabilities = ["create", "update", "read"] }}',
    }
    tokens = []
    settings = VaultSettings(url=server.address, token=server.root_token, renew=False)
    with VaultSession(settings) as root:
        for role, hcl in policies.items():
            policy = f"{role}-{slug}"
            root.request("PUT", f"sys/policies/acl/{policy}", json={"policy": hcl})
            body = root.request(
                "POST", "auth/token/create", json={"policies": [policy], "display_name": role, "ttl": "4h"}
            )
            tokens.append(Secret(body["auth"]["client_token"]))  # type: ignore[index]
    return tokens[0], tokens[1]


def _tally(figures: Figures, tallies: list[_Reader], written_at: Any, stride: int) -> None:
    histogram = [sum(column) for column in zip(*(t.histogram for t in tallies), strict=True)]
    figures.lookups = sum(t.lookups for t in tallies)
    figures.lookups_per_s = figures.lookups / figures.seconds
    figures.p50_ms = _quantile(histogram, 0.50) * 1000
    figures.p99_ms = _quantile(histogram, 0.99) * 1000
    figures.max_ms = max((t.worst for t in tallies), default=0.0) * 1000
    late = [sum(column) for column in zip(*(t.late for t in tallies), strict=True)]
    # A bucket counts as a violation when any of it lies beyond the slack (over-counts by < 1 %).
    first = _bucket(figures.slack) if figures.slack > 0 else 0
    figures.stale_violations = sum(late[first:])
    figures.late_within_slack = sum(late[:first])
    figures.max_late = max((t.latest for t in tallies), default=0.0)
    figures.wrong_values = sum(t.wrong for t in tallies)
    figures.stale_flagged = sum(t.stale for t in tallies)
    figures.lookup_errors = sum(t.errors for t in tallies)
    figures.samples += [s for t in tallies for s in t.samples][:5]
    worst: dict[tuple[int, int], tuple[float, str]] = {}
    for t in tallies:
        for key, (late_by, text) in t.late_samples.items():
            if late_by > figures.slack and late_by > worst.get(key, (0.0, ""))[0]:
                worst[key] = (late_by, text)
    figures.samples += [text for _, text in sorted(worst.values(), reverse=True)[:5]]
    intervals = []
    rotations = 0
    for i in range(figures.entries):  # the entries that do not rotate add nothing
        times = [t for t in written_at[i * stride + 2 : (i + 1) * stride] if t > 0.0]  # from v2
        rotations += len(times)
        intervals += [b - a for a, b in itertools.pairwise(times)]
    figures.rotations = rotations
    figures.rotations_per_s = rotations / (figures.window or figures.seconds)
    figures.rotation_interval_mean = sum(intervals) / len(intervals) if intervals else 0.0
    figures.rotation_interval_max = max(intervals, default=0.0)
    running = [(t, mib) for t, mib, _ in figures.rss_series[:-1]]  # before the threads ended
    if len(running) >= 2:
        half = min(running, key=lambda sample: abs(sample[0] - figures.seconds / 2))
        figures.rss_second_half_mib = running[-1][1] - half[1]


def _quantile(histogram: list[int], q: float) -> float:
    """The latency at quantile ``q``: the geometric middle of its bucket (within 0.5 %)."""
    total = sum(histogram)
    if not total:
        return 0.0
    rank = q * total
    seen = 0
    for k, count in enumerate(histogram):
        seen += count
        if seen >= rank:
            return math.exp((k - _OFFSET + 0.5) / _SCALE)
    return 0.0


def _count_requests(figures: Figures, server: OpenBaoServer, mark: int) -> None:
    """Requests in the audit log since ``mark``, by token (display names are "token-<role>")."""
    records = server.audit_requests(mark)
    figures.vault_requests = len(records)
    figures.reader_reads = sum(1 for r in records if r.display_name.endswith(READER))
    figures.rotator_requests = sum(1 for r in records if r.display_name.endswith(ROTATOR))
    figures.other_requests = figures.vault_requests - figures.reader_reads - figures.rotator_requests
    window = figures.window or figures.seconds
    figures.vault_requests_per_s = figures.vault_requests / window
    figures.reader_reads_per_s = figures.reader_reads / window
    figures.rotator_requests_per_s = figures.rotator_requests / window
    figures.reader_read_bound = figures.entries * (int(window / figures.ttl) + 1)


def problems(figures: Figures, rss_bound_mib: float | None) -> list[str]:
    """Why this run fails, if it does."""
    f = figures
    found = []
    if f.stale_violations:
        found.append(
            f"{f.stale_violations} lookup(s) returned a replaced version more than ttl + "
            f"{f.slack:.3f}s after the new one was written (worst {f.max_late:.3f}s past ttl)"
        )
    if f.wrong_values:
        found.append(f"{f.wrong_values} lookup(s) returned a password not written for that version")
    if f.stale_flagged:
        found.append(f"{f.stale_flagged} lookup(s) were served stale (Vault unavailable)")
    if f.lookup_errors:
        found.append(f"{f.lookup_errors} lookup(s) failed")
    if f.rotator_errors:
        found.append(
            f"{f.rotator_errors} rotation(s) failed" if f.rotator_errors > 0 else "no rotator report"
        )
    if f.reader_reads > f.reader_read_bound:
        found.append(
            f"{f.reader_reads} reader reads in the audit log, more than single-flight allows "
            f"({f.reader_read_bound})"
        )
    growth = f.rss_end_mib - f.rss_start_mib
    if rss_bound_mib is not None and growth > rss_bound_mib:
        found.append(f"RSS grew {growth:.1f} MiB, more than the bound of {rss_bound_mib:g} MiB")
    return found


def report(figures: Figures, address: str, rss_bound_mib: float | None) -> None:
    f = figures
    bound = "-" if rss_bound_mib is None else f"{rss_bound_mib:g}"
    print(f"\nOpenBao {address} (loopback), Python {sys.version.split()[0]}")
    print(
        f"{f.threads} reader threads, {f.entries} entries ({f.mix} mix), {f.seconds:g}s, resolver "
        f"ttl {f.ttl:g}s; a rotator process ({f.rotators} threads) writing a new version of "
        f"{f.rotating} of the entries every {f.rotate_every:g}s each (check-and-set)\n"
    )
    rows = [
        ("reader threads", f"{f.threads}"),
        ("entries", f"{f.entries}"),
        ("seconds (audit window)", f"{f.seconds:g} ({f.window:.1f})"),
        ("resolver ttl s", f"{f.ttl:g}"),
        ("lookups", f"{f.lookups:,}"),
        ("lookups/s", f"{f.lookups_per_s:,.0f}"),
        ("latency p50 ms", f"{f.p50_ms:.4f}"),
        ("latency p99 ms", f"{f.p99_ms:.3f}"),
        ("latency max ms", f"{f.max_ms:.1f}"),
        ("Vault requests (audit log)", f"{f.vault_requests:,}"),
        ("Vault requests/s", f"{f.vault_requests_per_s:,.1f}"),
        ("  reader reads (/s)", f"{f.reader_reads:,} ({f.reader_reads_per_s:,.1f})"),
        ("  reader reads, single-flight bound", f"{f.reader_read_bound:,}"),
        ("  rotator requests (/s)", f"{f.rotator_requests:,} ({f.rotator_requests_per_s:,.1f})"),
        ("  other requests", f"{f.other_requests:,}"),
        ("rotating entries", f"{f.rotating}"),
        ("rotations (/s)", f"{f.rotations:,} ({f.rotations_per_s:,.1f})"),
        (
            "rotation interval s, mean / max",
            f"{f.rotation_interval_mean:.2f} / {f.rotation_interval_max:.2f}",
        ),
        ("resolver's Vault reads ms, p50 / p99", f"{f.load_p50_ms:.1f} / {f.load_p99_ms:.1f}"),
        ("longest resolver read s", f"{f.longest_load:.3f}"),
        ("staleness slack s", f"{f.slack:g}"),
        ("lookups past ttl, within slack (worst s)", f"{f.late_within_slack:,} ({f.max_late:.3f})"),
        ("stale-past-TTL violations", f"{f.stale_violations:,}"),
        ("wrong-value violations", f"{f.wrong_values:,}"),
        ("served stale (Vault down) / errors", f"{f.stale_flagged:,} / {f.lookup_errors:,}"),
        ("rotation errors", f"{f.rotator_errors}"),
        ("urllib3 pool-full discards", f"{f.pool_discards:,}"),
        ("RSS MiB start / end / peak", f"{f.rss_start_mib:.1f} / {f.rss_end_mib:.1f} / {f.rss_peak_mib:.1f}"),
        ("RSS growth MiB (bound)", f"{f.rss_end_mib - f.rss_start_mib:+.1f} ({bound})"),
        ("RSS growth MiB in the second half", f"{f.rss_second_half_mib:+.1f}"),
    ]
    width = max(len(name) for name, _ in rows)
    header = f"{'figure':<{width}}  {'value':>24}"
    print(header)
    print("-" * len(header))
    for name, value in rows:
        print(f"{name:<{width}}  {value:>24}")
    print("\nRSS MiB (Python blocks, thousands) over time:")
    print("  " + ", ".join(f"{t:g}s {mib:.1f} ({blocks / 1000:.0f}k)" for t, mib, blocks in f.rss_series))
    for sample in f.samples:
        print(f"  {sample}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=200, help="reader threads")
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--ttl", type=float, default=2.0, help="the resolver's TTL")
    parser.add_argument("--rotating", type=int, default=200, help="how many of the entries rotate")
    parser.add_argument(
        "--rotate-every", type=float, default=5.0, help="seconds between two versions of a rotating entry"
    )
    parser.add_argument("--rotators", type=int, default=32, help="threads in the rotator process")
    parser.add_argument("--mix", choices=("uniform", "zipf"), default="uniform")
    parser.add_argument("--sample-every", type=float, default=10.0, help="seconds between RSS samples")
    parser.add_argument("--rss-bound-mib", type=float, default=50.0, help="allowed RSS growth, start to end")
    parser.add_argument(
        "--slack", type=float, default=0.0, help="seconds a replaced version may outlive ttl (see above)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # counted in the table instead, one line per run
        handler.addFilter(lambda record: "pool is full" not in record.getMessage())

    with tempfile.TemporaryDirectory(prefix="soak-bao-") as work, OpenBaoServer(Path(work)) as server:
        settings = VaultSettings(url=server.address, token=server.root_token, renew=False)
        with VaultSession(settings) as admin:
            admin.request("POST", "sys/mounts/catalog", json={"type": "kv", "options": {"version": "2"}})
        figures = run_soak(
            server,
            threads=args.threads,
            entries=args.entries,
            seconds=args.seconds,
            ttl=args.ttl,
            rotating=args.rotating,
            rotate_every=args.rotate_every,
            rotators=args.rotators,
            mix=args.mix,
            sample_every=args.sample_every,
            slack=args.slack,
        )
    report(figures, server.address, args.rss_bound_mib)
    if args.json:
        args.json.write_text(json.dumps(asdict(figures), indent=2) + "\n", encoding="utf-8")
    found = problems(figures, args.rss_bound_mib)
    for problem in found:
        print(f"FAIL: {problem}")
    if not found:
        print("\nPASS: no stale value past its TTL, no wrong value, no error, RSS within its bound")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
