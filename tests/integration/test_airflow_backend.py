"""The Airflow secrets backend on a real Airflow 3 (metadata DB on a temporary SQLite),
the real OpenBao and the real PostgreSQL. Each DAG runs with ``dag.test()`` in a fresh
process configured only through the environment, as Airflow would run it."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlt_vault_provider import CatalogStore, Secret
from dlt_vault_provider.devservers import OpenBaoServer
from tests.airflow_support import reader, run_dag

pytestmark = pytest.mark.integration

DAGS = Path(__file__).with_name("airflow_dags") / "catalog_dags.py"


def test_a_task_gets_a_connection_and_queries_postgres(
    bao, admin, store: CatalogStore, items_db, airflow_home, tmp_path, workspace
):
    store.put("orders_pg", items_db, expected_version=0)
    token = reader(admin, workspace)
    mark = bao.audit_mark()
    result = run_dag(
        airflow_home, tmp_path, "query", {"url": bao.address, "workspace": workspace}, VAULT_TOKEN=token
    )
    assert result["rows"] == 5 and result["conn_type"] == "postgres" and result["same"]
    # registered with Airflow's secrets masker: the password and the Vault token
    assert result["masked"] == "password *** in a log line"
    assert result["token_masked"] == "***"
    assert items_db.password.reveal() not in result["output"] and token not in result["output"]
    paths = [r.path for r in bao.audit_requests(mark)]
    # one login check, one listing, one read: 51 lookups of the same conn_id
    assert paths.count(f"catalog/data/{workspace}/db/orders_pg") == 1
    assert [p for p in paths if p.startswith("catalog/")] == [
        f"catalog/metadata/{workspace}/db/",
        f"catalog/data/{workspace}/db/orders_pg",
    ]


def test_kwargs_given_one_by_one_as_strings(bao, admin, store, items_db, airflow_home, tmp_path, workspace):
    store.put("orders_pg", items_db, expected_version=0)
    result = run_dag(
        airflow_home,
        tmp_path,
        "query",
        {},
        VAULT_TOKEN=reader(admin, workspace),
        AIRFLOW__SECRETS__BACKEND_KWARG__URL=bao.address,
        AIRFLOW__SECRETS__BACKEND_KWARG__WORKSPACE=workspace,
        AIRFLOW__SECRETS__BACKEND_KWARG__TTL="120",
        AIRFLOW__SECRETS__BACKEND_KWARG__VARIABLES="false",
    )
    assert result["rows"] == 5


def test_a_task_reads_variables(bao, admin, store, airflow_home, tmp_path, workspace, canary):
    store.put_document(
        "greeting", {"value": canary("hello-variable-1")}, expected_version=0, folder="variables"
    )
    store.put_document("settings", {"value": {"batch": 10}}, expected_version=0, folder="variables")
    result = run_dag(
        airflow_home,
        tmp_path,
        "variable",
        {"url": bao.address, "workspace": workspace},
        VAULT_TOKEN=reader(admin, workspace),
    )
    assert result["value"] == "hello-variable-1"
    assert result["json"] == {"batch": 10}
    assert result["missing"] is None


def test_a_conn_id_not_in_vault_falls_through_to_airflow(
    bao, admin, store, airflow_home, tmp_path, workspace
):
    result = run_dag(
        airflow_home,
        tmp_path,
        "fallthrough",
        {"url": bao.address, "workspace": workspace},
        VAULT_TOKEN=reader(admin, workspace),
        AIRFLOW_CONN_FROM_ENV="postgres://u:p@env-host:5432/db",
    )
    assert result["host"] == "env-host"


def test_a_denied_path_stops_the_lookup(bao, admin, store, items_db, airflow_home, tmp_path, workspace):
    store.put("forbidden_pg", items_db, expected_version=0)
    token = reader(admin, workspace, denied="db/forbidden_pg")
    result = run_dag(
        airflow_home,
        tmp_path,
        "denied",
        {"url": bao.address, "workspace": workspace},
        VAULT_TOKEN=token,
        AIRFLOW_CONN_FORBIDDEN_PG="postgres://x:y@metastore/db",
    )
    assert result["error"].startswith("AirflowSecretsBackendAccessDenied")
    assert f"catalog/data/{workspace}/db/forbidden_pg" in result["error"]
    assert "policy" in result["error"]


def test_vault_stopped_during_the_run(tmp_path, admin, items_db, airflow_home, canary):
    server = OpenBaoServer(tmp_path / "bao")
    server.start()
    try:
        from dlt_vault_provider import VaultSession, VaultSettings

        with VaultSession(VaultSettings(url=server.address, token=server.root_token)) as root:
            root.request("POST", "sys/mounts/catalog", json={"type": "kv", "options": {"version": "2"}})
            own = CatalogStore(root, kv_version=2)
            own.put("orders_pg", items_db, expected_version=0)
            own.put("never_read", items_db, expected_version=0)
        result = run_dag(
            airflow_home,
            tmp_path,
            "outage",
            {"url": server.address, "ttl": 0.5, "stale_ttl": 600},
            VAULT_TOKEN=server.root_token.reveal(),
            VAULT_MAX_RETRIES="1",
            BAO_PID=str(server._process.pid),
            WAIT="1",
        )
    finally:
        server.stop()
    assert result["first"] == result["again"] == items_db.host  # stale-if-error
    assert result["cold"].startswith("VaultCatalogBackendError")
    assert f"Vault at {server.address} is unreachable" in result["cold"]
    assert result["seconds"] < 30  # bounded: never a minute-long hang per lookup


def test_a_dlt_pipeline_inside_an_airflow_task(
    bao, admin, store, items_db, airflow_home, tmp_path, workspace
):
    """Both the backend and the dlt provider are active; dlt's own Airflow provider turns
    its key probes into Variable lookups that reach the backend: answered from memory."""
    store.put("sql_database", items_db, expected_version=0)
    token = reader(admin, workspace)
    mark = bao.audit_mark()
    result = run_dag(
        airflow_home,
        tmp_path,
        "dlt",
        {"url": bao.address, "workspace": workspace},
        VAULT_TOKEN=token,
        VAULT_ADDR=bao.address,
        VAULT__WORKSPACE=workspace,
        DUCKDB_FILE=str(tmp_path / "out.duckdb"),
        PIPELINES_DIR=str(tmp_path / "pipelines"),
    )
    assert result["rows"] == 5
    assert "Vault catalog" in result["providers"]
    traffic = [(r.operation, r.path) for r in bao.audit_requests(mark)]
    reads = {p for op, p in traffic if op == "read" and p.startswith("catalog/")}
    assert reads == {f"catalog/data/{workspace}/db/sql_database"}, traffic
    lists = [p for op, p in traffic if op == "list"]
    assert len(lists) == len(set(lists)), traffic  # each folder listed once
    # one login for the backend (shared by Airflow's instances), one for the dlt provider
    assert [p for _, p in traffic].count("auth/token/lookup-self") == 2, traffic
    assert items_db.password.reveal() not in result["output"]
    _ = Secret  # the Secret type is what keeps values out of reprs here too
