"""dlt pipelines resolve their credentials from the catalog: real OpenBao, real PostgreSQL,
real dlt, each pipeline in a fresh process configured only through the environment."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from collections import Counter
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from dlt_vault_provider import ApiKey, ApiSecret, CatalogStore, DatabaseSecret, Secret
from dlt_vault_provider.devservers import EmbeddedPostgres, OpenBaoServer, clean_environ

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).with_name("dlt_scenarios.py")


@pytest.fixture
def source_db(pg: EmbeddedPostgres, workspace: str, canary) -> DatabaseSecret:
    """A database of its own with 5 rows in ``items``, and a login role for it."""
    database, role = f"src_{workspace.replace('-', '_')}", f"loader_{workspace.replace('-', '_')}"
    password = Secret("pw-" + uuid.uuid4().hex + "@:/?#%+ é")
    canary(password)
    with psycopg.connect(pg.url().reveal(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password.reveal())
            )
        )
    with psycopg.connect(pg.url(database).reveal(), autocommit=True) as conn:
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 5) g")
        conn.execute(sql.SQL("GRANT ALL ON SCHEMA public TO {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT SELECT ON items TO {}").format(sql.Identifier(role)))
        conn.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(database), sql.Identifier(role))
        )
    return DatabaseSecret(
        engine="postgresql", host=pg.host, port=pg.port, database=database, username=role, password=password
    )


@pytest.fixture
def reader_token(admin, workspace) -> str:
    """A token whose policy reads this workspace's catalog and nothing else."""
    admin.request(
        "PUT",
        f"sys/policies/acl/dlt-{workspace}",
        json={
            "policy": f"""
path "catalog/data/{workspace}/*" {{ capabilities = ["read"] }}
path "catalog/metadata/{workspace}/*" {{ capabilities = ["list"] }}
"""
        },
    )
    body = admin.request("POST", "auth/token/create", json={"policies": [f"dlt-{workspace}"], "ttl": "1h"})
    return body["auth"]["client_token"]


def run(
    scenario: str,
    workdir: Path,
    bao: OpenBaoServer,
    workspace: str,
    token: str,
    config_toml: str = "",
    **env_extra: str,
) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    if config_toml:
        (workdir / ".dlt").mkdir(exist_ok=True)
        (workdir / ".dlt" / "config.toml").write_text(config_toml)
    env = clean_environ(
        VAULT_ADDR=bao.address,
        VAULT_TOKEN=token,
        VAULT__WORKSPACE=workspace,
        RUNTIME__LOG_LEVEL="DEBUG",
        HOME=str(workdir),
    )
    env.update(env_extra)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), scenario, str(workdir)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr[-3000:]
    outcome = json.loads(lines[-1])
    outcome["stdout"], outcome["stderr"] = result.stdout, result.stderr
    outcome["log"] = (workdir / "run.log").read_text(errors="replace")
    return outcome


def assert_no_secret(outcome: dict, *secrets: Secret | str) -> None:
    for secret in secrets:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        for part in ("trace", "trace_repr", "stdout", "stderr", "log", "error", "traceback"):
            assert value not in str(outcome.get(part, "")), f"secret found in {part}"


def catalog_traffic(bao: OpenBaoServer, mark: int, workspace: str) -> Counter:
    """(operation, path) of every request after ``mark``: catalog paths and logins."""
    return Counter((r.operation, r.path) for r in bao.audit_requests(mark))


def assert_budget(traffic: Counter, workspace: str, used: set[str]) -> None:
    """The round-trip budget: a token lookup, at most one LIST per catalog folder
    (db/, api/, dlt/), and exactly one read per entry used. Nothing else."""
    reads = {p for (op, p) in traffic if op == "read" and p.startswith("catalog/data/")}
    assert reads == {f"catalog/data/{workspace}/{u}" for u in used}, traffic
    assert all(n == 1 for (op, p), n in traffic.items() if p.startswith("catalog/")), traffic
    lists = [p for (op, p) in traffic if op == "list"]
    allowed = {f"catalog/metadata/{workspace}/{f}/" for f in ("db", "api", "dlt")}
    assert set(lists) <= allowed, traffic
    others = [p for (op, p) in traffic if not p.startswith("catalog/")]
    assert others == ["auth/token/lookup-self"], traffic


def test_sql_database_to_duckdb_with_a_convention_named_entry(
    bao, store: CatalogStore, source_db, reader_token, tmp_path, workspace
):
    store.put("sql_database", source_db, expected_version=0)
    mark = bao.audit_mark()
    outcome = run("sql", tmp_path, bao, workspace, reader_token)
    assert outcome["ok"], outcome.get("error")
    assert outcome["rows"] == 5
    assert f"catalog/{workspace}/db/sql_database (version 1)" in outcome["trace"]
    assert (
        "`sources.sql_database.sql_database.credentials` = <secret> from `Vault catalog`" in outcome["trace"]
    )
    assert_no_secret(outcome, source_db.password, reader_token)
    assert_budget(catalog_traffic(bao, mark, workspace), workspace, {"db/sql_database"})


def test_the_same_with_a_binding(bao, store, source_db, reader_token, tmp_path, workspace):
    store.put("orders_pg", source_db, expected_version=0)
    mark = bao.audit_mark()
    outcome = run(
        "sql",
        tmp_path,
        bao,
        workspace,
        reader_token,
        config_toml=('[vault.bindings]\n"sources.sql_database" = "db/orders_pg"\n'),
    )
    assert outcome["ok"], outcome.get("error")
    assert outcome["rows"] == 5
    assert "db/orders_pg (version 1)" in outcome["trace"]
    assert_no_secret(outcome, source_db.password, reader_token)
    assert_budget(catalog_traffic(bao, mark, workspace), workspace, {"db/orders_pg"})


def test_a_pipeline_scoped_binding(bao, store, source_db, reader_token, tmp_path, workspace):
    store.put("orders_pg", source_db, expected_version=0)
    outcome = run(
        "sql",
        tmp_path,
        bao,
        workspace,
        reader_token,
        config_toml=('[vault.bindings]\n"sql.sources.sql_database" = "db/orders_pg"\n'),
    )
    assert outcome["ok"], outcome.get("error")
    assert outcome["rows"] == 5


def test_a_postgres_destination_whose_credentials_come_from_vault(
    bao, store, source_db, reader_token, tmp_path, workspace
):
    store.put("warehouse", source_db, expected_version=0)
    mark = bao.audit_mark()
    outcome = run("postgres_destination", tmp_path, bao, workspace, reader_token)
    assert outcome["ok"], outcome.get("error")
    assert outcome["rows"] == 3
    assert_no_secret(outcome, source_db.password, reader_token)
    assert_budget(catalog_traffic(bao, mark, workspace), workspace, {"db/warehouse"})
    with psycopg.connect(source_db.connection_url().reveal()) as conn:
        assert conn.execute("SELECT count(*) FROM landing.events").fetchone()[0] == 3


class _ApiKeyServer(BaseHTTPRequestHandler):
    expected = ""
    seen: list[str] = []

    def do_GET(self) -> None:
        ok = self.headers.get("X-API-Key") == self.expected
        self.seen.append("ok" if ok else "refused")
        body = json.dumps(
            [{"id": 1, "t": 20.5}, {"id": 2, "t": 21.0}] if ok else {"error": "bad key"}
        ).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_rest_api_source_with_the_key_from_an_api_entry(
    bao, store, reader_token, tmp_path, workspace, canary
):
    key = canary("wk-" + uuid.uuid4().hex)
    _ApiKeyServer.expected, _ApiKeyServer.seen = key, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ApiKeyServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base_url = f"http://127.0.0.1:{server.server_address[1]}/"
        store.put("weather", ApiSecret(base_url, ApiKey("X-API-Key", key)), expected_version=0)
        mark = bao.audit_mark()
        outcome = run("rest_api", tmp_path, bao, workspace, reader_token)
    finally:
        server.shutdown()
    assert outcome["ok"], outcome.get("error")
    assert outcome["rows"] == 2 and _ApiKeyServer.seen == ["ok"]
    assert_no_secret(outcome, key, reader_token)
    assert_budget(catalog_traffic(bao, mark, workspace), workspace, {"api/weather"})


def test_a_rotated_password_is_used_by_the_next_run(
    bao, store, source_db, reader_token, tmp_path, workspace, pg, canary
):
    store.put("sql_database", source_db, expected_version=0)
    new_password = Secret("rotated-" + uuid.uuid4().hex)
    canary(new_password)
    env = {"VAULT__TTL": "1"}
    done = tmp_path / "first-run-done"
    process_result: dict = {}

    def in_background() -> None:
        process_result.update(run("sql_twice", tmp_path, bao, workspace, reader_token, **env))

    worker = threading.Thread(target=in_background)
    worker.start()
    for _ in range(1200):
        if done.exists() or not worker.is_alive():
            break
        threading.Event().wait(0.05)
    assert done.exists(), process_result
    with psycopg.connect(pg.url().reveal(), autocommit=True) as admin:
        admin.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(source_db.username), sql.Literal(new_password.reveal())
            )
        )
    store.put("sql_database", replace(source_db, password=new_password), expected_version=1)
    (tmp_path / "rotated").touch()
    worker.join(240)
    assert process_result["ok"], process_result.get("error")
    assert process_result["rows"] == [5, 5]
    assert "(version 2)" in process_result["trace"]
    assert_no_secret(process_result, source_db.password, new_password, reader_token)


# --- bad configuration: clear errors naming what to fix ---------------------------------


def test_an_unreachable_address_is_named(bao, tmp_path, workspace):
    outcome = run(
        "sql",
        tmp_path,
        bao,
        workspace,
        "some-token-value",
        VAULT_ADDR="http://127.0.0.1:9",
        VAULT_MAX_RETRIES="1",
    )
    assert not outcome["ok"]
    assert "Vault at http://127.0.0.1:9 is unreachable (connection refused)" in outcome["error"]
    assert_no_secret(outcome, "some-token-value")


def test_a_wrong_token_is_named(bao, tmp_path, workspace):
    outcome = run("sql", tmp_path, bao, workspace, "not-a-real-token-123")
    assert not outcome["ok"]
    assert "invalid, expired or revoked" in outcome["error"]
    assert_no_secret(outcome, "not-a-real-token-123")


def test_a_binding_to_a_missing_entry(bao, reader_token, tmp_path, workspace):
    outcome = run(
        "sql",
        tmp_path,
        bao,
        workspace,
        reader_token,
        config_toml=('[vault.bindings]\n"sources.sql_database" = "db/nope"\n'),
    )
    assert not outcome["ok"]
    assert f"names db/nope, but catalog/{workspace}/db/nope does not exist" in outcome["error"]


def test_a_binding_to_an_entry_of_the_wrong_kind(bao, store, reader_token, tmp_path, workspace):
    store.put("github", ApiSecret("https://api.github.com"), expected_version=0)
    outcome = run(
        "sql",
        tmp_path,
        bao,
        workspace,
        reader_token,
        config_toml=('[vault.bindings]\n"sources.sql_database" = "api/github"\n'),
    )
    assert not outcome["ok"]
    assert "bound to api/github, but dlt asks it for database credentials" in outcome["error"]


def test_a_binding_to_an_invalid_path(bao, reader_token, tmp_path, workspace):
    outcome = run(
        "sql",
        tmp_path,
        bao,
        workspace,
        reader_token,
        config_toml=('[vault.bindings]\n"sources.sql_database" = "../../secret/root"\n'),
    )
    assert not outcome["ok"]
    assert 'vault.bindings."sources.sql_database"' in outcome["error"]
    assert "must name an entry as db/<name> or api/<name>" in outcome["error"]


def test_a_missing_entry_is_not_found_like_any_missing_config(bao, reader_token, tmp_path, workspace):
    outcome = run("sql", tmp_path, bao, workspace, reader_token)
    assert not outcome["ok"]
    assert "Vault catalog" in outcome["error"]  # dlt lists our provider where it looked
    assert "credentials" in outcome["error"]
