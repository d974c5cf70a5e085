"""The form's pages. Each handler acts with the signed-in person's own Vault session, so
Vault's policies decide what they may list, read and write."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ..catalog import ENGINES, CatalogSecret, EntryKind, masked_document
from ..errors import EntryNotFound, LoginFailed, ValidationFailed, WriteConflict
from ..secret import Secret
from ..store import CatalogStore, EntryRef
from ..vault.auth import LdapAuth, TokenAuth, UserpassAuth
from ..vault.session import VaultSession
from .forms import (
    AUTH_INPUTS,
    AUTH_LABELS,
    ENGINE_PORTS,
    FormState,
    api_from_form,
    changed_fields,
    database_from_form,
    entry_name,
    public_values,
    values_of,
)
from .probe import probe
from .sessions import COOKIE, SignedIn

LOGIN_CSRF_COOKIE = "dvp_login"


class NotSignedIn(Exception):
    """No session: go to the sign-in page."""


class CsrfRejected(Exception):
    """A state-changing request without the right CSRF token: refused, nothing written."""


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    templates = request.app.state.templates
    context.setdefault("user", getattr(request.state, "user", None))
    context.setdefault("workspace", request.app.state.workspace)
    context.setdefault("mount", request.app.state.mount)
    context.setdefault("root", root(request))
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def root(request: Request) -> str:
    """Where the app is mounted ("" standalone, e.g. "/catalog-form" inside Airflow)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def redirect(request: Request, path: str) -> RedirectResponse:
    """A 303 to ``path`` inside the app, wherever it is mounted."""
    return RedirectResponse(root(request) + path, status_code=303)


def to_entry(request: Request, ref: EntryRef, message: str) -> RedirectResponse:
    """Back to the entry's page, with a message for the person."""
    return redirect(request, f"/entries/{ref.kind.value}/{quote(ref.name)}?m=" + quote(message))


def app_path(request: Request) -> str:
    """The request's path inside the app (without the mount prefix)."""
    path, prefix = request.url.path, root(request)
    return path[len(prefix) :] if prefix and path.startswith(prefix) else path


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.app.state.secure_cookies


def signed_in(request: Request) -> SignedIn:
    user = request.app.state.sessions.get(request.cookies.get(COOKIE))
    if user is None:
        raise NotSignedIn()
    request.state.user = user
    return user


async def form_data(request: Request, user: SignedIn) -> dict[str, str]:
    """The posted form, after the CSRF check (before anything is read or written)."""
    form = await request.form(max_fields=200, max_files=0)
    data = {k: str(v) for k, v in form.items()}
    if not user.csrf_ok(data.get("csrf_token")):
        raise CsrfRejected()
    return data


# --- sign-in ----------------------------------------------------------------------------


async def login_page(request: Request) -> Response:
    nonce = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        nonce=nonce,
        message=request.query_params.get("m"),
        methods=request.app.state.login_methods,
        values={},
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, nonce, httponly=True, samesite="strict", secure=_secure(request), path="/"
    )
    return response


async def login(request: Request) -> Response:
    form = {k: str(v) for k, v in (await request.form(max_fields=20, max_files=0)).items()}
    nonce = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not nonce or not secrets.compare_digest(nonce.encode(), form.get("csrf_token", "").encode()):
        raise CsrfRejected()
    method = form.get("method", "userpass")
    if method not in request.app.state.login_methods:
        method = "userpass"
    try:
        if method == "token":
            auth: Any = TokenAuth(Secret(form.get("token", "")), helper_file=None)  # checks its shape
        elif method == "ldap":
            auth = LdapAuth(form.get("username", ""), Secret(form.get("password", "")))
        else:
            auth = UserpassAuth(form.get("username", ""), Secret(form.get("password", "")))
        settings = request.app.state.settings.with_overrides(revoke_on_close=method != "token")
        session = VaultSession(settings, auth)
        try:
            info = session.whoami()
            ttl = session.token_ttl()
        except Exception:
            session.close()
            raise
    except (ValidationFailed, LoginFailed) as exc:
        message = "Sign-in failed: check the user name and password (or token)."
        if isinstance(exc, LoginFailed) and "unreachable" in str(exc):
            message = str(exc)
        return render(
            request,
            "login.html",
            status_code=401,
            nonce=nonce,
            message=message,
            methods=request.app.state.login_methods,
            values={"method": method, "username": form.get("username", "")},
        )
    store = CatalogStore(
        session,
        mount=request.app.state.mount,
        workspace=request.app.state.workspace,
        kv_version=request.app.state.kv_version,
    )
    user = request.app.state.sessions.create(info.identity, store, ttl)
    target = form.get("next") or "/catalog"
    safe = target.startswith("/") and not target.startswith("//")
    response = redirect(request, target if safe else "/catalog")
    response.set_cookie(
        COOKIE, user.id, httponly=True, samesite="strict", secure=_secure(request), path=root(request) or "/"
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=root(request) or "/")
    return response


async def logout(request: Request) -> Response:
    user = signed_in(request)
    await form_data(request, user)
    request.app.state.sessions.end(user.id)
    response = redirect(request, "/login?m=Signed+out")
    response.delete_cookie(COOKIE, path=root(request) or "/")
    return response


# --- the catalog ---------------------------------------------------------------------------


async def home(request: Request) -> Response:
    return redirect(request, "/catalog")


async def catalog(request: Request) -> Response:
    user = signed_in(request)
    text = request.query_params.get("q", "").strip().lower()
    kind = request.query_params.get("kind", "")
    summaries = user.store.list(EntryKind.parse(kind) if kind in ("db", "api") else None)
    if text:
        summaries = [
            s
            for s in summaries
            if text in " ".join([s.ref.name, *map(str, s.descriptors.values()), s.changed_by]).lower()
        ]
    return render(request, "catalog.html", entries=summaries, q=text, kind=kind)


def _kind(request: Request) -> EntryKind:
    try:
        return EntryKind.parse(request.path_params["kind"])
    except ValidationFailed:
        raise EntryNotFound(f"no such page: {request.url.path}") from None


def _ref(request: Request) -> EntryRef:
    try:
        return EntryRef(_kind(request), request.path_params["name"])
    except ValidationFailed:
        raise EntryNotFound(f"no such entry: {request.url.path}") from None


def _version(value: object, field: str) -> int:
    """A version number typed in the form or the path (0: none). Text that is not a whole
    number is a 400, never a ValueError (500); its range is the store's to check."""
    text = str(value or 0)
    try:
        if text.isascii() and text.isdigit():
            return int(text)
    except ValueError:  # more digits than int() reads
        pass
    raise ValidationFailed.one(field, "must be a version number")


async def entry_page(request: Request) -> Response:
    user = signed_in(request)
    ref = _ref(request)
    history = user.store.versions(ref)
    current = next((v for v in history if v.state == "active"), None) if history else None
    latest = history[0] if history else None
    entry = None
    if latest is not None and latest.state == "active":
        entry = user.store.get(ref)
    document = masked_document(entry.secret) if entry else {}
    return render(
        request,
        "entry.html",
        ref=ref,
        entry=entry,
        document=document,
        history=history,
        latest=latest,
        current=current,
        message=request.query_params.get("m"),
    )


def _new_state(kind: EntryKind) -> FormState:
    values = (
        {"engine": "postgresql", "port": str(ENGINE_PORTS["postgresql"])}
        if kind is EntryKind.DATABASE
        else {"auth.type": "bearer"}
    )
    return FormState(kind=kind, values=values)


async def new_entry(request: Request) -> Response:
    signed_in(request)
    kind = _kind(request)
    return _form_page(request, _new_state(kind), editing=False)


async def edit_entry(request: Request) -> Response:
    user = signed_in(request)
    ref = _ref(request)
    entry = user.store.get(ref)
    values, stored = values_of(entry.secret)
    state = FormState(
        kind=ref.kind, name=ref.name, values=values, stored_secrets=stored, version=entry.version
    )
    return _form_page(request, state, editing=True)


def _form_page(
    request: Request, state: FormState, *, editing: bool, status_code: int = 200, **extra: Any
) -> Response:
    return render(
        request,
        "entry_form.html",
        status_code=status_code,
        state=state,
        editing=editing,
        engines=list(ENGINES),
        engine_ports=ENGINE_PORTS,
        auth_inputs=AUTH_INPUTS,
        auth_labels=AUTH_LABELS,
        **extra,
    )


async def save_entry(request: Request) -> Response:
    """Create (``/entries/new/{kind}``) or update (``/entries/{kind}/{name}/edit``), or, with
    ``action=test``, try the connection without saving."""
    user = signed_in(request)
    form = await form_data(request, user)
    editing = "name" in request.path_params
    kind = _kind(request)
    name = request.path_params.get("name") or form.get("name", "").strip()
    version = _version(form.get("version"), "version") if editing else 0
    state = FormState(kind=kind, name=name, values=public_values(form, kind), version=version)
    keep: CatalogSecret | None = None
    errors: dict[str, str] = {}
    if editing:
        base = user.store.get(EntryRef(kind, name), version or None)
        keep = base.secret
        state.stored_secrets = values_of(base.secret)[1]
    else:
        try:
            entry_name(form)
        except ValidationFailed as exc:
            errors.update(exc.fields)
    try:
        secret = database_from_form(form, keep) if kind is EntryKind.DATABASE else api_from_form(form, keep)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if errors:  # every field to fix at once, the typed values kept, nothing written
        state.errors = errors
        return _form_page(request, state, editing=editing, status_code=422)
    if form.get("action") == "test":
        result = probe(secret, form.get("test_path", ""))
        return _form_page(request, state, editing=editing, probe=result)
    try:
        written = user.store.put(name, secret, expected_version=version, changed_by=user.identity)
    except WriteConflict as exc:
        return _conflict(request, user, state, secret, exc, editing)
    return to_entry(request, EntryRef(kind, name), f"Saved version {written}")


def _conflict(
    request: Request, user: SignedIn, state: FormState, mine: CatalogSecret, exc: WriteConflict, editing: bool
) -> Response:
    """Someone saved first: say so, show what they changed, keep what this person typed."""
    ref = EntryRef(state.kind, state.name)
    changes: list[tuple[str, str, str]] = []
    theirs_version = exc.current_version or 0
    try:
        theirs = user.store.get(ref)
        changes = changed_fields(mine, theirs.secret)
        theirs_version = theirs.version
    except EntryNotFound:
        pass
    state.errors = {}
    state.version = theirs_version  # saving again now replaces their version, knowingly
    return _form_page(request, state, editing=editing, status_code=409, conflict=exc, changes=changes)


async def probe_json(request: Request) -> Response:
    """The "Test connection" button with JavaScript: same checks, answered as JSON."""
    user = signed_in(request)
    form = await form_data(request, user)
    kind = _kind(request)
    keep = None
    name = form.get("name") or request.query_params.get("name", "")
    version = _version(form.get("version"), "version")
    if version > 0 and name:  # editing: blank secret inputs test with the stored values
        keep = user.store.get(EntryRef(kind, name), version).secret
    try:
        secret = database_from_form(form, keep) if kind is EntryKind.DATABASE else api_from_form(form, keep)
    except ValidationFailed as exc:
        return JSONResponse({"ok": False, "message": str(exc), "fields": exc.fields}, status_code=422)
    result = probe(secret, form.get("test_path", ""))
    return JSONResponse({"ok": result.ok, "message": result.message})


async def confirm_delete(request: Request) -> Response:
    user = signed_in(request)
    ref = _ref(request)
    user.store.get(ref)
    return render(request, "confirm_delete.html", ref=ref)


async def delete_entry(request: Request) -> Response:
    user = signed_in(request)
    await form_data(request, user)
    ref = _ref(request)
    user.store.delete(ref)
    return to_entry(request, ref, "Deleted")


async def undelete_entry(request: Request) -> Response:
    user = signed_in(request)
    await form_data(request, user)
    ref = _ref(request)
    user.store.undelete(ref)
    return to_entry(request, ref, "Undeleted")


async def restore_version(request: Request) -> Response:
    user = signed_in(request)
    form = await form_data(request, user)
    ref = _ref(request)
    version = _version(request.path_params["version"], "version")
    try:
        written = user.store.restore(
            ref, version, expected_version=_version(form.get("current"), "current"), changed_by=user.identity
        )
    except WriteConflict:
        return to_entry(request, ref, "Not restored: the entry changed meanwhile. Look again, then restore.")
    return to_entry(request, ref, f"Restored version {version} as version {written}")


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True})
