"""The test harness every issue reuses: a real OpenBao and a real PostgreSQL, on loopback.

- ``bao``: one OpenBao dev server for the session, with a file audit device, a KV v2
  mount ``catalog``, a KV v1 mount ``legacy``, userpass and AppRole enabled.
- ``admin``: a root ``VaultSession`` for setting things up (policies, users, roles).
- ``store``: a ``CatalogStore`` on a workspace of its own, so tests never see each other.
- ``pg``: one embedded PostgreSQL for the session.
- ``canary``: register a secret value; every test's captured logs, stdout and stderr are
  searched for every registered value, and a hit fails the test.

A missing server binary skips the integration tests, unless ``CI`` (set by CI) or
``DLT_VAULT_REQUIRE_SERVERS`` is true: then it fails.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from dlt_vault_provider import CatalogStore, DatabaseSecret, Secret, VaultSession, VaultSettings
from dlt_vault_provider.devservers import EmbeddedPostgres, OpenBaoServer, clean_environ

DAGS = Path(__file__).parent / "integration" / "airflow_dags" / "catalog_dags.py"
REQUIRED = any(
    os.environ.get(name, "").lower() in ("1", "true", "yes") for name in ("DLT_VAULT_REQUIRE_SERVERS", "CI")
)
_CANARIES: set[str] = set()


def missing(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason} (required here: CI or DLT_VAULT_REQUIRE_SERVERS is set)")
    pytest.skip(reason, allow_module_level=True)


def admin_request(server: OpenBaoServer, method: str, path: str, body: dict | None = None) -> dict:
    """A root call for test set-up, through our own session (so it is exercised too)."""
    settings = VaultSettings(url=server.address, token=server.root_token, renew=False)
    with VaultSession(settings) as session:
        return session.request(method, path, json=body) or {}


@pytest.fixture(scope="session")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBaoServer]:
    try:
        server = OpenBaoServer(tmp_path_factory.mktemp("openbao"))
        server.start()
    except FileNotFoundError as exc:
        missing(str(exc))
    admin_request(server, "POST", "sys/mounts/catalog", {"type": "kv", "options": {"version": "2"}})
    admin_request(server, "POST", "sys/mounts/legacy", {"type": "kv", "options": {"version": "1"}})
    admin_request(server, "POST", "sys/auth/userpass", {"type": "userpass"})
    admin_request(server, "POST", "sys/auth/approle", {"type": "approle"})
    yield server
    server.stop()


@pytest.fixture
def admin(bao: OpenBaoServer) -> Iterator[VaultSession]:
    with VaultSession(VaultSettings(url=bao.address, token=bao.root_token, renew=False)) as session:
        yield session


@pytest.fixture
def workspace() -> str:
    return "t-" + uuid.uuid4().hex[:10]


@pytest.fixture
def store(admin: VaultSession, workspace: str) -> CatalogStore:
    return CatalogStore(admin, workspace=workspace)


@pytest.fixture(scope="session")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    try:
        server = EmbeddedPostgres(tmp_path_factory.mktemp("postgres"))
        server.start()
    except FileNotFoundError as exc:
        missing(str(exc))
    yield server
    server.stop()


def make_user(admin: VaultSession, username: str, policies: list[str], **token_settings: object) -> Secret:
    """A userpass user with these policies; returns its password."""
    password = Secret("pw-" + uuid.uuid4().hex)
    admin.request(
        "POST",
        f"auth/userpass/users/{username}",
        json={"password": password.reveal(), "token_policies": policies, **token_settings},
    )
    _CANARIES.add(password.reveal())
    return password


def make_policy(admin: VaultSession, name: str, hcl: str) -> str:
    admin.request("PUT", f"sys/policies/acl/{name}", json={"policy": hcl})
    return name


def canaries() -> frozenset[str]:
    """Every secret value the tests have stored so far."""
    return frozenset(_CANARIES)


@pytest.fixture
def canary() -> object:
    """``canary("value")`` registers a value that must never appear in captured output."""

    def register(value: str | Secret) -> str:
        plain = value.reveal() if isinstance(value, Secret) else value
        _CANARIES.add(plain)
        return plain

    return register


@pytest.fixture(autouse=True)
def _no_secret_leaks(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> Iterator[None]:
    """Every log record (DEBUG, all loggers), stdout and stderr, searched for every canary."""
    caplog.set_level(logging.DEBUG)
    yield
    out, err = capfd.readouterr()
    captured = {"logs": caplog.text, "stdout": out, "stderr": err}
    # Put what we read back so pytest still shows it on failure.
    print(out, end="")
    leaks = [
        (where, value[:4] + "...")
        for value in _CANARIES
        if len(value) >= 6
        for where, text in captured.items()
        if value in text
    ]
    if leaks and "allow_secret_output" not in request.keywords:
        pytest.fail(f"a stored secret appeared in captured output: {leaks}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_secret_output: the test prints secrets on purpose")


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory) -> Path:
    try:
        import airflow  # noqa: F401
    except ImportError:
        missing("Apache Airflow is not installed: pip install -e '.[test]'")
    home = tmp_path_factory.mktemp("airflow")
    (home / "dags").mkdir()
    shutil.copy(DAGS, home / "dags" / DAGS.name)
    result = subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
        env=clean_environ(AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="false"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return home


@pytest.fixture
def items_db(pg, workspace, canary) -> DatabaseSecret:
    database = f"af_{workspace.replace('-', '_')}"
    with psycopg.connect(pg.url().reveal(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    with psycopg.connect(pg.url(database).reveal(), autocommit=True) as conn:
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 5) g")
    canary(pg.password)
    return DatabaseSecret(
        engine="postgresql",
        host=pg.host,
        port=pg.port,
        database=database,
        username="postgres",
        password=pg.password,
    )


def audit_paths(server: OpenBaoServer, mark: int, prefix: str = "") -> list[str]:
    return [r.path for r in server.audit_requests(mark, prefix)]


ROOT = Path(__file__).resolve().parent.parent
