"""The resolver against the real OpenBao: counted in the audit log, not in our own counters."""

import threading

import pytest

from dlt_vault_provider import CatalogResolver, DatabaseSecret, EntryNotFound, EntryRef
from tests.conftest import audit_paths

pytestmark = pytest.mark.integration

ENTRY = DatabaseSecret(engine="postgresql", host="db.internal", username="loader", password="resolver-pw-1")


def test_fifty_threads_missing_the_same_entry_make_exactly_one_read(bao, store):
    store.put("orders", ENTRY, expected_version=0)
    resolver = CatalogResolver(store, ttl=60)
    store.get(EntryRef("db", "orders"))  # warm the session (login, mount version)
    ref = EntryRef("db", "orders")
    barrier = threading.Barrier(50)
    results, errors = [], []

    def worker():
        try:
            barrier.wait(10)
            results.append(resolver.get(ref).secret.password.reveal())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    mark = bao.audit_mark()
    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not errors
    assert results == ["resolver-pw-1"] * 50
    reads = audit_paths(bao, mark, "catalog/")
    assert reads == [f"catalog/data/{store.workspace}/db/orders"]


def test_hits_and_misses_are_answered_from_memory(bao, store):
    store.put("orders", ENTRY, expected_version=0)
    resolver = CatalogResolver(store, ttl=60, miss_ttl=60)
    store.get(EntryRef("db", "orders"))
    mark = bao.audit_mark()
    for _ in range(100):
        resolver.get(EntryRef("db", "orders"))
        with pytest.raises(EntryNotFound):
            resolver.get(EntryRef("db", "nothing"))
    assert len(audit_paths(bao, mark, "catalog/")) == 2


def test_invalidate_reads_the_new_version(bao, store):
    store.put("orders", ENTRY, expected_version=0)
    resolver = CatalogResolver(store, ttl=600)
    ref = EntryRef("db", "orders")
    assert resolver.get(ref).version == 1
    store.put(
        "orders",
        DatabaseSecret(engine="postgresql", host="new.internal", username="u", password="resolver-pw-2"),
        expected_version=1,
    )
    assert resolver.get(ref).version == 1  # within the TTL, from memory
    resolver.invalidate(ref)
    assert resolver.get(ref).secret.host == "new.internal"
