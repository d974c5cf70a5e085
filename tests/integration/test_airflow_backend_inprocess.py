"""VaultCatalogBackend called directly (as Airflow's dispatcher calls it), real OpenBao."""

from __future__ import annotations

import json

import pytest

from dlt_vault_provider import (
    ApiKey,
    ApiSecret,
    BasicAuth,
    BearerToken,
    CatalogStore,
    DatabaseSecret,
    OAuth2ClientCredentials,
    ValidationFailed,
)
from tests.conftest import missing, run_async

try:
    from airflow.sdk.definitions.connection import Connection

    from airflow_backend import BackendOptions, VaultCatalogBackend, VaultCatalogBackendError
except ImportError:
    missing("Apache Airflow is not installed: pip install -e '.[test]'")

pytestmark = pytest.mark.integration

DB = DatabaseSecret(
    engine="mysql",
    host="db.internal",
    port=3307,
    database="shop",
    username="loader",
    password="inproc-pw-1",
    options={"ssl": "true"},
)


def backend(bao, workspace, **kwargs) -> VaultCatalogBackend:
    made = VaultCatalogBackend(url=bao.address, token=bao.root_token.reveal(), workspace=workspace, **kwargs)
    made._set_connection_class(Connection)
    return made


def test_database_and_api_entries_become_connections(bao, store, workspace, canary):
    canary("inproc-pw-1")
    store.put("shop_db", DB, expected_version=0)
    store.put(
        "gh", ApiSecret("https://api.github.com", BearerToken(canary("gh-tok-123"))), expected_version=0
    )
    store.put(
        "crm",
        ApiSecret(
            "https://crm.example",
            OAuth2ClientCredentials("https://crm.example/token", "cid", canary("cs-123456"), ("read",)),
        ),
        expected_version=0,
    )
    store.put(
        "old", ApiSecret("https://old.example", BasicAuth("svc", canary("basic-123"))), expected_version=0
    )
    store.put(
        "wx", ApiSecret("https://wx.example", ApiKey("X-Key", canary("wx-key-123"))), expected_version=0
    )
    b = backend(bao, workspace)
    conn = b.get_connection("shop_db")
    assert (conn.conn_type, conn.host, conn.port, conn.schema, conn.login) == (
        "mysql",
        "db.internal",
        3307,
        "shop",
        "loader",
    )
    assert conn.password == "inproc-pw-1" and conn.extra_dejson == {"ssl": "true"}
    gh = b.get_connection("gh")
    assert gh.conn_type == "http" and gh.host == "https://api.github.com"
    assert gh.extra_dejson["Authorization"] == "Bearer gh-tok-123"
    crm = b.get_connection("crm")
    assert (crm.login, crm.password) == ("cid", "cs-123456")
    assert crm.extra_dejson["token_url"] == "https://crm.example/token"
    assert (b.get_connection("old").login, b.get_connection("old").password) == ("svc", "basic-123")
    assert b.get_connection("wx").extra_dejson["X-Key"] == "wx-key-123"
    assert json.loads(b.get_conn_value("shop_db"))["conn_type"] == "mysql"
    assert b.get_connection("nope") is None and b.get_connection("not a name") is None
    from airflow.sdk._shared.secrets_masker import redact

    for value in ("inproc-pw-1", "gh-tok-123", "cs-123456", "basic-123", "wx-key-123"):
        assert redact(f"x {value} y") == "x *** y"
    assert redact(bao.root_token.reveal()) == "***"


def test_native_async_lookups(bao, store, workspace):
    store.put("shop_db", DB, expected_version=0)
    store.put_document("v1", {"value": "async-var"}, expected_version=0, folder="variables")
    b = backend(bao, workspace)

    async def both():
        return await b.aget_connection("shop_db"), await b.aget_variable("v1")

    conn, value = run_async(both)
    assert conn.host == "db.internal" and value == "async-var"


def test_version_pins_extra_workspaces_and_team_segment(bao, admin, store, workspace):
    store.put("shop_db", DB, expected_version=0)
    store.put(
        "shop_db",
        DatabaseSecret(**{**{k: v for k, v in DB.to_vault().items() if k != "kind"}, "host": "new.internal"}),
        expected_version=1,
    )
    assert backend(bao, workspace).get_connection("shop_db").host == "new.internal"
    pinned = backend(bao, workspace, connection_versions='{"shop_db": 1}')
    assert pinned.get_connection("shop_db").host == "db.internal"

    shared = CatalogStore(admin, workspace=workspace + "-shared")
    shared.put("common_db", DB, expected_version=0)
    b = backend(bao, workspace, extra_workspaces=f"{workspace}-shared")
    assert b.get_connection("common_db").host == "db.internal"

    team = CatalogStore(admin, workspace=workspace + "/blue")
    team.put("team_db", DB, expected_version=0)
    t = backend(bao, workspace, team_segment="true")
    assert t.get_connection("team_db", team_name="blue").host == "db.internal"
    assert t.get_connection("team_db", team_name="red") is None


def test_switches_and_config_options(bao, store, workspace):
    store.put_document("v1", {"value": "x"}, expected_version=0, folder="variables")
    store.put_document("core__parallelism", {"value": 8}, expected_version=0, folder="config")
    assert backend(bao, workspace, variables="false").get_variable("v1") is None
    b = backend(bao, workspace)
    assert b.get_config("core__parallelism") == "8"
    assert backend(bao, workspace, config=False).get_config("core__parallelism") is None


def test_malformed_entries_and_bad_kwargs_are_loud(bao, admin, store, workspace, canary):
    canary("broken-pw-99")
    admin.request(
        "POST",
        f"catalog/data/{workspace}/db/broken",
        json={"data": {"engine": "postgresql", "password": "broken-pw-99"}},
    )
    store.put_document("novalue", {"val": 1}, expected_version=0, folder="variables")
    b = backend(bao, workspace)
    with pytest.raises(VaultCatalogBackendError) as caught:
        b.get_connection("broken")
    assert "'host'" in str(caught.value) and "broken-pw-99" not in str(caught.value)
    with pytest.raises(VaultCatalogBackendError, match="no 'value' key"):
        b.get_variable("novalue")
    with pytest.raises(VaultCatalogBackendError, match="colour"):
        VaultCatalogBackend(url=bao.address, colour="red")
    with pytest.raises(ValidationFailed, match="ttl"):
        BackendOptions.from_kwargs({"ttl": "soon"})
    assert BackendOptions.from_kwargs({"ttl": "90", "variables": "no"}).ttl == 90.0


def test_the_backend_is_a_thin_adapter_without_secrets_in_its_repr(bao, workspace):
    b = backend(bao, workspace)
    assert bao.root_token.reveal() not in repr(b)
