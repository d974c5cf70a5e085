"""Scoped grants: a token that reads exactly its entries, optionally wrapped once."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dlt_vault_provider import (
    AccessDenied,
    CatalogStore,
    DatabaseSecret,
    EntryRef,
    LoginFailed,
    TokenAuth,
    VaultSession,
    VaultSettings,
)
from dlt_vault_provider.devservers import clean_environ
from dlt_vault_provider.grants import issue_grant, revoke_grant

pytestmark = pytest.mark.integration

DB = DatabaseSecret(engine="postgresql", host="h", username="u", password="grant-pw-1")


def as_token(bao, token, workspace) -> CatalogStore:
    session = VaultSession(
        VaultSettings(url=bao.address, renew=False, max_attempts=1), TokenAuth(token, helper_file=None)
    )
    return CatalogStore(session, workspace=workspace, kv_version=2)


def test_a_grant_reads_only_its_entries_until_revoked(bao, admin, store, workspace, canary):
    canary("grant-pw-1")
    store.put("granted", DB, expected_version=0)
    store.put("other", DB, expected_version=0)
    grant = issue_grant(store, [EntryRef("db", "granted")], ttl="10m")
    canary(grant.token)
    scoped = as_token(bao, grant.token, workspace)
    assert scoped.get(EntryRef("db", "granted")).secret.host == "h"
    assert scoped.names(EntryRef("db", "x").kind) == ["granted", "other"]  # names, not values
    with pytest.raises(AccessDenied) as caught:
        scoped.get(EntryRef("db", "other"))
    assert "db/other" in str(caught.value)
    revoke_grant(admin, grant.accessor, grant.policy)
    with pytest.raises(Exception):  # noqa: B017 - dead token: LoginExpired or AccessDenied
        as_token(bao, grant.token, workspace).get(EntryRef("db", "granted"))


def test_a_wrapped_grant_unwraps_once_and_never_again(bao, admin, store, workspace, canary):
    store.put("granted", DB, expected_version=0)
    grant = issue_grant(store, [EntryRef("db", "granted")], ttl="10m", wrap="60s")
    canary(grant.token)
    assert grant.wrapped
    unwrapped = admin.unwrap(grant.token)
    token = unwrapped["auth"]["client_token"]
    canary(token)
    assert as_token(bao, token, workspace).get(EntryRef("db", "granted")).version == 1
    with pytest.raises(LoginFailed, match="already used"):
        admin.unwrap(grant.token)


def test_grant_and_revoke_from_the_cli(bao, store, workspace):
    store.put("granted", DB, expected_version=0)
    env = clean_environ(
        VAULT_ADDR=bao.address, VAULT_TOKEN=bao.root_token.reveal(), DLT_VAULT_WORKSPACE=workspace
    )
    cli = [sys.executable, "-m", "dlt_vault_provider.cli"]
    out = subprocess.run(
        [*cli, "grant", "db/granted", "--ttl", "5m", "--uses", "10"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    grant = json.loads(out.stdout)
    assert grant["entries"] == ["db/granted"] and grant["accessor"]
    bad = subprocess.run([*cli, "grant", "db/../x"], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "name" in bad.stderr
    done = subprocess.run(
        [*cli, "revoke", grant["accessor"], "--policy", grant["policy"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "revoked" in done.stdout


def test_a_pipeline_run_with_a_grant(bao, store, items_db, tmp_path, workspace):
    """The granted entry resolves; an entry that exists but is not granted is refused."""
    from tests.integration.test_dlt_provider import run

    store.put("sql_database", items_db, expected_version=0)
    store.put("elsewhere", items_db, expected_version=0)
    grant = issue_grant(store, [EntryRef("db", "sql_database")], ttl="10m")
    ok = run("sql", tmp_path / "ok", bao, workspace, grant.token.reveal())
    assert ok["ok"], ok.get("error")
    assert ok["rows"] == 5
    refused = run(
        "sql",
        tmp_path / "refused",
        bao,
        workspace,
        grant.token.reveal(),
        config_toml='[vault.bindings]\n"sources.sql_database" = "db/elsewhere"\n',
    )
    assert not refused["ok"]
    assert f"access denied on catalog/data/{workspace}/db/elsewhere" in refused["error"]
