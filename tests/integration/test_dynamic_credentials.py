"""Short-lived database users from OpenBao's database secrets engine, with the real
PostgreSQL: leased once per process, renewed, replaced at max TTL, revoked at the end."""

from __future__ import annotations

import time
from dataclasses import replace

import psycopg
import pytest

from dlt_vault_provider import CatalogResolver, DatabaseSecret, EntryRef
from dlt_vault_provider.vault.database_engine import (
    configure_postgres,
    create_dynamic_role,
    create_static_role,
)
from tests.airflow_support import run_dag
from tests.integration.test_dlt_provider import run

pytestmark = pytest.mark.integration


def roles(pg, prefix: str = "v-") -> set[str]:
    with psycopg.connect(pg.url().reveal()) as conn:
        return {
            r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (prefix + "%",))
        }


@pytest.fixture
def engine(admin, pg, items_db, workspace):
    """The engine at a mount of this test's own, connected to the items database."""
    mount = f"db-{workspace}"
    configure_postgres(
        admin,
        mount=mount,
        connection="pg",
        host=pg.host,
        port=pg.port,
        database=items_db.database,
        username="postgres",
        password=pg.password,
    )
    create_dynamic_role(admin, mount=mount, role="reader", connection="pg", default_ttl="1h", max_ttl="2h")
    return mount


def dynamic_entry(items_db, mount, role="reader"):
    return replace(items_db, username="", password="", credentials="dynamic", role=role, secrets_mount=mount)


def query(entry: DatabaseSecret) -> int:
    with psycopg.connect(
        host=entry.host,
        port=entry.port,
        dbname=entry.database,
        user=entry.username,
        password=entry.password.reveal(),
        connect_timeout=5,
    ) as conn:
        return conn.execute("SELECT count(*) FROM items").fetchone()[0]


def test_one_lease_per_process_revoked_at_the_end(bao, admin, store, pg, items_db, engine):
    store.put("orders_pg", dynamic_entry(items_db, engine), expected_version=0)
    before = roles(pg)
    resolver = CatalogResolver(store)
    mark = bao.audit_mark()
    first = resolver.get(EntryRef("db", "orders_pg")).secret
    for _ in range(20):
        assert resolver.get(EntryRef("db", "orders_pg")).secret.username == first.username
    assert query(first) == 5
    assert roles(pg) - before == {first.username}
    resolver.close()
    assert roles(pg) - before == set()  # revoked: the user is gone
    paths = [r.path for r in bao.audit_requests(mark)]
    assert paths.count(f"{engine}/creds/reader") == 1
    assert paths.count("sys/leases/revoke") == 1


def test_a_dlt_run_with_a_dynamic_user_leaves_no_user_behind(
    bao, store, pg, items_db, engine, admin, tmp_path, workspace
):
    admin.request(
        "PUT",
        f"sys/policies/acl/dyn-{workspace}",
        json={
            "policy": f'''
path "catalog/data/{workspace}/*" {{ capabilities = ["read"] }}
path "catalog/metadata/{workspace}/*" {{ capabilities = ["list"] }}
path "{engine}/creds/reader" {{ capabilities = ["read"] }}
path "sys/leases/renew" {{ capabilities = ["update"] }}
path "sys/leases/revoke" {{ capabilities = ["update"] }}
'''
        },
    )
    token = admin.request("POST", "auth/token/create", json={"policies": [f"dyn-{workspace}"], "ttl": "1h"})[
        "auth"
    ]["client_token"]
    store.put("sql_database", dynamic_entry(items_db, engine), expected_version=0)
    before = roles(pg)
    for scenario, ok in (("sql", True), ("sql_raises_midway", False)):
        mark = bao.audit_mark()
        outcome = run(scenario, tmp_path / scenario, bao, workspace, token)
        assert outcome["ok"] is ok, outcome.get("error")
        if ok:
            assert outcome["rows"] == 5
        paths = [r.path for r in bao.audit_requests(mark)]
        assert paths.count(f"{engine}/creds/reader") == 1  # one lease for the whole run
        assert paths.count("sys/leases/revoke") == 1  # given back at exit, even after a failure
        assert roles(pg) - before == set()


def test_renewed_before_expiry_and_replaced_at_max_ttl(bao, admin, store, pg, items_db, engine):
    create_dynamic_role(admin, mount=engine, role="short", connection="pg", default_ttl="3s", max_ttl="7s")
    store.put("short_pg", dynamic_entry(items_db, engine, "short"), expected_version=0)
    resolver = CatalogResolver(store)
    replaced = []
    resolver.leases.on_replaced(lambda role, user: replaced.append((role, user)))
    mark = bao.audit_mark()
    users = set()
    try:
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:  # a run longer than the max TTL
            entry = resolver.get(EntryRef("db", "short_pg")).secret
            users.add(entry.username)
            assert query(entry) == 5  # every query succeeds, through renewals and replacement
            time.sleep(0.5)
    finally:
        resolver.close()
    paths = [r.path for r in bao.audit_requests(mark)]
    assert paths.count("sys/leases/renew") >= 1
    assert replaced and replaced[0][0] == f"{engine}/short"
    assert len(users) >= 2  # new credentials after the max TTL


def test_a_static_role_rotated_during_a_run_is_picked_up(admin, store, pg, items_db, engine, workspace):
    name = f"static_{workspace.replace('-', '_')}"
    with psycopg.connect(pg.url(items_db.database).reveal(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE \"{name}\" LOGIN PASSWORD 'initial-pw'")
        conn.execute(f'GRANT SELECT ON items TO "{name}"')
    create_static_role(
        admin, mount=engine, role="fixed", connection="pg", username=name, rotation_period="5s"
    )
    store.put(
        "static_pg",
        replace(items_db, username="", password="", credentials="static", role="fixed", secrets_mount=engine),
        expected_version=0,
    )
    resolver = CatalogResolver(store)
    passwords = set()
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline:  # across at least one rotation
        entry = resolver.get(EntryRef("db", "static_pg")).secret
        assert entry.username == name
        passwords.add(entry.password.reveal())
        assert query(entry) == 5
        time.sleep(0.5)
    assert len(passwords) >= 2


def test_an_airflow_task_gets_a_dynamic_user_revoked_when_it_ends(
    bao, admin, store, pg, items_db, engine, airflow_home, tmp_path, workspace
):
    store.put("orders_pg", dynamic_entry(items_db, engine), expected_version=0)
    before = roles(pg)
    mark = bao.audit_mark()
    result = run_dag(
        airflow_home,
        tmp_path,
        "query",
        {"url": bao.address, "workspace": workspace},
        VAULT_TOKEN=bao.root_token.reveal(),
    )
    assert result["rows"] == 5 and result["same"]
    paths = [r.path for r in bao.audit_requests(mark)]
    assert paths.count(f"{engine}/creds/reader") == 1  # 51 lookups, one lease
    assert paths.count("sys/leases/revoke") == 1
    assert roles(pg) - before == set()


CHILD = """
import sys, time
from dlt_vault_provider import CatalogResolver, CatalogStore, EntryRef, VaultSession, VaultSettings
session = VaultSession(VaultSettings(url=sys.argv[1], token=sys.argv[2]))
entry = CatalogResolver(CatalogStore(session, workspace=sys.argv[3])).get(EntryRef("db", "short"))
print(entry.secret.username, flush=True)
time.sleep(600)
"""


def test_a_killed_process_leaves_a_lease_that_vault_expires_at_its_ttl(
    bao, admin, store, pg, items_db, engine, workspace
):
    import signal
    import subprocess
    import sys

    create_dynamic_role(admin, mount=engine, role="kill", connection="pg", default_ttl="4s", max_ttl="4s")
    store.put("short", dynamic_entry(items_db, engine, "kill"), expected_version=0)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, bao.address, bao.root_token.reveal(), workspace],
        stdout=subprocess.PIPE,
        text=True,
    )
    username = child.stdout.readline().strip()
    assert username in roles(pg)
    killed_at = time.monotonic()
    child.send_signal(signal.SIGKILL)  # no atexit, no revocation: only Vault's expiry is left
    child.wait(10)
    while username in roles(pg) and time.monotonic() - killed_at < 60:
        time.sleep(0.25)
    gone_after = time.monotonic() - killed_at
    assert username not in roles(pg)
    print(f"lease of a SIGKILLed process expired {gone_after:.1f}s after the kill (TTL 4s)")
    assert gone_after < 4 + 20  # at its TTL, plus Vault's revocation work


def test_a_new_login_takes_the_leases_again_under_the_new_token(
    bao, admin, store, pg, items_db, engine, workspace
):
    """Leases die with the token that made them: after a re-login, lease again."""
    from dlt_vault_provider import CatalogStore, UserpassAuth, VaultSession, VaultSettings
    from tests.conftest import make_policy, make_user

    policy = make_policy(
        admin,
        f"lease-{workspace}",
        f'''
path "catalog/*" {{ capabilities = ["read", "list"] }}
path "{engine}/creds/reader" {{ capabilities = ["read"] }}
path "sys/leases/*" {{ capabilities = ["update"] }}
''',
    )
    password = make_user(admin, f"lease-{workspace}", [policy])
    store.put("orders_pg", dynamic_entry(items_db, engine), expected_version=0)
    before = roles(pg)
    with VaultSession(
        VaultSettings(url=bao.address, renew=False), UserpassAuth(f"lease-{workspace}", password)
    ) as session:
        resolver = CatalogResolver(CatalogStore(session, workspace=workspace, kv_version=2))
        first = resolver.get(EntryRef("db", "orders_pg")).secret.username
        admin.request("POST", "auth/token/revoke", json={"token": session._state.token.reveal()})
        resolver.invalidate()
        second = resolver.get(EntryRef("db", "orders_pg")).secret
        assert second.username != first and query(second) == 5
        resolver.close()
    assert roles(pg) - before == set()
