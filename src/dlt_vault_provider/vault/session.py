"""The one door to Vault: HTTP, retries, error translation and the token's life.

Everything that talks to Vault goes through ``VaultSession.request``. It is the single
boundary where transport and HTTP errors become this package's errors, each naming the
address and the path; callers never see ``requests`` or ``hvac`` exceptions.

Token life: the session logs in lazily, renews the token in a background thread before
it expires, logs in again when renewal is no longer possible, and after a 403 checks
its own token to tell "your policy denies this path" from "your login expired".
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import requests
from hvac.adapters import RawAdapter

from ..errors import (
    AccessDenied,
    EntryNotFound,
    LoginExpired,
    LoginFailed,
    SessionClosed,
    ValidationFailed,
    VaultError,
    VaultSealed,
    VaultUnavailable,
)
from ..secret import MASK, Secret
from ..settings import VaultSettings
from .auth import AuthMethod, LoginResult, TokenAuth
from .deadline import DeadlineAdapter, attempt_within
from .retry import RetryPolicy

log = logging.getLogger(__name__)

_RETRY_ALWAYS = {429, 503}  # the server did not act on the request
_RETRY_IF_IDEMPOTENT = {500, 502, 504}
_IDEMPOTENT = {"GET", "LIST", "HEAD", "DELETE", "PUT"}


class RequestRejected(VaultError):
    """Vault refused the request as malformed (400). Carries Vault's own messages."""

    def __init__(self, message: str, *, address: str, path: str, errors: tuple[str, ...]) -> None:
        self.errors = errors
        super().__init__(message, address=address, path=path)


@dataclass(frozen=True)
class TokenInfo:
    """What ``auth/token/lookup-self`` says about the session's token (no token value)."""

    display_name: str = ""
    policies: tuple[str, ...] = ()
    ttl: int = 0
    creation_ttl: int = 0
    renewable: bool = False
    entity_id: str = ""
    meta: Mapping[str, str] = field(default_factory=dict)

    @property
    def identity(self) -> str:
        """Who the token stands for, for "changed by": a username if known, else its name."""
        for key in ("username", "role_name", "role", "service_account_name"):
            if self.meta.get(key):
                return str(self.meta[key])
        return self.display_name or "unknown"


@dataclass(frozen=True)
class _TokenState:
    token: Secret = field(repr=False)
    ttl: int  # seconds from renewed_at; 0 means it never expires
    renewable: bool
    renewed_at: float
    from_login: bool
    generation: int
    creation_ttl: int = 0

    def expires_at(self) -> float | None:
        return None if self.ttl <= 0 else self.renewed_at + self.ttl


class VaultSession:
    """A connection to one Vault with one identity. Use it as a context manager.

    Thread-safe: one session serves every thread of a process.
    """

    def __init__(
        self,
        settings: VaultSettings,
        auth: AuthMethod | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        renew_fraction: float = 2 / 3,
    ) -> None:
        if not settings.url:
            raise ValidationFailed.one("url", "is not set: set VAULT_ADDR or pass url", "Vault settings")
        self.settings = settings
        self.auth = auth or TokenAuth(settings.token, settings.token_file)
        self.retry = RetryPolicy(
            max_attempts=settings.max_attempts,
            backoff=settings.backoff,
            max_backoff=settings.max_backoff,
            deadline=settings.deadline,
        )
        self._clock = clock
        self._renew_fraction = renew_fraction
        http = requests.Session()
        pool = DeadlineAdapter(pool_connections=4, pool_maxsize=settings.max_connections, max_retries=0)
        http.mount("https://", pool)
        http.mount("http://", pool)
        http.verify = settings.verify
        http.cert = settings.cert
        http.trust_env = False  # proxies and netrc from the environment never see Vault traffic
        self._adapter = RawAdapter(
            base_uri=settings.url,
            namespace=settings.namespace,
            session=http,
            verify=settings.verify,
            cert=settings.cert,
            timeout=(settings.connect_timeout, settings.read_timeout),
        )
        self._lock = threading.RLock()
        self._state: _TokenState | None = None
        self._info: TokenInfo | None = None
        self._generation = 0
        self._closed = False
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._login_listeners: list[Callable[[Secret], None]] = []
        self._breaker_lock = threading.Lock()
        self._breaker_failures = 0
        self._breaker_open_until = 0.0
        if settings.revoke_on_close:
            atexit.register(_close_at_exit, weakref.ref(self))

    # --- lifecycle --------------------------------------------------------------------

    @property
    def address(self) -> str:
        return str(self.settings.url)

    def __enter__(self) -> VaultSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self, *, at_exit: bool = False) -> None:
        """Stop renewing; revoke a login token if ``revoke_on_close``. Safe to call twice.

        ``at_exit``: the interpreter is ending, its log streams may be closed: one quick
        attempt, no log lines."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stop.set()
            state = self._state
        if self.settings.revoke_on_close and state is not None and state.from_login:
            try:
                self._send("POST", "auth/token/revoke-self", token=state.token, idempotent=not at_exit)
                if not at_exit:
                    log.info("revoked the login token of %s", self.auth.describe())
            except VaultError as exc:
                if not at_exit:
                    log.warning("could not revoke the login token at %s: %s", self.address, exc)
        if self._renewer is not None and self._renewer is not threading.current_thread():
            self._renewer.join(timeout=2)
        self._adapter.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        return f"VaultSession(address={self.address!r}, auth={self.auth!r}, closed={self._closed})"

    # --- requests ---------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
        wrap_ttl: str | None = None,
    ) -> dict[str, Any] | None:
        """Send one authenticated request; return the JSON body (None for 204).

        ``path`` has no ``/v1/`` prefix, e.g. ``catalog/data/default/db/orders``.
        ``idempotent=False`` (default for POST) retries only when Vault surely did not
        act: connection refused, 429, 503. ``wrap_ttl`` asks Vault to response-wrap.
        """
        state = self._current_state()
        options = {"json": json, "params": params, "idempotent": idempotent, "wrap_ttl": wrap_ttl}
        try:
            return self._send(method, path, token=state.token, **options)
        except AccessDenied:
            state = self._recover_from_403(state, path)
        try:
            return self._send(method, path, token=state.token, **options)
        except AccessDenied:
            raise self._policy_denied(path) from None

    def _policy_denied(self, path: str) -> AccessDenied:
        return AccessDenied(
            f"access denied on {path} at {self.address}: the policy of this token "
            f"({self.auth.describe()}) does not allow it; ask for a policy that grants it",
            address=self.address,
            path=path,
        )

    def login_request(self, path: str, body: Mapping[str, Any], *, method: AuthMethod) -> LoginResult:
        """POST a login; any refusal is ``LoginFailed`` naming the method and mount."""
        try:
            response = self._send("POST", path, json=body, idempotent=True)
        except (AccessDenied, RequestRejected, EntryNotFound) as exc:
            raise LoginFailed(
                f"login to {self.address} with {method.describe()} failed: {exc.args[0]}",
                address=self.address,
                path=path,
            ) from None
        auth = (response or {}).get("auth")
        if not auth or not auth.get("client_token"):
            raise LoginFailed(
                f"login to {self.address} with {method.describe()} returned no token",
                address=self.address,
                path=path,
            )
        return LoginResult.from_auth_block(auth)

    def unwrap(self, wrapping_token: Secret) -> dict[str, Any]:
        """``POST sys/wrapping/unwrap`` with the wrapping token: works once, then never."""
        try:
            body = self._send("POST", "sys/wrapping/unwrap", token=wrapping_token, idempotent=False)
        except (AccessDenied, RequestRejected) as exc:
            raise LoginFailed(
                f"cannot unwrap at {self.address}: the wrapping token is invalid, expired or "
                f"already used ({exc.args[0]})",
                address=self.address,
                path="sys/wrapping/unwrap",
            ) from None
        unwrapped = dict((body or {}).get("data") or {})
        if (body or {}).get("auth"):  # a wrapped token arrives as an auth block
            unwrapped["auth"] = dict(body["auth"])
        return unwrapped

    def unauthenticated(self, method: str, path: str, **kwargs: Any) -> dict[str, Any] | None:
        """A request without a token (``sys/health``, ``sys/seal-status``)."""
        return self._send(method, path, idempotent=True, **kwargs)

    def whoami(self) -> TokenInfo:
        """``GET auth/token/lookup-self``, cached until the next login."""
        with self._lock:
            if self._info is not None:
                return self._info
        body = self.request("GET", "auth/token/lookup-self") or {}
        info = _token_info(body.get("data") or {})
        with self._lock:
            self._info = info
        return info

    def on_login(self, listener: Callable[[Secret], None]) -> None:
        """Call ``listener`` with each new token (now, if logged in already): log maskers
        such as Airflow's register the token this way, never reading it themselves."""
        self._login_listeners.append(listener)
        state = self._state
        if state is not None:
            listener(state.token)

    def token_ttl(self) -> float | None:
        """Seconds left on the token by the session's clock; None if it never expires."""
        state = self._current_state()
        ends = state.expires_at()
        return None if ends is None else max(0.0, ends - self._clock())

    # --- token life -------------------------------------------------------------------

    def _current_state(self) -> _TokenState:
        self._ensure_open()
        state = self._state
        if state is not None and self._usable(state):
            return state
        with self._lock:
            state = self._state
            if state is not None and self._usable(state):
                return state
            return self._login()

    def _usable(self, state: _TokenState) -> bool:
        ends = state.expires_at()
        return ends is None or self._clock() < ends or not self.auth.can_login_again

    def _login(self) -> _TokenState:
        """Log in (holding the lock) and start the renewer if the token expires."""
        result = self.auth.login(self)
        now = self._clock()
        ttl, renewable = result.ttl, result.renewable
        creation_ttl = ttl
        info = None
        if ttl is None:  # a given token: learn its TTL from lookup-self
            try:
                body = self._send("GET", "auth/token/lookup-self", token=result.token, idempotent=True)
            except AccessDenied:
                raise LoginExpired(
                    f"the Vault token for {self.address} is invalid, expired or revoked; "
                    "get a new one (bao login / vault login) or configure an auth method",
                    address=self.address,
                    path="auth/token/lookup-self",
                ) from None
            info = _token_info((body or {}).get("data") or {})
            ttl, renewable, creation_ttl = info.ttl, info.renewable, info.creation_ttl or info.ttl
        self._generation += 1
        self._state = _TokenState(
            token=result.token,
            ttl=int(ttl or 0),
            renewable=renewable,
            renewed_at=now,
            from_login=result.from_login,
            generation=self._generation,
            creation_ttl=int(creation_ttl or 0),
        )
        self._info = info
        for listener in self._login_listeners:
            listener(result.token)
        log.info(
            "Vault session for %s: logged in with %s (ttl %ss, renewable %s)",
            self.address,
            self.auth.describe(),
            ttl,
            renewable,
        )
        self._start_renewer()
        return self._state

    def _recover_from_403(self, failed: _TokenState, path: str) -> _TokenState:
        """After a 403: is it the policy (raise) or a dead token (log in again once)?"""
        with self._lock:
            current = self._state
            if current is not None and current.generation != failed.generation:
                return current  # another thread already logged in again
            try:
                self._send("GET", "auth/token/lookup-self", token=failed.token, idempotent=True)
            except AccessDenied:
                pass  # the token itself is dead
            else:
                raise self._policy_denied(path)
            if not self.auth.can_login_again:
                raise LoginExpired(
                    f"the Vault token for {self.address} has expired or was revoked, and "
                    f"{self.auth.describe()} cannot log in again; set a fresh VAULT_TOKEN "
                    "or configure an auth method",
                    address=self.address,
                    path=path,
                )
            log.warning("Vault token for %s is no longer valid; logging in again", self.address)
            return self._login()

    def _start_renewer(self) -> None:
        if not self.settings.renew or self._closed:
            return
        if self._renewer is not None and self._renewer.is_alive():
            return
        state = self._state
        if state is None or state.ttl <= 0:
            return
        self._renewer = threading.Thread(target=self._renew_loop, name="vault-token-renewer", daemon=True)
        self._renewer.start()

    def _renew_loop(self) -> None:
        """Renew at ``renew_fraction`` of the TTL; log in again when renewal cannot go on."""
        pause = 1.0
        while not self._stop.is_set():
            state = self._state
            if state is None or state.ttl <= 0:
                return
            wait = state.renewed_at + state.ttl * self._renew_fraction - self._clock()
            if wait > 0:
                self._stop.wait(min(wait, 60.0))
                continue
            try:
                if not self._extend(state):
                    return
                pause = 1.0
            except VaultError as exc:
                log.warning("cannot renew the Vault token at %s yet: %s", self.address, exc)
                self._stop.wait(pause)
                pause = min(pause * 2, 30.0)

    def _extend(self, state: _TokenState) -> bool:
        """Renew the token, or log in again; False when neither is possible."""
        wanted = state.creation_ttl
        if state.renewable:
            granted = self._renew_self(state)
            if granted > 0:
                near_max = granted < wanted * 0.5 and self.auth.can_login_again
                self._replace_state(state, ttl=granted, renewed_at=self._clock(), renewable=not near_max)
                if near_max:
                    log.info(
                        "the Vault token for %s is near its max TTL (%ss left); will log in again",
                        self.address,
                        granted,
                    )
                else:
                    log.info("renewed the Vault token for %s: ttl %ss", self.address, granted)
                return True
        if self.auth.can_login_again:
            with self._lock:
                if self._state is state and not self._closed:
                    self._login()
            return True
        log.warning(
            "the Vault token for %s can no longer be renewed and %s cannot log in again; it will expire",
            self.address,
            self.auth.describe(),
        )
        return False

    def _renew_self(self, state: _TokenState) -> int:
        """``POST auth/token/renew-self``; the TTL granted, 0 if Vault refused."""
        try:
            body = (
                self._send(
                    "POST",
                    "auth/token/renew-self",
                    json={"increment": f"{state.creation_ttl}s"},
                    token=state.token,
                    idempotent=True,
                )
                or {}
            )
        except (AccessDenied, RequestRejected):
            return 0
        return int((body.get("auth") or {}).get("lease_duration") or 0)

    def _replace_state(self, state: _TokenState, **changes: Any) -> None:
        with self._lock:
            if self._state is state:
                self._state = replace(state, **changes)

    def _ensure_open(self) -> None:
        if self._closed:
            raise SessionClosed(
                f"the Vault session for {self.address} is closed; open a new one",
                address=self.address,
            )

    # --- transport: the one place where HTTP becomes this package's errors ---------------

    def _send(self, method: str, path: str, **options: Any) -> dict[str, Any] | None:
        """One call with its retries, behind the circuit breaker: after
        ``breaker_threshold`` calls in a row found Vault unavailable, calls fail at once
        (no request) for a cooldown that doubles up to 30 s; then one call tries again."""
        now = self._clock()
        with self._breaker_lock:
            open_until, failures = self._breaker_open_until, self._breaker_failures
        if now < open_until:
            raise VaultUnavailable(
                f"Vault at {self.address} failed {failures} calls in a row; not asking again "
                f"for {open_until - now:.1f}s (circuit open) for {method.upper()} {path.strip('/')}",
                address=self.address,
                path=path.strip("/"),
            )
        try:
            body = self._attempts(method, path, **options)
        except VaultUnavailable:
            with self._breaker_lock:
                self._breaker_failures += 1
                over = self._breaker_failures - self.settings.breaker_threshold
                if over >= 0:
                    pause = min(30.0, self.settings.breaker_cooldown * (2 ** min(over, 5)))
                    self._breaker_open_until = self._clock() + pause
                    log.warning(
                        "Vault at %s: circuit open for %.1fs after %d failed calls",
                        self.address,
                        pause,
                        self._breaker_failures,
                    )
            raise
        except VaultError:
            self._breaker_reset()
            raise
        self._breaker_reset()
        return body

    def _breaker_reset(self) -> None:
        with self._breaker_lock:
            self._breaker_failures, self._breaker_open_until = 0, 0.0

    def _attempts(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        token: Secret | None = None,
        idempotent: bool | None = None,
        wrap_ttl: str | None = None,
    ) -> dict[str, Any] | None:
        method = method.upper()
        path = path.strip("/")
        if idempotent is None:
            idempotent = method in _IDEMPOTENT
        headers = {"X-Vault-Token": token.reveal()} if token else {}
        if wrap_ttl:
            headers["X-Vault-Wrap-TTL"] = wrap_ttl
        budget = self.retry.start(self._clock)
        secrets = _secret_strings(json, token)
        while True:
            attempt = budget.next_attempt()
            remaining = budget.remaining()
            timeout = (
                min(self.settings.connect_timeout, remaining),
                min(self.settings.read_timeout, remaining),
            )
            started = time.perf_counter()
            try:
                with attempt_within(remaining) as watched:  # the socket is cut at the deadline
                    response = self._adapter.request(
                        method,
                        f"/v1/{path}",
                        headers=dict(headers),
                        raise_exception=False,
                        json=json,
                        params=params,
                        timeout=timeout,
                        stream=True,
                    )
                    _read_body(response)
                if watched.expired:  # a cut can look like a short, complete answer: never use it
                    raise requests.ReadTimeout("the answer did not arrive within the deadline")
            except requests.RequestException as exc:
                reason, not_sent = _describe_transport_error(exc)
                if watched.expired:
                    reason, not_sent = "no complete answer within the deadline", False
                log.debug("%s %s: %s (attempt %d)", method, path, reason, attempt)
                if (idempotent or not_sent) and budget.wait_before_retry():
                    continue
                raise VaultUnavailable(
                    f"Vault at {self.address} is unreachable ({reason}) on {method} {path}; "
                    f"tried {attempt} time(s) in {budget.elapsed():.1f}s. Check that Vault "
                    "is running and that VAULT_ADDR is right.",
                    address=self.address,
                    path=path,
                ) from None
            elapsed_ms = (time.perf_counter() - started) * 1000
            status = response.status_code
            log.debug("%s %s -> %d in %.1f ms (attempt %d)", method, path, status, elapsed_ms, attempt)
            if status < 400:
                return _json_body(response)
            errors = _vault_errors(response, secrets)
            if status == 503 and any("sealed" in e.lower() for e in errors):
                raise VaultSealed(
                    f"Vault at {self.address} is sealed, so {path} cannot be reached; an "
                    "operator must unseal it (bao operator unseal).",
                    address=self.address,
                    path=path,
                )
            retryable = (
                status in _RETRY_ALWAYS
                or (idempotent and status in _RETRY_IF_IDEMPOTENT)
                or (status == 400 and _kv_upgrading(errors))
            )
            if retryable and budget.wait_before_retry(_retry_after(response)):
                log.warning("%s %s -> %d; retrying (attempt %d)", method, path, status, attempt)
                continue
            error = self._error_for(status, method, path, errors, attempt)
            if isinstance(error, EntryNotFound):
                # KV v2 answers 404 for a deleted version, with its (secret-free) metadata.
                error.details = dict((_json_body(response) or {}).get("data") or {})
                error.vault_errors = errors
            raise error

    def _error_for(
        self, status: int, method: str, path: str, errors: tuple[str, ...], attempts: int
    ) -> VaultError:
        detail = "; ".join(errors) or f"HTTP {status}"
        where = {"address": self.address, "path": path}
        if status in (401, 403):
            return AccessDenied(f"access denied on {method} {path} at {self.address}: {detail}", **where)
        if status == 404:
            return EntryNotFound(f"nothing at {path} on {self.address}", **where)
        if status == 400:
            return RequestRejected(
                f"Vault at {self.address} rejected {method} {path}: {detail}",
                errors=errors,
                **where,
            )
        if status in _RETRY_ALWAYS | _RETRY_IF_IDEMPOTENT:
            return VaultUnavailable(
                f"Vault at {self.address} answered {status} on {method} {path} "
                f"after {attempts} attempt(s): {detail}",
                **where,
            )
        return VaultError(f"Vault at {self.address} answered {status} on {method} {path}: {detail}", **where)


def _close_at_exit(ref: weakref.ref[VaultSession]) -> None:
    session = ref()
    if session is not None:
        session.close(at_exit=True)


def _token_info(data: Mapping[str, Any]) -> TokenInfo:
    return TokenInfo(
        display_name=str(data.get("display_name") or ""),
        policies=tuple(data.get("policies") or ()),
        ttl=int(data.get("ttl") or 0),
        creation_ttl=int(data.get("creation_ttl") or 0),
        renewable=bool(data.get("renewable")),
        entity_id=str(data.get("entity_id") or ""),
        meta={str(k): str(v) for k, v in (data.get("meta") or {}).items()},
    )


def _json_body(response: requests.Response) -> dict[str, Any] | None:
    if response.status_code == 204 or not response.content:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _vault_errors(response: requests.Response, secrets: list[str]) -> tuple[str, ...]:
    """Vault's ``errors`` list, with any value we sent masked out (never echo a secret)."""
    try:
        body = response.json()
        errors = body.get("errors") or []
    except (ValueError, AttributeError):
        errors = [response.reason or ""]
    cleaned = []
    for error in errors:
        text = str(error)
        for secret in secrets:
            text = text.replace(secret, MASK)
        cleaned.append(text[:500])
    return tuple(e for e in cleaned if e)


def _secret_strings(body: Any, token: Secret | None) -> list[str]:
    """Every string value of a request body (any may be secret), longest first."""
    found: list[str] = [token.reveal()] if token else []

    def walk(value: Any) -> None:
        if isinstance(value, str) and len(value) >= 3:
            found.append(value)
        elif isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(body)
    return sorted(set(found), key=len, reverse=True)


def _describe_transport_error(exc: requests.RequestException) -> tuple[str, bool]:
    """A short reason, and whether the request surely never reached Vault."""
    if isinstance(exc, requests.ConnectTimeout):
        return "connection timed out", True
    if isinstance(exc, requests.ReadTimeout):
        return "no answer within the read timeout", False
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed; check VAULT_CACERT", True
    text = " ".join(_exception_chain(exc))
    if "NewConnectionError" in text or "Connection refused" in text:
        return "connection refused", True
    if "NameResolutionError" in text or "Name or service not known" in text:
        return "host name not found", True
    if "RemoteDisconnected" in text or "Connection reset" in text or "aborted" in text:
        return "connection dropped", False
    return type(exc).__name__, False


def _exception_chain(exc: BaseException) -> Iterator[str]:
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        yield f"{type(current).__name__} {current}"
        for arg in getattr(current, "args", ()):
            reason = getattr(arg, "reason", None)
            if isinstance(reason, BaseException):
                yield f"{type(reason).__name__} {reason}"
        current = current.__cause__ or current.__context__
        seen += 1


def _read_body(response: requests.Response) -> None:
    """Read the whole body now, inside the watched attempt: the watchdog bounds it by the
    call's deadline however slowly it arrives."""
    try:
        response.content  # noqa: B018 - reads and keeps the body
    finally:
        response.close()


def _kv_upgrading(errors: tuple[str, ...]) -> bool:
    """A KV mount just created or upgraded answers 400 "Upgrading from non-versioned to
    versioned data ... will resume service shortly": transient, so retried."""
    return any("upgrading from non-versioned to versioned" in e.lower() for e in errors)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value else None
    except ValueError:
        return None
