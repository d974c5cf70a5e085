"""TtlCache logic with a fake clock and loader (the real-Vault behaviour is in integration/)."""

import threading
import time

import pytest

from dlt_vault_provider import EntryNotFound, VaultUnavailable
from dlt_vault_provider.resolver import TtlCache


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Loader:
    def __init__(self):
        self.calls = 0
        self.values = {}
        self.fail: Exception | None = None

    def __call__(self, key):
        self.calls += 1
        if self.fail:
            raise self.fail
        if key not in self.values:
            raise EntryNotFound(f"no {key}", path=key)
        return self.values[key]


@pytest.fixture
def parts():
    clock, loader = Clock(), Loader()
    cache = TtlCache(loader, ttl=60, miss_ttl=10, stale_ttl=120, clock=clock)
    return clock, loader, cache


def test_hits_are_cached_for_their_ttl(parts):
    clock, loader, cache = parts
    loader.values["a"] = 1
    assert cache.get("a") == (1, False)
    assert cache.get("a") == (1, False)
    assert loader.calls == 1
    loader.values["a"] = 2
    clock.now += 61
    assert cache.get("a") == (2, False)
    assert loader.calls == 2


def test_the_ttl_counts_from_when_the_read_was_sent(parts):
    """A slow read must not extend a value's life: it was known current only when sent."""
    clock, loader, cache = parts
    loader.values["a"] = 1
    real_load = cache._load

    def slow_load(key):
        clock.now += 30  # the answer arrives 30 s after the read was sent
        return real_load(key)

    cache._load = slow_load
    assert cache.get("a") == (1, False)  # sent at 1000, answered at 1030
    loader.values["a"] = 2
    clock.now = 1000 + 60  # 60 s after the send, 30 s after the answer
    assert cache.get("a") == (2, False)


def test_misses_are_cached_for_the_miss_ttl(parts):
    clock, loader, cache = parts
    for _ in range(3):
        with pytest.raises(EntryNotFound):
            cache.get("x")
    assert loader.calls == 1
    clock.now += 11
    loader.values["x"] = 5
    assert cache.get("x") == (5, False)


def test_stale_if_error_serves_the_last_good_value_within_its_window(parts):
    clock, loader, cache = parts
    loader.values["a"] = 1
    cache.get("a")
    clock.now += 61
    loader.fail = VaultUnavailable("down")
    assert cache.get("a") == (1, True)
    calls = loader.calls
    assert cache.get("a") == (1, True)  # no new Vault call for a few seconds
    assert loader.calls == calls
    clock.now += 6
    assert cache.get("a") == (1, True)
    assert loader.calls == calls + 1
    clock.now = 1000 + 60 + 120 + 1  # past ttl + stale_ttl
    with pytest.raises(VaultUnavailable):
        cache.get("a")
    loader.fail = None
    assert cache.get("a") == (1, False)


def test_stale_never_hides_other_errors_and_misses_are_not_served_stale(parts):
    clock, loader, cache = parts
    loader.values["a"] = 1
    cache.get("a")
    clock.now += 61
    del loader.values["a"]
    with pytest.raises(EntryNotFound):
        cache.get("a")
    loader.fail = VaultUnavailable("down")
    clock.now += 11
    with pytest.raises(VaultUnavailable):
        cache.get("a")


def test_single_flight_under_threads():
    calls = 0
    gate = threading.Event()

    def slow_load(key):
        nonlocal calls
        calls += 1
        gate.wait(5)
        return key.upper()

    cache = TtlCache(slow_load, ttl=60)
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("k"))) for _ in range(50)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(5)
    assert calls == 1
    assert results == [("K", False)] * 50


def test_a_failed_leader_lets_the_next_thread_try():
    attempts = []

    def load(key):
        attempts.append(key)
        if len(attempts) == 1:
            raise VaultUnavailable("blip")
        return 7

    cache = TtlCache(load, ttl=60)
    with pytest.raises(VaultUnavailable):
        cache.get("k")
    assert cache.get("k") == (7, False)


def test_invalidate(parts):
    _, loader, cache = parts
    loader.values["a"] = 1
    cache.get("a")
    loader.values["a"] = 2
    cache.invalidate("a")
    assert cache.get("a") == (2, False)
    cache.invalidate()
    assert len(cache) == 0
