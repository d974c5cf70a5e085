"""The registration form, assembled declaratively: routes, middleware, error pages.

``create_app()`` builds it; ``dlt-vault form`` serves it with uvicorn; Airflow 3 can mount
it as a plugin. The app holds no Vault token of its own: every request acts with the
signed-in person's session.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ..errors import (
    AccessDenied,
    EntryInvalid,
    EntryNotFound,
    LoginExpired,
    ValidationFailed,
    VaultError,
    VaultUnavailable,
)
from ..settings import VaultSettings
from . import views
from .security import SecurityHeaders
from .sessions import COOKIE, SessionStore

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
MAX_BODY = 64 * 1024  # a catalog entry fits easily; anything larger is refused unread


def create_app(
    settings: VaultSettings | None = None,
    *,
    mount: str = "catalog",
    workspace: str = "default",
    kv_version: int | None = 2,
    login_methods: tuple[str, ...] = ("userpass", "ldap", "token"),
    secure_cookies: bool = False,
    idle_timeout: float = 8 * 3600,
) -> Starlette:
    settings = settings or VaultSettings.from_env()
    if not settings.is_configured:
        raise ValidationFailed.one("url", "is not set: set VAULT_ADDR", "form settings")
    sessions = SessionStore(idle_timeout=idle_timeout)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        sessions.close_all()  # sign everyone out: their login tokens are revoked

    routes = [
        Route("/", views.home),
        Route("/login", views.login_page, methods=["GET"]),
        Route("/login", views.login, methods=["POST"]),
        Route("/logout", views.logout, methods=["POST"]),
        Route("/catalog", views.catalog),
        Route("/healthz", views.health),
        Route("/entries/new/{kind}", views.new_entry, methods=["GET"]),
        Route("/entries/new/{kind}", views.save_entry, methods=["POST"]),
        Route("/entries/test/{kind}", views.probe_json, methods=["POST"]),
        Route("/entries/{kind}/{name}", views.entry_page),
        Route("/entries/{kind}/{name}/edit", views.edit_entry, methods=["GET"]),
        Route("/entries/{kind}/{name}/edit", views.save_entry, methods=["POST"]),
        Route("/entries/{kind}/{name}/delete", views.confirm_delete, methods=["GET"]),
        Route("/entries/{kind}/{name}/delete", views.delete_entry, methods=["POST"]),
        Route("/entries/{kind}/{name}/undelete", views.undelete_entry, methods=["POST"]),
        Route("/entries/{kind}/{name}/restore/{version:int}", views.restore_version, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            views.NotSignedIn: _to_login,
            views.CsrfRejected: _csrf_rejected,
            LoginExpired: _login_expired,
            AccessDenied: _denied,
            VaultUnavailable: _unavailable,
            EntryNotFound: _not_found,
            EntryInvalid: _vault_error,
            VaultError: _vault_error,
            ValidationFailed: _bad_request,
            500: _internal_error,
        },
    )
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)  # outermost: every answer carries them, a 413 too
    app.state.settings = settings
    app.state.sessions = sessions
    app.state.mount = mount
    app.state.workspace = workspace
    app.state.kv_version = kv_version
    app.state.login_methods = login_methods
    app.state.secure_cookies = secure_cookies
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True
    )  # every value escaped, always
    app.state.templates = Jinja2Templates(env=environment)
    return app


class BodyLimit:
    """Refuse oversized bodies before they are parsed (and long before they reach Vault).

    A declared ``Content-Length`` is judged unread; a body without one (chunked) is read
    up to the limit here and replayed to the app, so no body is ever read past it.
    """

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > MAX_BODY:
                await _too_large(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY:
                await _too_large(scope, receive, send)
                return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _too_large(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    response = Response(
        "Request too large: an entry is at most 64 KiB.", status_code=413, media_type="text/plain"
    )
    await response(scope, receive, send)


def _error(request: Request, status: int, title: str, detail: str) -> Response:
    return views.render(request, "error.html", status_code=status, title=title, detail=detail)


async def _to_login(request: Request, exc: Exception) -> Response:
    return views.redirect(request, "/login?next=" + quote(views.app_path(request)))


async def _csrf_rejected(request: Request, exc: Exception) -> Response:
    return _error(
        request,
        403,
        "This form has expired",
        "The page was open too long or came from elsewhere, so nothing was saved. "
        "Go back, reload the page and try again.",
    )


async def _login_expired(request: Request, exc: Exception) -> Response:
    request.app.state.sessions.end(request.cookies.get(COOKIE))
    response = views.redirect(request, "/login?m=Your+Vault+login+expired:+sign+in+again")
    response.delete_cookie(COOKIE, path=views.root(request) or "/")
    return response


async def _denied(request: Request, exc: Exception) -> Response:
    path = getattr(exc, "path", "")
    return _error(
        request,
        403,
        "Your Vault policy does not allow this",
        f"Vault refused access to {path}. Nothing was changed. Ask your Vault "
        "administrators for a policy that grants it.",
    )


async def _unavailable(request: Request, exc: Exception) -> Response:
    return _error(request, 503, "Vault is not reachable", f"{exc} Try again in a moment.")


async def _not_found(request: Request, exc: Exception) -> Response:
    return _error(request, 404, "Not found", str(exc))


async def _vault_error(request: Request, exc: Exception) -> Response:
    return _error(request, 502, "Vault refused the request", str(exc))


async def _bad_request(request: Request, exc: Exception) -> Response:
    return _error(request, 400, "That request is not valid", str(exc))


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return Response(
        "Something went wrong on our side; nothing was saved.", status_code=500, media_type="text/plain"
    )
