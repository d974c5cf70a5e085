"""``dlt-vault`` run as a user runs it, against the real OpenBao."""

import json
import os
import subprocess
import sys

import pytest

from dlt_vault_provider.devservers import clean_environ

pytestmark = pytest.mark.integration

DB_PASSWORD = "cli-db-pw-@:/?#%+ é"


@pytest.fixture
def run(bao, workspace, canary):
    canary(DB_PASSWORD)

    def run(*args, stdin="", token=None, expect=0):
        env = clean_environ(
            VAULT_ADDR=bao.address,
            VAULT_TOKEN=token or bao.root_token.reveal(),
            DLT_VAULT_WORKSPACE=workspace,
            HOME=os.environ.get("HOME", "/tmp"),
        )
        result = subprocess.run(
            [sys.executable, "-m", "dlt_vault_provider.cli", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert result.returncode == expect, result.stdout + result.stderr
        return result

    return run


def put_db(run, name="orders_pg", *extra, stdin=DB_PASSWORD + "\n", expect=0):
    return run(
        "put",
        "db",
        name,
        "--engine",
        "postgresql",
        "--host",
        "db.internal",
        "--database",
        "orders",
        "--db-user",
        "loader",
        "--option",
        "sslmode=require",
        "--secret-stdin",
        "--description",
        "Orders",
        *extra,
        stdin=stdin,
        expect=expect,
    )


def test_put_get_ls_versions_rm_undelete(run):
    assert "version 1" in put_db(run).stdout
    shown = run("get", "orders_pg").stdout
    assert "db.internal" in shown and "********" in shown and DB_PASSWORD not in shown
    assert "postgresql://loader:********@db.internal:5432/orders?sslmode=require" in shown

    listing = run("ls").stdout
    assert "db/orders_pg" in listing and "postgresql" in listing and "Orders" in listing

    # replacing needs the version it is based on
    conflict = put_db(run, "orders_pg", expect=3)
    assert "already exists (version 1)" in conflict.stderr
    assert "version 2" in put_db(run, "orders_pg", "--cas", "1").stdout
    assert "now at version 2" in put_db(run, "orders_pg", "--cas", "1", expect=3).stderr

    history = json.loads(run("versions", "orders_pg", "--json").stdout)
    assert [v["version"] for v in history] == [2, 1]

    assert "deleted" in run("rm", "orders_pg").stdout
    assert "is deleted" in run("get", "orders_pg", expect=1).stderr
    run("undelete", "orders_pg")
    assert json.loads(run("get", "orders_pg", "--json").stdout)["version"] == 2
    run("rm", "orders_pg", "--destroy", "--versions", "1")
    run("rm", "orders_pg", "--purge")
    assert "no entries" in run("ls").stdout


@pytest.mark.allow_secret_output
def test_reveal_prints_the_secret_only_when_asked(run):
    put_db(run)
    revealed = json.loads(run("get", "orders_pg", "--reveal", "--json").stdout)
    assert revealed["fields"]["password"] == DB_PASSWORD


def test_put_from_json_and_toml_files(run, tmp_path, canary):
    canary("ghp-file-token-123")
    (tmp_path / "gh.json").write_text(
        json.dumps(
            {
                "name": "github",
                "kind": "api",
                "base_url": "https://api.github.com",
                "auth": {"type": "bearer", "token": "ghp-file-token-123"},
            }
        )
    )
    run("put", "--file", str(tmp_path / "gh.json"))
    (tmp_path / "wh.toml").write_text(
        'name = "warehouse"\nkind = "db"\nengine = "snowflake"\nhost = "acme-xy123"\n'
        'database = "analytics"\nusername = "loader"\npassword = "toml-secret-pw"\n'
        '[options]\nwarehouse = "LOAD_WH"\n'
    )
    canary("toml-secret-pw")
    run("put", "--file", str(tmp_path / "wh.toml"))
    rows = json.loads(run("ls", "--json").stdout)
    assert {r["entry"] for r in rows} == {"api/github", "db/warehouse"}
    assert "ghp-file-token-123" not in run("get", "github").stdout


def test_bad_input_names_the_field_and_writes_nothing(run, bao):
    mark = bao.audit_mark()
    result = run(
        "put",
        "db",
        "bad/name",
        "--engine",
        "db2",
        "--host",
        "x",
        "--port",
        "99999",
        "--db-user",
        "u",
        expect=2,
    )
    assert "engine" in result.stderr and "port" in result.stderr
    result = run(
        "put", "db", "../escape", "--engine", "postgresql", "--host", "x", "--db-user", "u", expect=2
    )
    assert "name" in result.stderr
    assert [r for r in bao.audit_requests(mark) if r.path.startswith("catalog/")] == []


def test_unreachable_vault_is_a_clear_error(run, workspace):
    env = clean_environ(VAULT_ADDR="http://127.0.0.1:9", VAULT_TOKEN="x-token-value", VAULT_MAX_RETRIES="1")
    result = subprocess.run(
        [sys.executable, "-m", "dlt_vault_provider.cli", "ls"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 1
    assert "http://127.0.0.1:9 is unreachable (connection refused)" in result.stderr
    assert "Traceback" not in result.stderr and "x-token-value" not in result.stderr


def test_doctor(run, bao, admin, workspace):
    out = run("doctor").stdout
    for line in (
        "[ok ] address",
        "[ok ] seal status",
        "[ok ] identity",
        "[ok ] token ttl",
        "[ok ] catalog mount",
        "[ok ] catalog policy",
    ):
        assert line in out, out
    assert "KV version 2" in out and "never expires" in out
    token = admin.request("POST", "auth/token/create", json={"policies": ["default"], "ttl": "1h"})
    limited = run("doctor", token=token["auth"]["client_token"], expect=4).stdout
    assert "[FAIL] catalog policy" in limited and "read: no" in limited
    assert "s left, renewable" in limited
