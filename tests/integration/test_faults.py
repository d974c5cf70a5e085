"""Faults between the client and the real OpenBao, through a fault-injecting proxy:
every call ends by its deadline, retries are bounded, a dead Vault is not hammered."""

from __future__ import annotations

import itertools
import time

import pytest

from dlt_vault_provider import (
    CatalogStore,
    DatabaseSecret,
    EntryRef,
    VaultSession,
    VaultSettings,
    VaultUnavailable,
)
from tests.faultproxy import SCHEDULING_SLACK, FaultProxy

pytestmark = pytest.mark.integration

ENTRY = DatabaseSecret(engine="postgresql", host="h", username="u", password="fault-pw-1")


@pytest.fixture
def proxied(bao, store, workspace):
    store.put("orders", ENTRY, expected_version=0)
    port = int(bao.address.rsplit(":", 1)[1])
    with FaultProxy(port) as proxy:
        settings = VaultSettings(
            url=proxy.address,
            token=bao.root_token,
            renew=False,
            connect_timeout=1,
            read_timeout=1,
            deadline=2.5,
            max_attempts=3,
            backoff=0.05,
            max_backoff=0.2,
        )
        with VaultSession(settings) as session:
            client = CatalogStore(session, workspace=workspace, kv_version=2)
            assert client.get(EntryRef("db", "orders")).version == 1  # through the proxy
            yield proxy, client, settings


@pytest.mark.parametrize("mode", ["stall", "drip", "reset", "cut", "down"])
def test_every_call_ends_by_its_deadline(proxied, mode):
    proxy, client, settings = proxied
    proxy.mode = mode
    started = time.monotonic()
    with pytest.raises(VaultUnavailable) as caught:
        client.get(EntryRef("db", "orders"))
    took = time.monotonic() - started
    assert took < settings.deadline + SCHEDULING_SLACK, f"{mode}: the call took {took:.1f}s"
    assert proxy.address in str(caught.value)
    assert proxy.connections[mode] <= settings.max_attempts  # bounded retries
    assert "fault-pw-1" not in str(caught.value)


def test_503_and_429_are_retried_a_bounded_number_of_times(proxied):
    proxy, client, settings = proxied
    for mode in ("http503", "http429"):
        proxy.mode = mode
        with pytest.raises(VaultUnavailable, match="after 3 attempt"):
            client.get(EntryRef("db", "orders"))
        assert proxy.connections[mode] == settings.max_attempts


def test_a_dead_vault_is_not_hammered_and_recovery_is_automatic(proxied):
    proxy, client, settings = proxied
    proxy.mode = "down"
    calls = 0
    ends = time.monotonic() + 5
    while time.monotonic() < ends:  # a busy consumer: a call every 20 ms for 5 s
        calls += 1
        with pytest.raises(VaultUnavailable):
            client.get(EntryRef("db", "orders"))
        time.sleep(0.02)
    reached = proxy.connections["down"]
    print(f"{calls} calls during a 5 s outage, {reached} connection attempts reached Vault")
    assert calls > 50 and reached <= settings.breaker_threshold * settings.max_attempts + 10
    proxy.mode = "pass"
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:  # the breaker lets one call through per cooldown
        try:
            assert client.get(EntryRef("db", "orders")).version == 1
            break
        except VaultUnavailable:
            time.sleep(0.2)
    else:
        pytest.fail("the client did not recover after Vault came back")


def test_retries_are_jittered_and_capped(bao, store, workspace):
    """The pauses between attempts (seen by the proxy) differ from call to call and never
    exceed the cap: many clients retrying together do not retry in lockstep."""
    store.put("orders", ENTRY, expected_version=0)
    with FaultProxy(int(bao.address.rsplit(":", 1)[1])) as proxy:
        settings = VaultSettings(
            url=proxy.address,
            token=bao.root_token,
            renew=False,
            max_attempts=4,
            backoff=0.1,
            max_backoff=0.3,
            deadline=5,
            breaker_threshold=1000,
        )
        with VaultSession(settings) as session:
            client = CatalogStore(session, workspace=workspace, kv_version=2)
            proxy.mode = "http503"
            gaps = []
            for _ in range(8):
                first = len(proxy.arrivals)
                with pytest.raises(VaultUnavailable, match="after 4 attempt"):
                    client.get(EntryRef("db", "orders"))
                times = proxy.arrivals[first:]
                assert len(times) == 4
                gaps += [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) <= 1.0, gaps  # capped at 0.3 s (generous slack: a shared machine)
    assert len({round(g, 2) for g in gaps}) >= 10, gaps  # spread, not one fixed schedule


def test_latency_below_the_read_timeout_is_only_slower_and_above_it_ends_by_the_deadline(proxied):
    proxy, client, settings = proxied
    proxy.mode, proxy.latency = "slow", 0.3
    assert client.get(EntryRef("db", "orders")).version == 1  # slow, answered
    proxy.latency = 30.0  # far past read_timeout: every attempt times out
    started = time.monotonic()
    with pytest.raises(VaultUnavailable):
        client.get(EntryRef("db", "orders"))
    assert time.monotonic() - started < settings.deadline + SCHEDULING_SLACK
    assert proxy.connections["slow"] <= 1 + settings.max_attempts
