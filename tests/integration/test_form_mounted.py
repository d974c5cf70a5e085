"""The form mounted under a prefix, as Airflow's API server mounts plugin apps, and the
Airflow plugin that does it. HTTP only (the browser tests cover the pages themselves)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dlt_vault_provider import EntryRef, VaultSettings
from dlt_vault_provider.devservers import clean_environ
from tests.conftest import make_policy, make_user, missing
from tests.form_client import csrf_token, sign_in

pytestmark = pytest.mark.integration

try:
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.testclient import TestClient

    from dlt_vault_provider.form import create_app
except ImportError:
    missing("the form's packages are not installed: pip install -e '.[test]'")


def test_the_form_works_under_a_prefix(bao, admin, store, workspace, canary):
    policy = make_policy(
        admin,
        f"mnt-{workspace}",
        'path "catalog/*" { capabilities = ["create", "read", "update", "list"] }',
    )
    password = make_user(admin, f"mnt-{workspace}", [policy])
    form = create_app(VaultSettings(url=bao.address), workspace=workspace)
    parent = Starlette(routes=[Mount("/catalog-form", app=form)])
    with TestClient(parent, base_url="http://testserver") as client:
        first = client.get("/catalog-form/catalog", follow_redirects=False)
        assert first.headers["location"] == "/catalog-form/login?next=/catalog"
        login = client.get("/catalog-form/login")
        assert 'action="/catalog-form/login"' in login.text
        assert "/catalog-form/static/style.css" in login.text
        signed = sign_in(
            client,
            "/catalog-form",
            method="userpass",
            username=f"mnt-{workspace}",
            password=password.reveal(),
            next="/catalog",
        )
        assert signed.headers["location"] == "/catalog-form/catalog"
        page = client.get("/catalog-form/entries/new/db")
        saved = client.post(
            "/catalog-form/entries/new/db",
            follow_redirects=False,
            data={
                "csrf_token": csrf_token(page.text),
                "name": "mounted",
                "action": "save",
                "engine": "postgresql",
                "host": "h",
                "port": "5432",
                "username": "u",
                "password": canary("mounted-pw-1"),
            },
        )
        assert saved.headers["location"].startswith("/catalog-form/entries/db/mounted?m=")
        assert "mounted-pw-1" not in client.get(saved.headers["location"]).text
    assert store.get(EntryRef("db", "mounted")).secret.password.reveal() == "mounted-pw-1"


def test_the_airflow_plugin_mounts_the_form_when_vault_is_configured(bao):
    code = (
        "from airflow_backend.plugin import VaultCatalogPlugin as P; "
        "print([a['url_prefix'] for a in P.fastapi_apps])"
    )
    configured = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=clean_environ(VAULT_ADDR=bao.address),
        timeout=120,
    )
    assert configured.returncode == 0, configured.stderr[-2000:]
    assert "['/catalog-form']" in configured.stdout
    bare = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=clean_environ(), timeout=120
    )
    assert "[]" in bare.stdout
