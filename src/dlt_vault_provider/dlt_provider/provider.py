"""``VaultCatalogProvider``: dlt's config and secrets answered from the Vault catalog.

dlt asks a provider thousands of questions per run, most for keys nobody set. This one
answers them from memory: it lists each catalog folder once per TTL (so a name that does
not exist costs nothing) and reads each entry it serves once per TTL, through the core's
resolver, which also renews the token and serves stale values while Vault is down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dlt.common.configuration.providers import ConfigProvider

from ..catalog import ApiSecret, DatabaseSecret, EntryKind
from ..errors import EntryNotFound, ValidationFailed
from ..resolver import CatalogResolver
from ..store import EntryRef
from .keys import (
    DATABASE_FIELDS,
    EntryField,
    api_value,
    database_value,
    document_candidates,
    entry_candidates,
    parse_bindings,
)

log = logging.getLogger(__name__)

PROVIDER_NAME = "Vault catalog"
_OWN_SECTIONS = ("vault", "providers")


class VaultCatalogProvider(ConfigProvider):
    """A dlt config provider over a ``CatalogResolver``.

    Pass a resolver (tests, explicit set-ups), or ``configure``: a callable returning
    ``(resolver, bindings, documents)``, called once on first use (the plugin passes one
    that reads dlt's own ``[vault]`` section).
    """

    def __init__(
        self,
        resolver: CatalogResolver | None = None,
        *,
        bindings: Mapping[str, str] | None = None,
        documents: bool = True,
        configure: Callable[[], tuple[CatalogResolver, Mapping[str, str] | None, bool]] | None = None,
    ) -> None:
        if resolver is None and configure is None:
            raise ValueError("VaultCatalogProvider needs a resolver or a configure callable")
        self._resolver = resolver
        self._bindings = parse_bindings(bindings) if resolver is not None else {}
        self._documents = documents
        self._configure = configure
        self._lock = threading.Lock()
        self._busy = threading.local()
        self._locations: dict[str, str] = {}

    # --- dlt's ConfigProvider ------------------------------------------------------------

    @property
    def name(self) -> str:
        return PROVIDER_NAME

    @property
    def supports_secrets(self) -> bool:
        return True

    @property
    def supports_sections(self) -> bool:
        return True

    @property
    def is_empty(self) -> bool:
        return False

    @property
    def locations(self) -> Sequence[str]:
        resolver = self._resolver
        if resolver is None:
            return ["vault (not connected yet)"]
        store = resolver.store
        return [f"vault:{store.session.address}/{store.mount}/{store.workspace}"]

    def get_value(
        self, key: str, hint: Any, pipeline_name: str | None, *sections: str
    ) -> tuple[Any | None, str]:
        full_key = ".".join(p for p in (pipeline_name, *sections, key) if p)
        if getattr(self._busy, "active", False) or (sections[:1] or (key,))[0] in _OWN_SECTIONS:
            # our own [vault] settings, and dlt's switches for its providers, come from the
            # other providers: answering them from Vault would be circular
            return None, full_key
        resolver = self._ready()
        value, location = self._find(resolver, key, tuple(sections), pipeline_name)
        if value is not None:
            self._locations[full_key] = location
        return value, full_key

    def get_value_location(self, key: str, pipeline_name: str | None, *sections: str) -> str:
        return self._locations.get(".".join(p for p in (pipeline_name, *sections, key) if p), "")

    def __repr__(self) -> str:
        return f"VaultCatalogProvider(locations={list(self.locations)!r})"

    # --- lookups -------------------------------------------------------------------------

    def _ready(self) -> CatalogResolver:
        if self._resolver is not None:
            return self._resolver
        with self._lock:
            if self._resolver is None:
                assert self._configure is not None
                self._busy.active = True
                try:
                    resolver, bindings, documents = self._configure()
                finally:
                    self._busy.active = False
                self._bindings = parse_bindings(bindings)
                self._documents = documents
                self._resolver = resolver
        return self._resolver

    def _find(
        self, resolver: CatalogResolver, key: str, sections: tuple[str, ...], pipeline: str | None
    ) -> tuple[Any | None, str]:
        for candidate in entry_candidates(key, sections, pipeline, self._bindings):
            found = self._entry_value(resolver, candidate, key, sections)
            if found[0] is not None:
                return found
        names = resolver.document_names() if self._documents else ()
        if names:  # most catalogs hold no documents: skip building candidates then
            for wanted in document_candidates(key, sections, pipeline):
                if wanted.name not in names:
                    continue
                document = resolver.document(wanted.name)
                where = f"{document.path} (version {document.version})"
                if wanted.field is None:
                    return dict(document.data), where
                if wanted.field in document.data:
                    return document.data[wanted.field], where
        return None, ""

    def _entry_value(
        self, resolver: CatalogResolver, candidate: EntryField, key: str, sections: tuple[str, ...]
    ) -> tuple[Any | None, str]:
        ref = candidate.ref
        if not candidate.bound and not resolver.exists(ref):
            return None, ""  # answered from the name list: no read for a missing entry
        if candidate.bound:
            self._check_kind(ref, key, sections)
        try:
            entry = resolver.get(ref)
        except EntryNotFound as exc:
            if not candidate.bound:
                return None, ""
            raise EntryNotFound(
                f"a [vault.bindings] entry for {'.'.join(sections)} names {ref}, but "
                f"{resolver.store.where(ref)} does not exist (or is deleted) on "
                f"{resolver.store.session.address}: register it or fix the binding",
                address=exc.address,
                path=exc.path,
            ) from None
        secret = entry.secret
        if isinstance(secret, DatabaseSecret):
            value = database_value(secret, candidate.field)
        elif isinstance(secret, ApiSecret) and candidate.field is not None:
            value = api_value(secret, candidate.field)
        else:
            value = None
        if value is None:
            return None, ""
        stale = ", stale: Vault unavailable" if entry.stale else ""
        return value, f"{entry.path} (version {entry.version}{stale})"

    def _check_kind(self, ref: EntryRef, key: str, sections: tuple[str, ...]) -> None:
        """A binding that names an entry of the wrong kind for the key is a config error."""
        wants_db = key == "credentials" or (sections[-1:] == ("credentials",) and key in DATABASE_FIELDS)
        shared = key in ("username", "password")
        if wants_db and ref.kind is not EntryKind.DATABASE:
            raise ValidationFailed.one(
                "vault.bindings",
                f"{'.'.join(sections)} is bound to {ref}, but dlt asks it for "
                f"database credentials ({key}): bind it to a db/<name> entry",
                "dlt provider settings",
            )
        if not wants_db and not shared and ref.kind is not EntryKind.API:
            raise ValidationFailed.one(
                "vault.bindings",
                f"{'.'.join(sections)} is bound to {ref}, but dlt asks it for "
                f"the API field {key!r}: bind it to an api/<name> entry",
                "dlt provider settings",
            )
