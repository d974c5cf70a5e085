"""Hostile HTTP against the registration form and the real OpenBao behind it: no 500, no
write without authorization, no secret in any response.

Five client states drive every route with generated methods, paths and bodies:

- ``anonymous``: no session (or a forged session id), with or without some CSRF token;
- ``no_csrf`` and ``wrong_csrf``: the editor's session without the form's token, or with
  another (random, mangled, the reader's);
- ``editor``: the editor's session and token, the only state that may write;
- ``reader``: a read-only policy with its own valid token: Vault refuses its writes.

After each request the workspace's metadata (read as root) and the audit log say what was
written: nothing, unless the editor with the right token got a redirect back.
"""

from __future__ import annotations

import json
import string
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dlt_vault_provider import (
    ApiSecret,
    CatalogStore,
    DatabaseSecret,
    EntryRef,
    Secret,
    VaultSession,
    VaultSettings,
)
from dlt_vault_provider.catalog import BasicAuth, BearerToken, OAuth2ClientCredentials
from dlt_vault_provider.devservers import OpenBaoServer
from dlt_vault_provider.errors import EntryNotFound
from tests.conftest import canaries, make_editor_policy, make_policy, make_user, missing, run_async
from tests.form_client import csrf_token, sign_in

pytestmark = pytest.mark.integration

try:
    from starlette.routing import Mount, Route
    from starlette.testclient import TestClient

    from dlt_vault_provider.form import create_app
    from dlt_vault_provider.form.app import MAX_BODY
    from dlt_vault_provider.form.sessions import COOKIE
    from dlt_vault_provider.form.views import LOGIN_CSRF_COOKIE
except ImportError:
    missing("the form's packages are not installed: pip install -e '.[test]'")

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "",  # no-store for pages, a max-age for /static
}
WRITES = frozenset({"create", "update", "delete"})
# Requests that write outside the catalog and are every session's own business.
OWN_TOKEN_PATHS = ("auth/token/revoke-self", "auth/token/renew-self")
NOWHERE = "127.0.0.1:1"  # "Test connection" goes here: refused at once, never a foreign host

# Every route of the app, as its template, with its methods; a test checks this against
# create_app(). The generated requests mostly use a route's own methods, sometimes others.
ROUTES = {
    "/": ("GET",),
    "/login": ("GET", "POST"),
    "/logout": ("POST",),
    "/catalog": ("GET",),
    "/healthz": ("GET",),
    "/entries/new/{kind}": ("GET", "POST"),
    "/entries/test/{kind}": ("POST",),
    "/entries/{kind}/{name}": ("GET",),
    "/entries/{kind}/{name}/edit": ("GET", "POST"),
    "/entries/{kind}/{name}/delete": ("GET", "POST"),
    "/entries/{kind}/{name}/undelete": ("POST",),
    "/entries/{kind}/{name}/restore/{version}": ("POST",),
    "/static/{path}": ("GET",),
}
ODD_METHODS = ("HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "GET", "POST")
STATES = ("anonymous", "no_csrf", "wrong_csrf", "editor", "reader")
CSRF_ROUTES = (  # every POST that checks the form's token, with the kind of form it takes
    ("/logout", None),
    ("/entries/new/db", "db"),
    ("/entries/new/api", "api"),
    ("/entries/test/db", "db"),
    ("/entries/test/api", "api"),
    ("/entries/db/orders/edit", "db"),
    ("/entries/api/github/edit", "api"),
    ("/entries/db/orders/delete", None),
    ("/entries/api/github/undelete", None),
    ("/entries/db/orders/restore/1", None),
)
EXISTING = ("orders", "github", "oauth_api", "basic_api")
NAMES_OF = {"db": ("orders",), "api": ("github", "oauth_api", "basic_api")}
FRESH = ("fresh_one", "fresh-two", "x.y")  # few, so the editor's writes stay few

# --- the world: entries, people, the app ----------------------------------------------------


@dataclass
class Person:
    username: str
    password: Secret
    session_id: str = ""
    csrf: str = ""


@dataclass(frozen=True)
class AuditWrite:
    operation: str
    path: str
    display_name: str
    refused: bool


@dataclass
class World:
    bao: OpenBaoServer
    admin: VaultSession
    workspace: str
    app: Any
    client: TestClient
    editor: Person
    reader: Person
    register: Any

    def sign_in(self, person: Person) -> None:
        """Through the login page, as a browser does; keeps the session id and its token."""
        client = self.client
        client.cookies.clear()
        signed = sign_in(
            client, method="userpass", username=person.username, password=person.password.reveal()
        )
        assert signed.status_code == 303, signed.text
        person.session_id = signed.cookies[COOKIE]
        client.cookies.clear()
        form = client.get("/entries/new/db", headers={"cookie": f"{COOKIE}={person.session_id}"})
        person.csrf = csrf_token(form.text)
        # the person's Vault token is a secret too: no response may carry it
        self.app.state.sessions.get(person.session_id).session.on_login(self.register)

    def ensure_signed_in(self) -> None:
        """A generated sign-out (or an expired login) ends a session: start a new one."""
        for person in (self.editor, self.reader):
            if self.app.state.sessions.get(person.session_id) is None:
                self.sign_in(person)

    def snapshot(self) -> dict[str, Any]:
        """Every key under the workspace with its full metadata (versions, deletions,
        custom_metadata, updated_time), read as root: any write changes it."""
        found: dict[str, Any] = {}
        folders = [""]
        while folders:
            folder = folders.pop()
            try:
                body = self.admin.request("LIST", f"catalog/detailed-metadata/{self.workspace}/{folder}")
            except EntryNotFound:
                continue
            for key, metadata in ((body or {}).get("data") or {}).get("key_info", {}).items():
                if key.endswith("/"):
                    folders.append(folder + key)
                else:
                    found[folder + key] = metadata
        return found

    def audit_writes(self, since: int) -> list[AuditWrite]:
        """Write operations that reached Vault after ``since``, each with Vault's verdict
        (from the response records: ``audit_requests`` lists requests only)."""
        writes = []
        with self.bao.audit_log.open("rb") as handle:
            handle.seek(since)
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                request = record.get("request") or {}
                operation, path = str(request.get("operation")), str(request.get("path"))
                if record.get("type") != "response" or operation not in WRITES:
                    continue
                writes.append(
                    AuditWrite(
                        operation,
                        path,
                        str((record.get("auth") or {}).get("display_name") or ""),
                        refused=bool(record.get("error")),
                    )
                )
        return writes

    def in_workspace(self, path: str) -> bool:
        mount, _, rest = path.partition("/")
        return mount == "catalog" and rest.split("/")[1:2] == [self.workspace]


@pytest.fixture
def world(bao, admin, store, workspace, canary) -> Iterator[World]:
    canary(bao.root_token)
    store.put(
        "orders",
        DatabaseSecret(
            engine="postgresql",
            host="db.internal",
            database="orders",
            username="etl",
            password=canary("orders-pw-" + uuid.uuid4().hex),
            options={"sslmode": "require"},
        ),
        expected_version=0,
    )
    store.put(
        "github",
        ApiSecret(
            "https://api.github.example",
            BearerToken(Secret(canary("gh-token-" + uuid.uuid4().hex))),
            headers={"X-Tenant-Key": canary("tenant-key-" + uuid.uuid4().hex)},
        ),
        expected_version=0,
    )
    store.put(
        "oauth_api",
        ApiSecret(
            "https://api.oauth.example",
            OAuth2ClientCredentials(
                token_url="https://auth.oauth.example/token",
                client_id="client-1",
                client_secret=Secret(canary("client-secret-" + uuid.uuid4().hex)),
                scopes=("read",),
            ),
        ),
        expected_version=0,
    )
    store.put(
        "basic_api",
        ApiSecret(
            "https://api.basic.example",
            BasicAuth("svc", Secret(canary("basic-pw-" + uuid.uuid4().hex))),
        ),
        expected_version=0,
    )
    store.delete(EntryRef("api", "basic_api"))  # a deleted entry, for undelete and restore
    editor = make_editor_policy(admin, f"hostile-ed-{workspace}", workspace)
    reader = make_policy(
        admin,
        f"hostile-ro-{workspace}",
        f"""
path "catalog/data/{workspace}/*"              {{ capabilities = ["read", "list"] }}
path "catalog/metadata/{workspace}/*"          {{ capabilities = ["read", "list"] }}
path "catalog/detailed-metadata/{workspace}/*" {{ capabilities = ["list"] }}
""",
    )
    app = create_app(VaultSettings(url=bao.address), workspace=workspace)
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as client:
        world = World(
            bao=bao,
            admin=admin,
            workspace=workspace,
            app=app,
            client=client,
            editor=Person(f"ed-{workspace}", make_user(admin, f"ed-{workspace}", [editor])),
            reader=Person(f"ro-{workspace}", make_user(admin, f"ro-{workspace}", [reader])),
            register=canary,
        )
        world.sign_in(world.editor)
        world.sign_in(world.reader)
        yield world


# --- sending a request, checking its response ------------------------------------------------


@dataclass(frozen=True)
class Attack:
    """One generated request. ``csrf`` is symbolic (resolved against the live sessions):
    ``absent``, ``editor``, ``reader``, ``mangled``, ``empty`` or ``text:<value>``."""

    state: str
    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    body: str = "form"  # form | multipart | raw | none
    raw: bytes = b""
    content_type: str = ""
    csrf: str = "absent"
    forged_cookie: str | None = None
    login_nonce: bool = False


def csrf_value(world: World, symbol: str) -> str | None:
    if symbol == "absent":
        return None
    if symbol.startswith("text:"):
        return symbol[5:]
    return {
        "editor": world.editor.csrf,
        "reader": world.reader.csrf,
        "mangled": world.editor.csrf[:-1] + ("A" if world.editor.csrf[-1] != "A" else "B"),
        "empty": "",
    }[symbol]


def send(world: World, attack: Attack):  # type: ignore[no-untyped-def]
    client = world.client
    client.cookies.clear()
    session_id = {
        "anonymous": attack.forged_cookie,
        "reader": world.reader.session_id,
    }.get(attack.state, world.editor.session_id)
    headers: dict[str, str] = {}
    fields = dict(attack.fields)
    token = csrf_value(world, attack.csrf)
    if token is not None:
        fields["csrf_token"] = token
    jar = [f"{COOKIE}={session_id}"] if session_id is not None else []
    if attack.login_nonce:  # a real sign-in attempt: the login page's nonce, cookie and field
        page = client.get("/login")
        nonce = csrf_token(page.text)
        fields["csrf_token"] = nonce
        jar.append(f"{LOGIN_CSRF_COOKIE}={nonce}")
        client.cookies.clear()
    if jar:
        headers["cookie"] = "; ".join(jar)
    url = attack.path + ("?" + urlencode(attack.query) if attack.query else "")
    options: dict[str, Any] = {}
    if attack.method in ("GET", "HEAD", "OPTIONS") or attack.body == "none":
        pass
    elif attack.body == "form":
        options["data"] = fields
    elif attack.body == "multipart":
        options["data"] = fields
        options["files"] = {"upload": ("entry.txt", b"name=x\n", "text/plain")}
    else:
        headers["content-type"] = attack.content_type
        options["content"] = attack.raw
    response = client.request(attack.method, url, headers=headers, follow_redirects=False, **options)
    client.cookies.clear()
    return response


def assert_no_secret(response, what: str, sent: str = "") -> None:  # type: ignore[no-untyped-def]
    """No stored secret (as is, or URL-encoded) in the headers or the body; a value the
    request itself carried may come back (the requester knew it already)."""
    head = "\n".join(f"{k}: {v}" for k, v in response.headers.multi_items())
    body = response.content
    for value in canaries():
        if len(value) < 6 or value in sent:
            continue
        for form in {value, quote(value, safe=""), quote_plus_safe(value)}:
            assert form not in head, f"{what}: a stored secret ({value[:4]}...) in the headers"
            assert form.encode() not in body, f"{what}: a stored secret ({value[:4]}...) in the body"


def quote_plus_safe(value: str) -> str:
    return urlencode({"": value})[1:]


def assert_sound(response, what: str, sent: str = "") -> None:  # type: ignore[no-untyped-def]
    """No 5xx, no stored secret, the security headers, no redirect off the site."""
    status = response.status_code
    assert status < 500, f"{what} -> {status}: {response.text[:300]}"
    assert_no_secret(response, what, sent)
    for name, start in SECURITY_HEADERS.items():
        assert response.headers.get(name, "\0").startswith(start), f"{what}: {name} missing"
    location = response.headers.get("location")
    if location is not None:
        assert (location.startswith("/") and not location.startswith(("//", "/\\"))) or location.startswith(
            "http://testserver/"
        ), f"{what}: redirects off the site: {location[:100]}"


# --- strategies -----------------------------------------------------------------------------

HOSTILE = (
    "..",
    ".",
    "%2e%2e",
    "%2E%2E%2F%2E%2E",
    "%2F",
    "a/b",
    "../../sys/seal",
    "..%2F..%2Fsys%2Fpolicies%2Facl%2Froot",
    "\x00",
    "%00",
    "a\x00b",
    "é",
    "ß",
    "😀",
    "\u202e",
    "ǅ",
    "<script>alert(1)</script>",
    "'\"",
    "\r\nSet-Cookie: x=1",
    " ",
    "%",
    "%zz",
    "a" * 300,
    "b" * 5000,
    "{{7*7}}",
    "${jndi:x}",
    "~root",
)
FIELDS = (
    "name",
    "action",
    "engine",
    "host",
    "port",
    "database",
    "username",
    "password",
    "options",
    "description",
    "credentials",
    "role",
    "secrets_mount",
    "version",
    "current",
    "test_path",
    "base_url",
    "auth.type",
    "auth.token",
    "auth.name",
    "auth.location",
    "auth.key",
    "auth.username",
    "auth.password",
    "auth.token_url",
    "auth.client_id",
    "auth.client_secret",
    "auth.scopes",
    "headers",
    "header_names",
    "method",
    "token",
    "next",
)
MEANINGFUL = (
    "save",
    "test",
    "postgresql",
    "mysql",
    "snowflake",
    "bearer",
    "api_key",
    "basic",
    "oauth2_client_credentials",
    "none",
    "stored",
    "dynamic",
    "header",
    "query",
    "userpass",
    "token",
    "ldap",
    "0",
    "1",
    "2",
    "3",
    "-1",
    "1.5",
    "abc",
    "٣",
    "99999999999999999999",
    "1" * 5000,
    "X-Api-Key: v",
    "sslmode=disable",
    "//evil.invalid/",
    "/\\evil.invalid",
    "/catalog",
)
# Where "Test connection" could go, always set: valid or not, never a reachable host.
TARGETS = {
    "host": ("127.0.0.1", "localhost", "", "a b", "a/b", "::1", "[::1]", "h\x00", "%", "é.invalid"),
    "port": ("1", "0", "-1", "65536", "abc", "1" * 30),  # never blank: that is the default port
    "base_url": (f"http://{NOWHERE}", f"https://{NOWHERE}/v1/", "ftp://x", "javascript:alert(1)", "", "x"),
    "auth.token_url": (f"http://{NOWHERE}/token", "file:///etc/passwd", ""),
    "test_path": ("", "/", "x?y=1", "../../", "%00", f"http://{NOWHERE}/other", "//evil.invalid/"),
}


def mostly(common: st.SearchStrategy, rare: st.SearchStrategy) -> st.SearchStrategy:
    """``common`` four times in five: enough plausible requests to reach Vault."""
    return st.sampled_from((common, common, common, common, rare)).flatmap(lambda chosen: chosen)


text = st.text(max_size=40)
values = st.one_of(
    text,
    st.sampled_from(HOSTILE),
    st.sampled_from(MEANINGFUL),
    st.builds(lambda c, n: c * n, st.sampled_from(["x", "é", "😀", "\x00", "%"]), st.integers(1000, 4000)),
)
kinds = mostly(
    st.sampled_from(["db", "api"]),
    st.one_of(st.sampled_from(["database", "DB", " Api", "x", ""]), st.sampled_from(HOSTILE), text),
)
names = st.one_of(
    st.sampled_from(EXISTING + FRESH),
    st.one_of(st.sampled_from(HOSTILE), st.from_regex(r"[A-Za-z0-9_.-]{1,20}", fullmatch=True), text),
)
versions = mostly(
    st.integers(0, 6).map(str),
    st.sampled_from(["99999999999999999999999", "-1", "1.0", "abc", "٣", "0x1"]),
)
field_names = st.one_of(st.sampled_from(FIELDS), st.text(max_size=12))
# What the secret inputs hold. A saved secret becomes a canary for the whole session
# (conftest), so it is either too short to count or unique: never a word found elsewhere.
SECRET_INPUTS = ("password", "auth.token", "auth.key", "auth.password", "auth.client_secret", "headers")
unique = st.uuids().map(lambda u: f"gen-{u.hex}")
secret_values = st.one_of(
    st.sampled_from(["", " ", "\x00", "é", "😀", "%", "'\"", "a\r\nb"]),
    unique,
    st.builds(
        lambda u, c, n: u + c * n, unique, st.sampled_from(["x", "é", "\x00"]), st.integers(1000, 4000)
    ),
    st.builds(lambda name, u: f"{name}: {u}", st.sampled_from(["X-Api-Key", "Bad Name", "", "X-A"]), unique),
)


@st.composite
def segment(draw, inner):  # type: ignore[no-untyped-def]
    """A path segment: percent-encoded whole, or with '/' and '%' left as they are."""
    value = draw(inner)
    return quote(value, safe=draw(st.sampled_from(["", "/%"])))


@st.composite
def entry_fields(draw, kind: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Mostly valid entry forms, so real saves, conflicts and probes happen too."""
    fields = {"action": draw(st.sampled_from(["save", "save", "test", ""]))}
    fields["name"] = draw(st.sampled_from(EXISTING + FRESH))
    fields["version"] = draw(st.integers(0, 4).map(str))
    fields["current"] = draw(st.integers(0, 4).map(str))
    if kind == "db":
        fields.update(engine="postgresql", host="127.0.0.1", port="1", username="u", password="pw")
    else:
        fields.update({"base_url": f"http://{NOWHERE}", "auth.type": "bearer", "auth.token": "tk"})
    fields["description"] = draw(text)
    return fields


@st.composite
def tamed(draw, fields: st.SearchStrategy[dict[str, str]], *, complete: bool = True) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Generated fields, but "Test connection" never reaches a foreign host (every target
    set, or only those present when not ``complete``), and a saved secret is too short to
    count or unique."""
    tame = draw(fields)
    for target, choices in TARGETS.items():
        if complete or target in tame:
            tame[target] = draw(st.sampled_from(choices))
    for secret in SECRET_INPUTS:
        if secret in tame:
            tame[secret] = draw(secret_values)
    return tame


@st.composite
def well_formed_posts(draw) -> Attack:  # type: ignore[no-untyped-def]
    """The editor's (and the reader's) posts to the entry routes: valid forms with one or two
    fields changed, so saves, conflicts, deletes, restores and probes really happen."""
    kind = draw(st.sampled_from(["db", "api"]))
    name = draw(st.sampled_from(NAMES_OF[kind] + FRESH))
    path = draw(
        st.sampled_from(
            [
                f"/entries/new/{kind}",
                f"/entries/test/{kind}",
                f"/entries/{kind}/{name}/edit",
                f"/entries/{kind}/{name}/delete",
                f"/entries/{kind}/{name}/undelete",
                f"/entries/{kind}/{name}/restore/{draw(st.integers(0, 5))}",
            ]
        )
    )
    fields = draw(entry_fields(kind))
    fields.update(draw(tamed(st.dictionaries(st.sampled_from(FIELDS), values, max_size=2), complete=False)))
    state = draw(st.sampled_from(["editor", "editor", "editor", "reader"]))
    return Attack(state=state, method="POST", path=path, fields=tuple(fields.items()), csrf=state)


@st.composite
def attacks(draw) -> Attack:  # type: ignore[no-untyped-def]
    state = draw(st.sampled_from(STATES))
    template = draw(st.sampled_from(list(ROUTES)))
    kind = draw(kinds)
    path = (
        template.replace("{kind}", draw(segment(st.just(kind))))
        .replace(
            "{name}", draw(segment(mostly(st.sampled_from(NAMES_OF.get(kind, EXISTING) + FRESH), names)))
        )
        .replace("{version}", draw(segment(versions)))
        .replace("{path}", draw(segment(st.one_of(st.just("style.css"), names))))
    )
    method = draw(mostly(st.sampled_from(ROUTES[template]), st.sampled_from(ODD_METHODS)))
    fields = draw(tamed(st.dictionaries(field_names, values, max_size=6)))
    if draw(mostly(st.just(True), st.just(False))):
        fields.update(
            draw(entry_fields(kind if kind in ("db", "api") else draw(st.sampled_from(["db", "api"]))))
        )
    body = draw(mostly(st.just("form"), st.sampled_from(["multipart", "raw", "none"])))
    csrf = {
        "anonymous": st.sampled_from(["absent", "editor", "text:x"]),
        "no_csrf": st.just("absent"),
        "wrong_csrf": st.one_of(
            st.sampled_from(["reader", "mangled", "empty"]), text.map(lambda t: "text:" + t)
        ),
        "editor": st.just("editor"),
        "reader": st.just("reader"),
    }[state]
    return Attack(
        state=state,
        method=method,
        path=path,
        query=tuple(
            draw(
                st.dictionaries(st.sampled_from(["q", "kind", "name", "m", "next"]), text, max_size=2)
            ).items()
        ),
        fields=tuple(fields.items()),
        body=body,
        raw=draw(st.binary(max_size=200)) if body == "raw" else b"",
        content_type=draw(
            st.sampled_from(
                [
                    "application/x-www-form-urlencoded",
                    "multipart/form-data",
                    "multipart/form-data; boundary=x",
                    "application/json",
                    "text/plain; charset=utf-7",
                    "",
                ]
            )
        ),
        csrf=draw(csrf),
        forged_cookie=draw(
            st.one_of(st.none(), st.text(string.ascii_letters + string.digits + "-_=%", max_size=60))
        )
        if state == "anonymous"
        else None,
        login_nonce=state == "anonymous" and template == "/login" and draw(st.booleans()),
    )


# --- the properties -------------------------------------------------------------------------


def check(world: World, attack: Attack) -> None:
    """Send ``attack``; then every property: no 5xx, no secret, the headers, and no write
    unless the editor sent the right token and was answered with a redirect."""
    world.ensure_signed_in()
    before = world.snapshot()
    mark = world.bao.audit_mark()
    response = send(world, attack)
    what = f"{attack.state} {attack.method} {attack.path[:120]}"
    sent = "\n".join(
        [attack.path, *(v for _, v in attack.query + attack.fields), attack.raw.decode("latin-1")]
    )
    assert_sound(response, what, sent)
    writes = world.audit_writes(mark)
    done = [w for w in writes if not w.refused]
    if world.snapshot() != before:
        assert attack.state == "editor", f"{what}: a write without authorization"
        assert response.status_code == 303, f"{what}: wrote, yet answered {response.status_code}"
    assert all(
        world.in_workspace(w.path) or w.path.startswith((*OWN_TOKEN_PATHS, "auth/userpass/login/"))
        for w in done
    ), f"{what}: a write outside the workspace: {done}"
    if attack.state in ("anonymous", "no_csrf", "wrong_csrf"):
        assert not [w for w in writes if world.in_workspace(w.path)], f"{what}: a write reached Vault"
    if attack.state != "editor":
        assert not [w for w in done if world.in_workspace(w.path)], f"{what}: Vault accepted a write"
    wrote = any(world.in_workspace(w.path) for w in done)
    method = attack.method if attack.method in ("GET", "POST") else "other"
    event(f"{attack.state} {method}: {response.status_code}" + (" wrote" if wrote else ""))


HYPOTHESIS = settings(
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@settings(HYPOTHESIS, max_examples=400)
@given(attack=attacks())
def test_hostile_requests_never_fail_leak_or_write_unauthorized(world, attack):
    check(world, attack)


@settings(HYPOTHESIS, max_examples=150)
@given(attack=well_formed_posts())
def test_signed_in_writes_never_fail_leak_or_half_write(world, attack):
    """The same properties where writes really happen."""
    check(world, attack)


def test_the_generated_routes_are_every_route_of_the_app():
    app = create_app(VaultSettings(url="http://127.0.0.1:1"))
    methods: dict[str, set[str]] = {}
    for route in app.routes:
        if isinstance(route, Mount):
            methods[route.path + "/{path}"] = {"GET"}
        elif isinstance(route, Route):
            template = route.path.replace("{version:int}", "{version}")
            methods.setdefault(template, set()).update(set(route.methods or ()) - {"HEAD"})
    assert methods == {template: set(allowed) for template, allowed in ROUTES.items()}


# --- explicit cases -------------------------------------------------------------------------


def valid_fields(kind: str | None, name: str = "orders") -> dict[str, str]:
    """A complete, valid form for ``kind`` (based on version 1, the seeded entries' version)."""
    if kind == "db":
        return {
            "name": name,
            "action": "save",
            "version": "1",
            "engine": "postgresql",
            "host": "127.0.0.1",
            "port": "1",
            "username": "etl",
            "password": "pw-" + uuid.uuid4().hex,
        }
    if kind == "api":
        return {
            "name": name,
            "action": "save",
            "version": "1",
            "base_url": f"http://{NOWHERE}/",
            "auth.type": "bearer",
            "auth.token": "tok-" + uuid.uuid4().hex,
        }
    return {"current": "1"}


def post(world: World, person: Person | None, path: str, fields: dict[str, str], csrf: str | None = None):  # type: ignore[no-untyped-def]
    """POST as ``person`` (None: anonymous) with ``csrf`` as the token field, if any."""
    world.client.cookies.clear()
    headers = {"cookie": f"{COOKIE}={person.session_id}"} if person else {}
    data = dict(fields, **({"csrf_token": csrf} if csrf is not None else {}))
    response = world.client.post(path, data=data, headers=headers, follow_redirects=False)
    world.client.cookies.clear()
    return response


def assert_untouched(world: World, before: dict[str, Any], since: int, what: str) -> None:
    """Nothing reached the workspace in Vault after ``since``, and nothing changed there."""
    reached = [  # read first: the snapshot below lists the workspace (as root)
        f"{r.operation} {r.path}" for r in world.bao.audit_requests(since) if world.in_workspace(r.path)
    ]
    assert reached == [], f"{what}: reached Vault: {reached}"
    assert world.snapshot() == before, f"{what}: something was written"


def test_a_post_without_the_right_csrf_token_is_refused_before_vault(world):
    for path, kind in CSRF_ROUTES:
        for token in (None, "", "wrong", world.reader.csrf, world.editor.csrf + "x", "é-forged", "😀"):
            before, mark = world.snapshot(), world.bao.audit_mark()
            response = post(world, world.editor, path, valid_fields(kind), csrf=token)
            what = f"{path} with csrf_token={token!r}"
            assert response.status_code == 403, f"{what} -> {response.status_code}"
            assert "nothing was saved" in response.text, what
            assert_sound(response, what)
            assert_untouched(world, before, mark, what)
    assert world.app.state.sessions.get(world.editor.session_id) is not None  # /logout refused too


def test_the_reader_is_told_its_policy_does_not_allow_writes(world):
    cases = [
        ("/entries/new/db", valid_fields("db", "fresh_one")),
        ("/entries/new/api", valid_fields("api", "fresh-two")),
        ("/entries/db/orders/edit", valid_fields("db")),
        ("/entries/api/github/edit", valid_fields("api", "github")),
        ("/entries/db/orders/delete", {}),
        ("/entries/api/basic_api/undelete", {}),
        ("/entries/api/github/restore/1", {"current": "1"}),
    ]
    for path, fields in cases:
        before, mark = world.snapshot(), world.bao.audit_mark()
        response = post(world, world.reader, path, fields, csrf=world.reader.csrf)
        assert response.status_code == 403, f"{path} -> {response.status_code}"
        assert "Your Vault policy does not allow this" in response.text, path
        assert "Nothing was changed" in response.text, path
        assert_sound(response, path)
        assert world.snapshot() == before, f"{path}: something was written"
        writes = [w for w in world.audit_writes(mark) if world.in_workspace(w.path)]
        assert writes, f"{path}: the write never reached Vault (so Vault did not decide)"
        assert all(w.refused for w in writes), f"{path}: Vault accepted {writes}"


def test_anonymous_posts_go_to_sign_in_and_write_nothing(world):
    for path, kind in CSRF_ROUTES:
        for forged, token in ((None, None), (None, world.editor.csrf), ("forged-session-id", "x")):
            before, mark = world.snapshot(), world.bao.audit_mark()
            world.client.cookies.clear()
            headers = {"cookie": f"{COOKIE}={forged}"} if forged else {}
            data = dict(valid_fields(kind), **({"csrf_token": token} if token else {}))
            response = world.client.post(path, data=data, headers=headers, follow_redirects=False)
            assert response.status_code == 303, f"{path} -> {response.status_code}"
            assert response.headers["location"] == "/login?next=" + quote(path)
            assert_sound(response, path)
            assert_untouched(world, before, mark, path)


def test_an_oversized_body_is_refused_before_vault(world):
    before, mark = world.snapshot(), world.bao.audit_mark()
    fields = dict(valid_fields("db", "fresh_one"), description="x" * (MAX_BODY + 1))
    response = post(world, world.editor, "/entries/new/db", fields, csrf=world.editor.csrf)
    assert response.status_code == 413
    assert_untouched(world, before, mark, "a 64 KiB + 1 body")


def chunks(body: bytes, size: int = 4096) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_a_chunked_body_over_the_limit_is_refused_before_vault(world):
    """No Content-Length (Transfer-Encoding: chunked): the limit must hold all the same."""
    fields = dict(valid_fields("db", "fresh_one"), csrf_token=world.editor.csrf, description="x" * MAX_BODY)
    before, mark = world.snapshot(), world.bao.audit_mark()
    world.client.cookies.clear()
    response = world.client.post(
        "/entries/new/db",
        content=chunks(urlencode(fields).encode()),
        headers={
            "cookie": f"{COOKIE}={world.editor.session_id}",
            "content-type": "application/x-www-form-urlencoded",
        },
        follow_redirects=False,
    )
    assert "content-length" not in response.request.headers
    assert response.status_code in (400, 413), response.status_code
    assert_untouched(world, before, mark, "a chunked body over 64 KiB")


def test_a_chunked_body_is_not_read_past_the_limit(world):
    """Straight at the ASGI app: a 1 MiB stream in 4 KiB chunks is cut off near 64 KiB."""
    sent = 0
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        sent += 1
        return {"type": "http.request", "body": b"x" * 4096, "more_body": sent < 256}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/entries/new/db",
        "raw_path": b"/entries/new/db",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"cookie", f"{COOKIE}={world.editor.session_id}".encode()),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"transfer-encoding", b"chunked"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    run_async(world.app, scope, receive, send)
    assert messages[0]["status"] in (400, 413)
    assert sent <= MAX_BODY // 4096 + 2, f"read {sent} chunks of 4 KiB"


def test_a_chunked_body_within_the_limit_still_saves(world, canary):
    password = canary("chunked-pw-" + uuid.uuid4().hex)
    fields = dict(valid_fields("db", "fresh_one"), password=password, csrf_token=world.editor.csrf)
    world.client.cookies.clear()
    response = world.client.post(
        "/entries/new/db",
        content=chunks(urlencode(fields).encode(), 16),
        headers={
            "cookie": f"{COOKIE}={world.editor.session_id}",
            "content-type": "application/x-www-form-urlencoded",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:300]
    saved = world.admin.request("GET", f"catalog/data/{world.workspace}/db/fresh_one")
    assert saved["data"]["data"]["password"] == password


@pytest.mark.parametrize(
    "fields",
    [
        {"version": "abc"},
        {"version": "1.0"},
        {"version": "-1"},
        {"version": "1" * 5000},
        {"version": "99999999999999999999999"},
    ],
    ids=["letters", "decimal", "negative", "5000-digits", "beyond-int64"],
)
def test_a_malformed_version_is_a_400_not_a_crash(world, fields):
    """Found by the hypothesis test: ``int()`` on the posted version was a 500, and a number
    beyond Vault's range a 502 ("Vault refused the request")."""
    before = world.snapshot()
    for path, kind in (
        ("/entries/db/orders/edit", "db"),
        ("/entries/test/db", "db"),
        ("/entries/db/orders/restore/1", None),
    ):
        base = valid_fields(kind)
        if kind is None:
            base["current"] = fields["version"]
        response = post(world, world.editor, path, dict(base, **fields), csrf=world.editor.csrf)
        assert response.status_code == 400, f"{path} {fields['version'][:20]!r} -> {response.status_code}"
        assert_sound(response, path)
    huge = post(
        world,
        world.editor,
        "/entries/db/orders/restore/99999999999999999999999",
        {"current": "1"},
        csrf=world.editor.csrf,
    )
    assert huge.status_code == 400
    assert world.snapshot() == before


def test_a_non_ascii_csrf_token_is_refused_not_a_crash(world):
    """Found by the hypothesis test: ``hmac.compare_digest`` raises TypeError on non-ASCII
    strings, so a forged token like "é" was a 500 instead of a 403."""
    for token in ("é", "😀", world.editor.csrf[:-1] + "é"):
        response = post(world, world.editor, "/entries/db/orders/delete", {}, csrf=token)
        assert response.status_code == 403, f"{token!r} -> {response.status_code}"
        world.client.cookies.clear()
        world.client.get("/login")  # the login page sets its nonce cookie
        login = world.client.post(
            "/login",
            data={"csrf_token": token, "username": world.editor.username, "password": "x"},
            follow_redirects=False,
        )
        assert login.status_code == 403, f"login with {token!r} -> {login.status_code}"
    assert world.app.state.sessions.get(world.editor.session_id) is not None


@pytest.mark.parametrize(
    "fields",
    [
        {"method": "userpass", "username": "../../../sys/seal", "password": "x"},
        {"method": "userpass", "username": "..%2F..%2Fsys%2Fseal", "password": "x"},
        {"method": "userpass", "username": "a/b?c=d#e", "password": "x"},
        {"method": "userpass", "username": "\x00", "password": "x"},
        {"method": "userpass", "username": "a\r\nX-Injected: 1", "password": "x"},
        {"method": "userpass", "username": "é😀", "password": "😀"},
        {"method": "userpass", "username": "u" * 5000, "password": "x"},
        {"method": "userpass", "username": "", "password": ""},
        {"method": "ldap", "username": "someone", "password": "x"},
        {"method": "token", "token": "not-a-token"},
        {"method": "token", "token": "é"},
        {"method": "token", "token": "😀"},
        {"method": "token", "token": "a\r\nX-Injected: 1"},
        {"method": "approle", "username": "x", "password": "y"},
    ],
    ids=[
        "dot-dot-username",
        "encoded-dot-dot-username",
        "query-in-username",
        "null-username",
        "crlf-username",
        "unicode-username",
        "long-username",
        "blank",
        "ldap-not-enabled",
        "unknown-token",
        "latin1-token",
        "emoji-token",
        "crlf-token",
        "unknown-method",
    ],
)
def test_hostile_sign_ins_fail_cleanly(world, fields):
    """No session, no 5xx. The emoji and CR/LF tokens were a 500 (UnicodeEncodeError from
    requests) and a 503 ("Vault is not reachable"): the form now refuses them as a failed
    sign-in."""
    before, mark = world.snapshot(), world.bao.audit_mark()
    world.client.cookies.clear()
    response = sign_in(world.client, **fields)
    what = f"sign-in with {fields!r}"[:200]
    assert_sound(response, what)
    assert COOKIE not in response.cookies, f"{what}: a session was created"
    assert response.status_code in (401, 303), f"{what} -> {response.status_code}"
    if response.status_code == 303:
        assert response.headers["location"].startswith("/login?"), what
    assert world.snapshot() == before
    accepted = [w for w in world.audit_writes(mark) if not w.refused]
    assert all(w.path.startswith("auth/userpass/login/") for w in accepted), accepted
    world.client.cookies.clear()


@pytest.mark.parametrize("description", ["Orders\u00a0DB", "\U0001f469\u200d\U0001f4bb team", "a\tb"])
def test_a_description_vault_cannot_keep_in_metadata(world, description):
    """Found by the hypothesis test. Either the entry is saved whole (descriptors included)
    or it is refused with a 4xx and nothing is written; never saved-but-reported-failed."""
    before = world.snapshot()
    fields = dict(valid_fields("api", "fresh-two"), description=description)
    response = post(world, world.editor, "/entries/new/api", fields, csrf=world.editor.csrf)
    assert_sound(response, "a description with an unprintable character")
    if response.status_code == 303:
        summary = {s.ref.name: s for s in CatalogStore(world.admin, workspace=world.workspace).list()}
        assert summary["fresh-two"].descriptors_current
    else:
        assert 400 <= response.status_code < 500
        assert world.snapshot() == before
