"""Hostile names and sizes against the real OpenBao: names built to leave the workspace
are refused before any request, a policy for one workspace never reaches another, and
oversized fields and documents are refused with the field's name before Vault sees them.
(The form's HTTP endpoints have their own suite: test_form_hostile.py.)"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlt_vault_provider import (
    AccessDenied,
    ApiKey,
    ApiSecret,
    CatalogResolver,
    CatalogStore,
    DatabaseSecret,
    EntryRef,
    ValidationFailed,
    VaultCatalogProvider,
    VaultSession,
    VaultSettings,
)
from dlt_vault_provider.catalog import MAX_NAME, MAX_SECRET, MAX_TEXT
from dlt_vault_provider.store import MAX_DOCUMENT
from tests.conftest import make_policy, make_user, missing

pytestmark = pytest.mark.integration

ESCAPES = [
    "..",
    ".",
    "../other",
    "..%2Fother",
    "%2e%2e",
    "a/b",
    "a\\b",
    "/etc/passwd",
    "name\x00",
    "\x00",
    "na\x00me",
    "\uff21\uff22\uff23",  # fullwidth look-alikes of ABC
    "\u043erders",  # a Cyrillic o
    "orders\u200b",  # zero-width space
    "orders\u2044x",  # fraction slash
    "orders\u2215x",  # division slash
    "x" * (MAX_NAME + 1),
    "",
    " ",
    "orders ",
    "orders\n",
    "db/orders",
    "%00",
    "~root",
    "a?list=true",
    "a#frag",
]
hostile_names = st.one_of(
    st.sampled_from(ESCAPES),
    st.text(min_size=1, max_size=300).filter(
        lambda t: not all(c.isascii() and (c.isalnum() or c in "-_.") for c in t)
    ),
)


@pytest.fixture
def two_workspaces(admin, canary):
    """``own`` (where the user may read) and ``other`` (where it may not), each with an entry."""
    own, other = "own-" + uuid.uuid4().hex[:8], "other-" + uuid.uuid4().hex[:8]
    for workspace in (own, other):
        secret = DatabaseSecret(
            engine="postgresql", host="h", username="u", password=canary(f"{workspace}-pw-1")
        )
        CatalogStore(admin, workspace=workspace).put("orders", secret, expected_version=0)
    policy = make_policy(
        admin,
        f"only-{own}",
        f'path "catalog/data/{own}/*" {{ capabilities = ["read"] }}\n'
        f'path "catalog/metadata/{own}/*" {{ capabilities = ["read", "list"] }}\n',
    )
    password = make_user(admin, own, [policy])
    return own, other, password


def user_session(bao, username: str, password) -> VaultSession:
    from dlt_vault_provider.vault import UserpassAuth

    return VaultSession(VaultSettings(url=bao.address, renew=False), UserpassAuth(username, password))


def plain_workspace(text: str) -> bool:
    """Segments of letters, digits, '-', '_', '.' joined by '/' ("team/dev"): a workspace
    that stays inside the mount, not an escape."""
    return all(
        p not in (".", "..") and p and all(c.isascii() and (c.isalnum() or c in "-_.") for c in p)
        for p in text.strip("/").split("/")
    )


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=hostile_names)
def test_names_built_to_escape_are_refused_before_any_request(bao, store, workspace, name):
    mark = bao.audit_mark()
    attempts = [
        lambda: EntryRef("db", name),
        lambda: EntryRef.parse(f"db/{name}"),
        lambda: store.put(
            name, DatabaseSecret(engine="postgresql", host="h", username="u"), expected_version=0
        ),
        lambda: store.get_document(name),
        lambda: store.put_document(name, {"a": 1}, expected_version=0),
    ]
    for text in (f"{workspace}/{name}", name):
        if not plain_workspace(text):
            attempts.append(lambda text=text: CatalogStore(store.session, workspace=text))
    for attempt in attempts:
        with pytest.raises(ValidationFailed) as caught:
            attempt()
        assert caught.value.fields, "the error names the field to fix"
        assert "\x00" not in str(caught.value)
    assert bao.audit_requests(mark) == [], "a refused name must not reach Vault"


def test_a_policy_for_one_workspace_never_reaches_another(bao, two_workspaces):
    own, other, password = two_workspaces
    with user_session(bao, own, password) as session:
        mine = CatalogResolver(CatalogStore(session, workspace=own))
        assert mine.get(EntryRef("db", "orders")).secret.password.reveal() == f"{own}-pw-1"
        theirs = CatalogResolver(CatalogStore(session, workspace=other))
        with pytest.raises(AccessDenied) as caught:
            theirs.get(EntryRef("db", "orders"))
        assert other in str(caught.value) and f"{other}-pw-1" not in str(caught.value)
        assert theirs.names(EntryRef("db", "x").kind) == frozenset()  # may not list: nothing visible
        # Every road back to the other workspace through names is closed before Vault.
        mark = bao.audit_mark()
        for escape in (f"../../{other}/db/orders", f"..%2F..%2F{other}%2Fdb%2Forders", f"{own}/../{other}"):
            with pytest.raises(ValidationFailed):
                mine.get(EntryRef("db", escape))
            with pytest.raises(ValidationFailed):
                CatalogStore(session, workspace=escape)
        assert bao.audit_requests(mark) == []
        # The dlt provider answers "not here" for a section it cannot map to a name.
        provider = VaultCatalogProvider(mine)
        for escape in ("..", f"../{other}", "%2e%2e"):
            assert provider.get_value("credentials", object, None, "sources", escape)[0] is None
        assert bao.audit_requests(mark, f"catalog/data/{other}") == []


def test_the_airflow_backend_cannot_be_steered_out_of_its_workspace(bao, two_workspaces):
    try:
        from airflow.sdk.definitions.connection import Connection

        from airflow_backend import VaultCatalogBackend, VaultCatalogBackendError
    except ImportError:
        missing("Apache Airflow is not installed: pip install -e '.[test]'")
    own, other, password = two_workspaces
    backend = VaultCatalogBackend(
        url=bao.address, auth_method="userpass", username=own, password=password.reveal(), workspace=own
    )
    backend._set_connection_class(Connection)
    try:
        assert backend.get_connection("orders").password == f"{own}-pw-1"
        mark = bao.audit_mark()
        for conn_id in (f"../{other}/db/orders", "..", f"..%2F{other}", "orders\x00", f"{other}/db/orders"):
            assert backend.get_connection(conn_id) is None
            assert backend.get_variable(conn_id) is None
        assert bao.audit_requests(mark, f"catalog/data/{other}") == []
        with pytest.raises(VaultCatalogBackendError, match="workspace"):
            VaultCatalogBackend(url=bao.address, token="x", workspace=f"{own}/../{other}")
    finally:
        backend.session.close()


OVERSIZED = [
    ("host", lambda: DatabaseSecret(engine="postgresql", host="h" * 300, username="u")),
    ("username", lambda: DatabaseSecret(engine="postgresql", host="h", username="u" * (MAX_TEXT + 1))),
    ("database", lambda: DatabaseSecret(engine="postgresql", host="h", username="u", database="d" * 5000)),
    (
        "password",
        lambda: DatabaseSecret(engine="postgresql", host="h", username="u", password="p" * (MAX_SECRET + 1)),
    ),
    (
        "options",
        lambda: DatabaseSecret(
            engine="postgresql", host="h", username="u", options={f"k{i}": "v" for i in range(1000)}
        ),
    ),
    (
        "options.sslmode",
        lambda: DatabaseSecret(
            engine="postgresql", host="h", username="u", options={"sslmode": "x" * (MAX_TEXT + 1)}
        ),
    ),
    ("base_url", lambda: ApiSecret("https://api.example/" + "a" * 5000, ApiKey("X-Key", "k"))),
    ("auth.key", lambda: ApiSecret("https://api.example", ApiKey("X-Key", "k" * (MAX_SECRET + 1)))),
]


@pytest.mark.parametrize(("field", "build"), OVERSIZED, ids=[f for f, _ in OVERSIZED])
def test_oversized_fields_are_refused_with_their_name_before_vault(bao, store, field, build):
    mark = bao.audit_mark()
    with pytest.raises(ValidationFailed) as caught:
        store.put("big", build(), expected_version=0)
    assert field in caught.value.fields, caught.value.fields
    assert "at most" in str(caught.value)
    assert bao.audit_requests(mark) == []


def test_oversized_documents_are_refused_before_vault(bao, store):
    mark = bao.audit_mark()
    with pytest.raises(ValidationFailed, match=r"data: is \d+ bytes of JSON; a document is at most"):
        store.put_document("big", {"rows": ["x" * 1000] * 100}, expected_version=0)
    with pytest.raises(ValidationFailed, match="data: must hold only JSON values"):
        store.put_document("odd", {"when": object()}, expected_version=0)
    with pytest.raises(ValidationFailed, match="data: must be a JSON object"):
        store.put_document("list", ["a"], expected_version=0)  # type: ignore[arg-type]
    assert bao.audit_requests(mark) == []
    assert store.put_document("fits", {"rows": ["x"] * 100}, expected_version=0) == 1
    assert MAX_DOCUMENT == 64 * 1024


def test_a_username_cannot_steer_the_login_out_of_its_path(bao, admin):
    from dlt_vault_provider import LoginFailed

    mark = bao.audit_mark()
    for username in ("x/../../../sys/health", "../token/create", "a%2F..%2Fb"):
        with pytest.raises(LoginFailed), user_session(bao, username, "pw-whatever-1") as session:
            session.whoami()
    paths = [r.path for r in bao.audit_requests(mark)]
    assert paths and all(p.startswith("auth/userpass/login/") for p in paths), paths


def test_version_numbers_out_of_range_are_refused_before_vault(bao, store):
    """Vault answers 400 for a version past int64: the store refuses it by name first."""
    store.put("orders", DatabaseSecret(engine="postgresql", host="h", username="u"), expected_version=0)
    mark = bao.audit_mark()
    for bad in (-1, 2**31, 10**30, True):
        with pytest.raises(ValidationFailed, match="version: must be a version number"):
            store.get(EntryRef("db", "orders"), bad)
        with pytest.raises(ValidationFailed, match="expected_version"):
            store.put(
                "orders", DatabaseSecret(engine="postgresql", host="h", username="u"), expected_version=bad
            )
    assert bao.audit_requests(mark) == []
