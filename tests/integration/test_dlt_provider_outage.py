"""Vault going down in the middle of a run, seen through the provider dlt calls."""

import time

import pytest

from dlt_vault_provider import (
    CatalogResolver,
    CatalogStore,
    DatabaseSecret,
    VaultCatalogProvider,
    VaultSession,
    VaultSettings,
    VaultUnavailable,
)
from dlt_vault_provider.devservers import OpenBaoServer
from tests.conftest import missing

pytestmark = pytest.mark.integration

ENTRY = DatabaseSecret(engine="postgresql", host="db.internal", username="u", password="outage-pw-123")


@pytest.fixture
def own_bao(tmp_path):
    server = OpenBaoServer(tmp_path / "bao")
    try:
        server.start()
    except FileNotFoundError as exc:
        missing(str(exc))
    yield server
    server.stop()


def test_resolved_values_keep_working_and_a_cold_miss_is_loud(own_bao, canary):
    canary("outage-pw-123")
    settings = VaultSettings(
        url=own_bao.address,
        token=own_bao.root_token,
        renew=False,
        connect_timeout=1,
        read_timeout=2,
        deadline=3,
        max_attempts=2,
    )
    with VaultSession(settings) as session:
        session.request("POST", "sys/mounts/catalog", json={"type": "kv", "options": {"version": "2"}})
        store = CatalogStore(session, kv_version=2)
        store.put("orders", ENTRY, expected_version=0)
        store.put("other", ENTRY, expected_version=0)
        provider = VaultCatalogProvider(CatalogResolver(store, ttl=0.3, stale_ttl=60))

        value, key = provider.get_value("credentials", object, None, "sources", "orders")
        assert value.endswith("@db.internal:5432") and key == "sources.orders.credentials"
        assert provider.get_value("chunk_size", int, None, "sources", "orders")[0] is None

        own_bao.stop()
        time.sleep(0.4)  # past the TTL: every cached value is now stale
        value, _ = provider.get_value("credentials", object, None, "sources", "orders")
        assert "outage-pw-123" in value  # the last good value, still served
        assert "stale" in provider.get_value_location("credentials", None, "sources", "orders")
        # a key nobody set is still answered from the remembered name list
        assert provider.get_value("chunk_size", int, None, "sources", "orders")[0] is None
        # an entry never read before cannot be served: the core's error, not "not found"
        with pytest.raises(VaultUnavailable) as caught:
            provider.get_value("credentials", object, None, "sources", "other")
        assert own_bao.address in str(caught.value) and "unreachable" in str(caught.value)
