"""Faults seen through every consumer: the core resolver, the dlt provider, the Airflow
backend and the form, each behind its own fault proxy to the real OpenBao."""

from __future__ import annotations

import logging
import time

import pytest

from tests.conftest import missing
from tests.faultproxy import SCHEDULING_SLACK
from tests.outage_drill import ENTRY, TRANSPORT, consumers, drill_all, table

pytestmark = pytest.mark.integration

try:
    import airflow  # noqa: F401
    import starlette  # noqa: F401
except ImportError:
    missing("Airflow and the form's packages are needed: pip install -e '.[test]'")

ALL = ("core", "dlt", "airflow", "form")


@pytest.fixture
def vault_port(bao, store, canary) -> int:
    canary(ENTRY.password)
    store.put("orders", ENTRY, expected_version=0)
    return int(bao.address.rsplit(":", 1)[1])


def test_a_30_second_outage_is_loud_bounded_and_not_hammered(vault_port, bao, workspace):
    with consumers(vault_port, bao.root_token, workspace, ALL) as made:
        results = drill_all(made, outage=30.0, mode="down")
    print(table(results, 30.0, "down"))
    for r in results:
        assert r.calls > 300, r  # the consumer kept calling, and calls ended fast
        assert r.failures == r.calls, r  # no stale serving here: each call says Vault is gone
        assert r.slowest <= TRANSPORT["deadline"] + SCHEDULING_SLACK, r
        # 5 failed calls open the breaker; then one probe per cooldown (1, 2, 4, 8, 16 s).
        assert r.reached_vault <= 60, r
        assert r.recovered_after is not None and r.recovered_after <= 31.0, r


def test_a_hanging_vault_costs_each_call_at_most_its_deadline(vault_port, bao, workspace):
    with consumers(vault_port, bao.root_token, workspace, ALL) as made:
        results = drill_all(made, outage=4.0, mode="stall")
    print(table(results, 4.0, "stall"))
    for r in results:
        assert r.calls >= 1 and r.failures == r.calls, r
        assert r.slowest <= TRANSPORT["deadline"] + SCHEDULING_SLACK, r
        assert r.recovered_after is not None, r
    errors = {r.name: r.errors for r in results}
    assert errors["core resolver"] == {"VaultUnavailable"}
    assert errors["dlt provider"] == {"VaultUnavailable"}
    assert errors["Airflow backend"] == {"VaultCatalogBackendError"}  # Airflow stops on it
    assert errors["form"] == {"RuntimeError"}  # a 503 page, see below


def test_the_form_says_vault_is_unreachable_within_the_deadline(vault_port, bao, workspace):
    with consumers(vault_port, bao.root_token, workspace, ("form",)) as (form,):
        form.proxy.mode = "stall"
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="503"):
            form.call()
        assert time.monotonic() - started <= TRANSPORT["deadline"] + SCHEDULING_SLACK


def test_the_airflow_backend_serves_stale_only_within_its_window_and_says_so(
    vault_port, bao, workspace, caplog
):
    from airflow.sdk.definitions.connection import Connection

    from airflow_backend import VaultCatalogBackend, VaultCatalogBackendError
    from tests.faultproxy import FaultProxy

    with FaultProxy(vault_port) as proxy:
        backend = VaultCatalogBackend(
            url=proxy.address,
            token=bao.root_token.reveal(),
            workspace=workspace,
            ttl="0.3",
            stale_ttl="2",
            deadline="2",
            max_attempts="1",
        )
        backend._set_connection_class(Connection)
        try:
            fresh = backend.get_connection("orders")
            assert fresh.password == ENTRY.password.reveal()
            proxy.mode = "down"
            time.sleep(0.4)  # past the TTL
            with caplog.at_level(logging.WARNING):
                stale = backend.get_connection("orders")
            assert stale.password == fresh.password and stale.login == "drill"
            assert "serving a stale value for" in caplog.text and f"{workspace}/db/orders" in caplog.text
            time.sleep(2.2)  # past TTL + stale window
            with pytest.raises(VaultCatalogBackendError, match=r"unreachable|circuit open"):
                backend.get_connection("orders")
        finally:
            backend.session.close()


def test_the_dlt_provider_serves_stale_only_within_its_window_and_says_so(vault_port, bao, workspace, caplog):
    from dlt_vault_provider import (
        CatalogResolver,
        CatalogStore,
        VaultCatalogProvider,
        VaultSession,
        VaultSettings,
        VaultUnavailable,
    )
    from tests.faultproxy import FaultProxy

    with FaultProxy(vault_port) as proxy:
        settings = VaultSettings(
            url=proxy.address, token=bao.root_token, renew=False, deadline=2, max_attempts=1
        )
        with VaultSession(settings) as session:
            resolver = CatalogResolver(CatalogStore(session, workspace=workspace), ttl=0.3, stale_ttl=2)
            provider = VaultCatalogProvider(resolver)
            fresh, _ = provider.get_value("credentials", object, None, "sources", "orders")
            assert ENTRY.password.reveal() in fresh
            proxy.mode = "down"
            time.sleep(0.4)  # past the TTL
            with caplog.at_level(logging.WARNING):
                stale, _ = provider.get_value("credentials", object, None, "sources", "orders")
            assert stale == fresh
            assert "stale: Vault unavailable" in provider.get_value_location(
                "credentials", None, "sources", "orders"
            )
            assert "serving a stale value for" in caplog.text and f"{workspace}/db/orders" in caplog.text
            time.sleep(2.2)  # past TTL + stale window
            with pytest.raises(VaultUnavailable):
                provider.get_value("credentials", object, None, "sources", "orders")
