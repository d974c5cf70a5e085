"""The cache every consumer shares: at most one Vault read per entry per TTL.

- hits are kept for ``ttl`` seconds, misses (not found, access denied) for ``miss_ttl``;
- single-flight: many threads missing the same entry at once wait for one read;
- stale-if-error: while Vault is unavailable, the last good value is served for up to
  ``stale_ttl`` seconds past its expiry, flagged ``stale=True`` and with a warning;
  errors other than "unavailable" are never hidden behind a stale value;
- ``invalidate()`` drops one entry or all.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from .catalog import DatabaseSecret, EntryKind
from .errors import AccessDenied, EntryNotFound, VaultError, VaultUnavailable
from .leases import LeaseManager
from .store import DOCUMENTS_FOLDER, CatalogStore, Document, Entry, EntryRef

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_NEGATIVE = (EntryNotFound, AccessDenied)


@dataclass
class _Slot(Generic[V]):
    value: V | None = None
    error: VaultError | None = None  # a cached miss
    fetched_at: float = 0.0
    expires_at: float = 0.0
    stale_until: float = 0.0  # the last moment this value may be served while Vault is down
    stale: bool = False


def _fresh_copy(error: VaultError) -> VaultError:
    """A new exception like a cached one, so threads never share a traceback."""
    return type(error)(str(error), address=error.address, path=error.path)


class _Flight:
    """One read in progress; threads that miss the same key wait on it."""

    def __init__(self) -> None:
        self.done = threading.Event()


class TtlCache(Generic[K, V]):
    """A thread-safe TTL cache with single-flight loads and stale-if-error.

    ``load(key)`` is called at most once at a time per key.
    """

    def __init__(
        self,
        load: Callable[[K], V],
        *,
        ttl: float = 300.0,
        miss_ttl: float = 30.0,
        stale_ttl: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        describe: Callable[[K], str] = str,
    ) -> None:
        self._load = load
        self.ttl = ttl
        self.miss_ttl = miss_ttl
        self.stale_ttl = stale_ttl
        self._clock = clock
        self._describe = describe
        self._lock = threading.Lock()
        self._slots: dict[K, _Slot[V]] = {}
        self._flights: dict[K, _Flight] = {}

    def get(self, key: K) -> tuple[V, bool]:
        """The value for ``key`` and whether it is stale."""
        slot = self._slots.get(key)  # lock-free fast path: slots are replaced, never mutated
        if slot is not None and slot.error is None and self._clock() < slot.expires_at:
            return slot.value, slot.stale  # type: ignore[return-value]
        while True:
            with self._lock:
                slot = self._slots.get(key)
                now = self._clock()
                if slot is not None and now < slot.expires_at:
                    if slot.error is not None:
                        raise _fresh_copy(slot.error)
                    return slot.value, slot.stale  # type: ignore[return-value]
                flight = self._flights.get(key)
                if flight is None:
                    flight = self._flights[key] = _Flight()
                    leader = True
                else:
                    leader = False
            if not leader:
                flight.done.wait()
                continue  # re-read the slot the leader filled (or lead the next try)
            try:
                return self._fetch(key, slot)
            finally:
                with self._lock:
                    self._flights.pop(key, None)
                flight.done.set()

    def _fetch(self, key: K, previous: _Slot[V] | None) -> tuple[V, bool]:
        # The TTL counts from when the read was sent, not from when the answer arrived: a
        # value is never served more than ``ttl`` after a moment it was known current.
        sent = self._clock()
        try:
            value = self._load(key)
        except _NEGATIVE as exc:
            with self._lock:
                self._slots[key] = _Slot(error=exc, fetched_at=sent, expires_at=sent + self.miss_ttl)
            raise
        except VaultUnavailable as exc:
            now = self._clock()
            if previous is None or previous.error is not None or now >= previous.stale_until:
                raise
            log.warning(
                "serving a stale value for %s (fetched %.0fs ago, served until %.0fs from now) "
                "because Vault is unavailable: %s",
                self._describe(key),
                now - previous.fetched_at,
                previous.stale_until - now,
                exc,
            )
            # Ask Vault again after a short pause, not on every call.
            retry_at = min(now + min(self.miss_ttl, 5.0), previous.stale_until)
            with self._lock:
                self._slots[key] = replace(previous, expires_at=retry_at, stale=True)
            return previous.value, True  # type: ignore[return-value]
        with self._lock:
            self._slots[key] = _Slot(
                value=value,
                fetched_at=sent,
                expires_at=sent + self.ttl,
                stale_until=sent + self.ttl + self.stale_ttl,
            )
        return value, False

    def peek(self, key: K) -> V | None:
        """The cached value if fresh, without loading."""
        with self._lock:
            slot = self._slots.get(key)
            if slot and slot.error is None and self._clock() < slot.expires_at:
                return slot.value
        return None

    def invalidate(self, key: K | None = None) -> None:
        with self._lock:
            if key is None:
                self._slots.clear()
            else:
                self._slots.pop(key, None)

    def invalidate_where(self, matches: Callable[[K], bool]) -> None:
        with self._lock:
            for key in [k for k in self._slots if matches(k)]:
                del self._slots[key]

    def __len__(self) -> int:
        return len(self._slots)


class CatalogResolver:
    """Entries by reference, from memory when possible. One per process, shared by threads."""

    def __init__(
        self,
        store: CatalogStore,
        *,
        ttl: float = 300.0,
        miss_ttl: float = 30.0,
        stale_ttl: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        leases: LeaseManager | None = None,
    ) -> None:
        self.store = store
        self._leases: LeaseManager | None = leases
        self._leases_lock = threading.Lock()
        timing = {"ttl": ttl, "miss_ttl": miss_ttl, "stale_ttl": stale_ttl, "clock": clock}
        self._entries: TtlCache[tuple[EntryRef, int | None], Entry] = TtlCache(
            lambda key: store.get(*key), describe=lambda key: store.where(key[0]), **timing
        )
        self._names: TtlCache[EntryKind, frozenset[str]] = TtlCache(
            lambda kind: _visible(
                lambda: store.names(kind), f"{store.mount}/{store.workspace}/{kind.value}/"
            ),
            describe=lambda kind: f"{store.mount}/{store.workspace}/{kind.value}/",
            **timing,
        )
        self._document_names: TtlCache[str, frozenset[str]] = TtlCache(
            lambda folder: _visible(
                lambda: store.document_names(folder), f"{store.mount}/{store.workspace}/{folder}/"
            ),
            describe=lambda folder: f"{store.mount}/{store.workspace}/{folder}/",
            **timing,
        )
        self._documents: TtlCache[tuple[str, str], Document] = TtlCache(
            lambda key: store.get_document(key[1], key[0]),
            describe=lambda key: f"{store.mount}/{store.workspace}/{key[0]}/{key[1]}",
            **timing,
        )

    def get(self, ref: EntryRef, version: int | None = None) -> Entry:
        """The entry's latest (or pinned) version; ``entry.stale`` says it is an old value
        served because Vault is unavailable. A database entry whose credentials come from
        the database secrets engine gets its username and password from this process's
        lease (one per role per process)."""
        entry, stale = self._entries.get((ref, version))
        secret = entry.secret
        if isinstance(secret, DatabaseSecret) and secret.leased:
            username, password = self.leases.credentials(secret)
            entry = replace(entry, secret=replace(secret, username=username, password=password))
        return replace(entry, stale=True) if stale else entry

    @property
    def leases(self) -> LeaseManager:
        """The lease manager for leased entries, created on first need."""
        with self._leases_lock:
            if self._leases is None:
                self._leases = LeaseManager(self.store.session)
            return self._leases

    def close(self) -> None:
        """Revoke this process's leases (the end of a run)."""
        if self._leases is not None:
            self._leases.close()

    def names(self, kind: EntryKind) -> frozenset[str]:
        """The names of one kind of entry: one ``LIST`` per TTL, so that a lookup of a name
        that does not exist is answered from memory."""
        return self._names.get(kind)[0]

    def exists(self, ref: EntryRef) -> bool:
        return ref.name in self.names(ref.kind)

    def document_names(self, folder: str = DOCUMENTS_FOLDER) -> frozenset[str]:
        """The plain documents in ``<workspace>/<folder>/``: one ``LIST`` per TTL."""
        return self._document_names.get(folder)[0]

    def document(self, name: str, folder: str = DOCUMENTS_FOLDER) -> Document:
        return self._documents.get((folder, name))[0]

    def invalidate(self, ref: EntryRef | None = None) -> None:
        """Forget one entry (every version of it) or, with no argument, everything."""
        if ref is None:
            self._entries.invalidate()
            self._names.invalidate()
            self._document_names.invalidate()
            self._documents.invalidate()
            return
        self._entries.invalidate_where(lambda key: key[0] == ref)

    def __repr__(self) -> str:
        return f"CatalogResolver(store={self.store!r}, cached={len(self._entries)})"


def _visible(list_names: Callable[[], list[str]], folder: str) -> frozenset[str]:
    """A folder's names; a folder this token may not list holds nothing it can use (a
    grant lists only its entries' folders), said once per TTL in the log."""
    try:
        return frozenset(list_names())
    except AccessDenied:
        log.info("the policy does not allow listing %s: its entries are not visible here", folder)
        return frozenset()
