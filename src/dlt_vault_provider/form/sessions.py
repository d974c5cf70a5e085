"""Server-side sign-in sessions: the browser holds an opaque random id, never a token.

Each session owns the person's own ``VaultSession`` (their Vault identity, their policy)
and a CSRF token. A session ends at sign-out (the login token is revoked), after
``idle_timeout`` without use, and no later than the Vault token itself.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..store import CatalogStore
from ..vault.session import VaultSession

COOKIE = "dvp_session"


@dataclass
class SignedIn:
    """One person's session. ``store`` talks to Vault with their token."""

    id: str
    identity: str
    store: CatalogStore
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    expires_at: float = 0.0
    last_seen: float = 0.0

    @property
    def session(self) -> VaultSession:
        return self.store.session

    def csrf_ok(self, submitted: str | None) -> bool:
        # bytes: compare_digest raises TypeError on a non-ASCII str (a forged token would be a 500)
        return bool(submitted) and hmac.compare_digest(self.csrf.encode(), str(submitted).encode())

    def __repr__(self) -> str:
        return f"SignedIn(identity={self.identity!r})"


class SessionStore:
    """In-memory, thread-safe; one process serves the form (sessions do not survive a restart)."""

    def __init__(
        self, *, idle_timeout: float = 8 * 3600, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.idle_timeout = idle_timeout
        self._clock = clock
        self._sessions: dict[str, SignedIn] = {}
        self._lock = threading.Lock()

    def create(self, identity: str, store: CatalogStore, token_ttl: float | None) -> SignedIn:
        now = self._clock()
        ends = now + self.idle_timeout
        if token_ttl is not None:
            ends = min(ends, now + token_ttl)  # a session never outlives its Vault token
        signed_in = SignedIn(
            id=secrets.token_urlsafe(32), identity=identity, store=store, expires_at=ends, last_seen=now
        )
        with self._lock:
            self._sessions[signed_in.id] = signed_in
        return signed_in

    def get(self, session_id: str | None) -> SignedIn | None:
        if not session_id:
            return None
        now = self._clock()
        with self._lock:
            signed_in = self._sessions.get(session_id)
            if signed_in is None:
                return None
            if now >= signed_in.expires_at or now - signed_in.last_seen > self.idle_timeout:
                del self._sessions[session_id]
                expired = signed_in
            else:
                signed_in.last_seen = now
                return signed_in
        expired.session.close()
        return None

    def end(self, session_id: str | None) -> None:
        with self._lock:
            signed_in = self._sessions.pop(session_id or "", None)
        if signed_in is not None:
            signed_in.session.close()  # revokes a login token (revoke_on_close)

    def close_all(self) -> None:
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for signed_in in sessions:
            signed_in.session.close()
