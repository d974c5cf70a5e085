"""The test harness every issue reuses: a real OpenBao and a real PostgreSQL, on loopback.

- ``bao``: one OpenBao dev server for the session, with a file audit device, a KV v2
  mount ``catalog``, a KV v1 mount ``legacy``, userpass and AppRole enabled.
- ``admin``: a root ``VaultSession`` for setting things up (policies, users, roles).
- ``store``: a ``CatalogStore`` on a workspace of its own, so tests never see each other.
- ``pg``: one embedded PostgreSQL for the session.
- ``canary``: register a secret value. Every secret stored through ``CatalogStore.put``,
  every userpass password and the root token are registered too. When a test ends, its
  logs (DEBUG, all loggers), stdout/stderr, every error our code created, the files it
  wrote under ``tmp_path`` and Airflow's task logs are searched for every registered
  value (``_no_secret_leaks``), and so is a failure report; a hit fails the test.

A missing server binary skips the integration tests, unless ``CI`` (set by CI) or
``DLT_VAULT_REQUIRE_SERVERS`` is true: then it fails.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import os
import shutil
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest

from dlt_vault_provider import (
    CatalogStore,
    DatabaseSecret,
    DltVaultError,
    Secret,
    VaultSession,
    VaultSettings,
)
from dlt_vault_provider.devservers import EmbeddedPostgres, OpenBaoServer, clean_environ

DAGS = Path(__file__).parent / "integration" / "airflow_dags" / "catalog_dags.py"
REQUIRED = any(
    os.environ.get(name, "").lower() in ("1", "true", "yes") for name in ("DLT_VAULT_REQUIRE_SERVERS", "CI")
)
_CANARIES: set[str] = set()
T = TypeVar("T")


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
    _CANARIES.add(server.root_token.reveal())
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


def make_editor_policy(admin: VaultSession, name: str, workspace: str) -> str:
    """The policy the README gives editors of one workspace (read, write, delete, undelete)."""
    return make_policy(
        admin,
        name,
        f"""
path "catalog/data/{workspace}/*"              {{ capabilities = ["create", "read", "update", "delete"] }}
path "catalog/metadata/{workspace}/*"          {{ capabilities = ["read", "list", "update"] }}
path "catalog/detailed-metadata/{workspace}/*" {{ capabilities = ["list"] }}
path "catalog/delete/{workspace}/*"            {{ capabilities = ["update"] }}
path "catalog/undelete/{workspace}/*"          {{ capabilities = ["update"] }}
""",
    )


def run_async(function: Callable[..., Awaitable[T]], *args: object, timeout: float = 60) -> T:
    """Run a coroutine function on a loop of its own, in another thread: in a full run,
    Playwright's sync API holds this thread's event loop."""
    import anyio

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, function, *args).result(timeout)


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


# --- leak checks: one place, for every test ----------------------------------------------

_LOG_TEXTS: list[str] = []
_LOG_FORMAT = logging.Formatter("%(levelname)s %(name)s %(message)s")
_ERRORS_SEEN: list[BaseException] = []
MAX_SCANNED_FILE = 50 * 1024 * 1024


def _record_error(cls: type[BaseException], *args: object, **kwargs: object) -> BaseException:
    """``__new__`` of our error classes during tests: behaves as before (the next
    ``__new__`` in the class's MRO), and keeps the instance so its message, repr and
    causes are searched when the test ends."""
    for base in cls.__mro__:
        new = base.__dict__.get("__new__")
        if new is not None and new is not _record_error:
            new = new.__func__ if isinstance(new, staticmethod) else new
            break
    error = new(cls, *args, **kwargs)
    _ERRORS_SEEN.append(error)
    return error


def _secret_values(value: object) -> set[str]:
    """Every ``Secret`` inside an entry (nested dataclasses, mappings, sequences)."""
    if isinstance(value, Secret):
        return {value.reveal()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return set().union(*(_secret_values(getattr(value, f.name)) for f in dataclasses.fields(value)))
    if isinstance(value, dict):
        return set().union(*(_secret_values(v) for v in value.values()))
    if isinstance(value, list | tuple):
        return set().union(*(_secret_values(v) for v in value))
    return set()


@pytest.fixture(scope="session", autouse=True)
def _watch_secrets() -> Iterator[None]:
    """Every secret a test stores in the catalog becomes a canary; every error our code
    creates is kept for the leak check."""
    original_put = CatalogStore.put

    def put(self: CatalogStore, name: str, secret: object, **kwargs: object) -> int:
        _CANARIES.update(_secret_values(secret))
        return original_put(self, name, secret, **kwargs)  # type: ignore[arg-type]

    original_handle = logging.Logger.handle

    def handle(self: logging.Logger, record: logging.LogRecord) -> None:
        """Every record of every logger (propagating or not) passes here."""
        try:
            _LOG_TEXTS.append(_LOG_FORMAT.format(record))
        except Exception:  # a record that cannot format still has its parts searched
            _LOG_TEXTS.append(f"{record.msg!r} {record.args!r}")
        original_handle(self, record)

    CatalogStore.put = put  # type: ignore[method-assign]
    DltVaultError.__new__ = _record_error  # type: ignore[method-assign,assignment]
    logging.Logger.handle = handle  # type: ignore[method-assign]
    yield
    logging.Logger.handle = original_handle  # type: ignore[method-assign]
    CatalogStore.put = original_put  # type: ignore[method-assign]
    del DltVaultError.__new__


def _written_by_the_code(path: Path) -> bool:
    """Logs, run logs and dlt's pipeline folders (traces, state, load packages): what the
    code under test writes. Not the input files a test prepares (a token file, a JSON
    entry to register), which hold secrets on purpose."""
    return path.suffix == ".log" or "pipelines" in path.parts or "logs" in path.parts


def _files_text(folder: Path, since: float) -> Iterator[tuple[str, bytes]]:
    for path in folder.rglob("*"):
        try:
            if (
                _written_by_the_code(path.relative_to(folder))
                and path.is_file()
                and path.stat().st_mtime >= since
                and path.stat().st_size < MAX_SCANNED_FILE
            ):
                yield str(path), path.read_bytes()
        except OSError:
            continue


def _error_text(error: BaseException) -> str:
    """The message and repr of an error and of every error in its chain (causes and
    contexts). Not the traceback's source lines: those are the tests' own code."""
    parts, seen, todo = [], set(), [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        try:
            parts.append("".join(traceback.format_exception_only(type(current), current)) + repr(current))
        except Exception as exc:  # a broken __str__ is a finding too, not a crash of the check
            parts.append(f"<unprintable {type(current).__name__}: {type(exc).__name__}>")
        todo += [current.__cause__, current.__context__]
    return "\n".join(parts)


@pytest.fixture(autouse=True)
def _no_secret_leaks(request: pytest.FixtureRequest, capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Searched for every canary when a test ends: every log record at DEBUG (all loggers,
    hvac, urllib3, requests and httpx included), stdout and stderr (ours and child
    processes'), every error our code created (message, repr, traceback with its causes),
    files the test wrote under its ``tmp_path`` (dlt traces, run logs) and Airflow task logs.
    The failure report itself is searched and withheld by ``pytest_runtest_makereport``."""
    started = time.time() - 1
    loggers = [logging.root] + [
        logger for logger in logging.root.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    levels = [(logger, logger.level) for logger in loggers]
    for logger in loggers:  # every logger at DEBUG: a secret in any debug line is found
        logger.setLevel(logging.DEBUG)
    _LOG_TEXTS.clear()
    backend = sys.modules.get("airflow_backend.backend")
    if backend is not None:  # Airflow's own error class, when Airflow is loaded
        backend.VaultCatalogBackendError.__new__ = _record_error
    _ERRORS_SEEN.clear()
    folders = [  # looked up now: these fixtures are torn down before this one
        request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None,
        request.getfixturevalue("airflow_home") / "logs" if "airflow_home" in request.fixturenames else None,
    ]
    yield
    for logger, level in levels:
        logger.setLevel(level)
    out, err = capfd.readouterr()
    print(out, end="")  # put it back so pytest still shows it on failure
    texts: dict[str, bytes] = {
        "logs": "\n".join(_LOG_TEXTS).encode(),
        "stdout": out.encode(),
        "stderr": err.encode(),
        "errors raised": "\n".join(_error_text(e) for e in _ERRORS_SEEN).encode(),
    }
    _ERRORS_SEEN.clear()
    _LOG_TEXTS.clear()
    for folder in folders:
        if folder is not None and folder.exists():
            texts.update(_files_text(folder, started))
    leaks = sorted(
        {
            (where, value[:4] + "...")
            for value in _CANARIES
            if len(value) >= 6
            for where, text in texts.items()
            if value.encode() in text
        }
    )
    if leaks and "allow_secret_output" not in request.keywords:
        pytest.fail(f"a stored secret appeared in: {leaks}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failure report never prints a stored secret: its traceback and captured output
    are masked (and the test stays failed)."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed or "allow_secret_output" in item.keywords:
        return
    values = [value for value in _CANARIES if len(value) >= 6]
    text = report.longreprtext
    if any(value in text for value in values):
        report.longrepr = "A STORED SECRET APPEARED IN THIS FAILURE REPORT (masked here):\n" + _masked(
            text, values
        )
    report.sections = [(title, _masked(content, values)) for title, content in report.sections]


def _masked(text: str, values: list[str]) -> str:
    for value in values:
        if value in text:
            text = text.replace(value, f"<stored secret {value[:4]}...>")
    return text


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
