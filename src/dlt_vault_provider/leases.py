"""Short-lived database credentials from Vault's database secrets engine.

One lease per role per process (never one per lookup). Dynamic leases are renewed in the
background (``sys/leases/renew``) before they expire; when a lease reaches its maximum
TTL, fresh credentials replace it and every listener is told (a callback that consumers
act on, and a log line without secrets). Every lease is revoked (``sys/leases/revoke``)
when the manager closes: at the end of a run, on success and failure alike (the owner
registers ``close`` at exit). Static roles are read from ``static-creds`` and cached until
the rotation the response announces.

The session's own renewer keeps the token that owns the leases alive as long as they are.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from .catalog import DatabaseSecret
from .errors import VaultError
from .secret import Secret
from .vault.session import VaultSession

log = logging.getLogger(__name__)

Listener = Callable[[str, str], None]  # (mount/role, new username): never the password


@dataclass
class Lease:
    """Credentials and what Vault said of them. ``lease_id`` is empty for static roles."""

    username: str
    password: Secret = field(repr=False)
    lease_id: str = field(default="", repr=False)
    ttl: float = 0.0
    renewable: bool = False
    issued_ttl: float = 0.0
    renewed_at: float = 0.0

    def expires_at(self) -> float:
        return self.renewed_at + self.ttl


class LeaseManager:
    """Credentials per (mount, role), leased once per process and given back at the end."""

    def __init__(
        self,
        session: VaultSession,
        *,
        renew_fraction: float = 2 / 3,
        clock: Callable[[], float] = time.monotonic,
        revoke_at_exit: bool = True,
    ) -> None:
        self.session = session
        self._renew_fraction = renew_fraction
        self._clock = clock
        self._leases: dict[tuple[str, str, str], Lease] = {}
        self._retired: list[Lease] = []  # replaced at max TTL: revoked at close too
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._tokens_seen = 0
        self._new_token = threading.Event()
        session.on_login(self._token_changed)
        if revoke_at_exit:
            atexit.register(_close_at_exit, weakref.ref(self))

    def _token_changed(self, token: Secret) -> None:
        """A new login: leases belong to the token that made them and die with it, so the
        next lookup leases afresh under the new token. Only a flag here: this runs inside
        the session's login, and taking our lock from there could deadlock."""
        self._tokens_seen += 1
        if self._tokens_seen > 1:
            self._new_token.set()

    def _retire_old_token_leases(self) -> None:
        """(Holding the lock.) Leases of a previous token are retired, revoked at close."""
        if self._new_token.is_set():
            self._new_token.clear()
            self._retired.extend(lease for lease in self._leases.values() if lease.lease_id)
            self._leases = {k: v for k, v in self._leases.items() if not v.lease_id}
            log.info("new Vault login: database leases are taken again under the new token")

    def on_replaced(self, listener: Listener) -> None:
        """Call ``listener(role, new_username)`` when a lease is replaced at its max TTL."""
        self._listeners.append(listener)

    def credentials(self, secret: DatabaseSecret) -> tuple[str, Secret]:
        """Username and password for a leased entry: from memory after the first call."""
        key = (secret.secrets_mount, secret.credentials, secret.role)
        with self._lock:
            self._retire_old_token_leases()
            lease = self._leases.get(key)
            now = self._clock()
            if lease is None or (lease.ttl and now >= lease.expires_at()):
                lease = self._leases[key] = self._fetch(key)
                if key[1] == "dynamic":
                    self._start()
            return lease.username, lease.password

    def close(self) -> None:
        """Stop renewing and revoke every lease this process holds."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stop.set()
            leases = [lease for lease in (*self._leases.values(), *self._retired) if lease.lease_id]
            self._leases.clear()
            self._retired.clear()
        for lease in leases:
            try:
                self.session.request("PUT", "sys/leases/revoke", json={"lease_id": lease.lease_id})
                log.info("revoked the lease of database user %s", lease.username)
            except VaultError as exc:
                log.warning("could not revoke the lease of %s: %s", lease.username, exc)

    def __repr__(self) -> str:
        return f"LeaseManager(leases={len(self._leases)}, closed={self._closed})"

    # --- Vault -------------------------------------------------------------------------

    def _fetch(self, key: tuple[str, str, str]) -> Lease:
        mount, source, role = key
        path = f"{mount}/creds/{role}" if source == "dynamic" else f"{mount}/static-creds/{role}"
        body = self.session.request("GET", path) or {}
        data = body.get("data") or {}
        now = self._clock()
        if source == "dynamic":
            ttl = float(body.get("lease_duration") or 0)
            lease = Lease(
                str(data.get("username", "")),
                Secret(str(data.get("password", ""))),
                str(body.get("lease_id") or ""),
                ttl,
                bool(body.get("renewable")),
                ttl,
                now,
            )
            log.info("leased database user %s from %s (ttl %.0fs)", lease.username, path, ttl)
            return lease
        ttl = float(data.get("ttl") or 0)  # seconds to the next rotation
        log.info(
            "read static database user %s from %s (rotates in %.0fs)", data.get("username", ""), path, ttl
        )
        return Lease(
            str(data.get("username", "")),
            Secret(str(data.get("password", ""))),
            "",
            max(ttl, 1.0),
            False,
            ttl,
            now,
        )

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._renew_loop, name="vault-lease-renewer", daemon=True)
            self._thread.start()

    def _renew_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                due = [(key, lease) for key, lease in self._leases.items() if lease.lease_id]
            if not due:
                return
            now = self._clock()
            next_at = min(held.renewed_at + held.ttl * self._renew_fraction for _, held in due)
            if next_at > now:
                self._stop.wait(min(next_at - now, 30.0))
                continue
            for key, lease in due:
                if lease.renewed_at + lease.ttl * self._renew_fraction <= self._clock():
                    self._renew_or_replace(key, lease)

    def _renew_or_replace(self, key: tuple[str, str, str], lease: Lease) -> None:
        granted = 0.0
        if lease.renewable:
            try:
                body = (
                    self.session.request(
                        "PUT",
                        "sys/leases/renew",
                        json={"lease_id": lease.lease_id, "increment": int(lease.issued_ttl)},
                    )
                    or {}
                )
                granted = float(body.get("lease_duration") or 0)
            except VaultError as exc:
                log.warning("could not renew the lease of %s: %s", lease.username, exc)
        if granted >= lease.issued_ttl * 0.5:
            with self._lock:
                lease.ttl, lease.renewed_at = granted, self._clock()
            log.debug("renewed the lease of %s for %.0fs", lease.username, granted)
            return
        # at (or near) its maximum TTL: new credentials, the old lease ends on its own
        try:
            fresh = self._fetch(key)
        except VaultError as exc:
            log.error("could not replace the expiring lease of %s: %s", lease.username, exc)
            with self._lock:
                lease.renewed_at = self._clock()
                lease.ttl = max(granted, 1.0)
            return
        with self._lock:
            if self._closed:
                self._retired.append(fresh)
                return
            self._leases[key] = fresh
            self._retired.append(lease)
        log.warning(
            "the lease of database user %s reached its max TTL: replaced by %s",
            lease.username,
            fresh.username,
        )
        for listener in self._listeners:
            listener(f"{key[0]}/{key[2]}", fresh.username)


def _close_at_exit(ref: weakref.ref[LeaseManager]) -> None:
    manager = ref()
    if manager is not None:
        manager.close()
