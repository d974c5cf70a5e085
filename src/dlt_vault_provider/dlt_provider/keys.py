"""Where a dlt key is served from: pure mapping, no dlt import, no Vault call.

dlt asks a provider for ``key`` under a path of sections, e.g. ``credentials`` under
``("sources", "sql_database", "sql_database")``, then shorter paths, first with the
pipeline name in front. This module says which catalog entry (or plain document) and
which field answer it:

- ``<top>.<N>.credentials`` (``top`` = sources or destination, with ``N`` the last
  section): the whole database entry ``db/<N>`` as a connection string;
- ``<top>.<N>.credentials.<field>``: one field of ``db/<N>``;
- ``sources.<N>.<field>`` for an API field (token, api_key, username, ...): ``api/<N>``;
- a binding (``[vault.bindings]``) replaces the convention for its section path;
- anything else: the plain document named by the dotted section path, under ``dlt/``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..catalog import (
    ApiKey,
    ApiSecret,
    BasicAuth,
    BearerToken,
    DatabaseSecret,
    EntryKind,
    OAuth2ClientCredentials,
)
from ..errors import ValidationFailed
from ..store import EntryRef

KNOWN_TOPS = ("sources", "destination")
DATABASE_FIELDS = ("host", "port", "database", "username", "password", "drivername", "query")
API_FIELDS = (
    "base_url",
    "token",
    "api_key",
    "api_key_name",
    "api_key_location",
    "username",
    "password",
    "client_id",
    "client_secret",
    "token_url",
    "scopes",
)

_ENTRY_KEYS = frozenset(("credentials", *DATABASE_FIELDS, *API_FIELDS))


@dataclass(frozen=True)
class EntryField:
    """Serve ``field`` of ``ref`` (``field`` None: the whole entry). ``bound`` is True when
    a binding named the entry, so that a missing or mistyped entry is an error, not a miss."""

    ref: EntryRef
    field: str | None
    bound: bool


@dataclass(frozen=True)
class DocumentField:
    """Serve ``field`` of the document ``name`` (``field`` None: the whole document)."""

    name: str
    field: str | None


def parse_bindings(raw: Mapping[str, object] | None) -> dict[str, EntryRef]:
    """``{"sources.sql_database": "db/orders_pg"}`` → references; a bad one names itself."""
    bindings: dict[str, EntryRef] = {}
    for section, target in (raw or {}).items():
        try:
            bindings[str(section).strip(".")] = EntryRef.parse(str(target))
        except ValidationFailed:
            raise ValidationFailed.one(
                f'vault.bindings."{section}"',
                f"must name an entry as db/<name> or api/<name>, not {str(target)[:80]!r}",
                "dlt provider settings",
            ) from None
    return bindings


def entry_candidates(
    key: str,
    sections: tuple[str, ...],
    pipeline: str | None,
    bindings: Mapping[str, EntryRef],
) -> list[EntryField]:
    """Entries that may answer ``key`` under ``sections``, in order of preference."""
    if key not in _ENTRY_KEYS:
        return []  # the common case: dlt asks thousands of keys no entry can hold
    sections = tuple(s for s in sections if s)
    if key == "credentials":
        owner, field, kind = sections, None, EntryKind.DATABASE
    elif sections and sections[-1] == "credentials" and key in DATABASE_FIELDS:
        owner, field, kind = sections[:-1], key, EntryKind.DATABASE
    elif key in API_FIELDS:
        owner, field, kind = sections, key, EntryKind.API
    else:
        return []
    found: list[EntryField] = []
    # A binding of a section covers its subsections too (dlt asks for
    # sources.sql_database.sql_database before sources.sql_database): longest match first.
    for prefix in ((pipeline,) if pipeline else ()) + ("",):
        for depth in range(len(owner), 1, -1):
            bound = bindings.get(".".join(p for p in (prefix, *owner[:depth]) if p))
            if bound is not None:
                found.append(EntryField(bound, field, bound=True))
                break
    if found:
        return found  # bound: the convention does not apply
    conventional = owner and owner[0] in KNOWN_TOPS and len(owner) in (2, 3)
    if conventional and not (kind is EntryKind.API and owner[0] != "sources"):
        # a section name that cannot be an entry name simply has no entry
        with contextlib.suppress(ValidationFailed):
            found.append(EntryField(EntryRef(kind, owner[-1]), field, bound=False))
    return found


def document_candidates(key: str, sections: tuple[str, ...], pipeline: str | None) -> list[DocumentField]:
    """Documents that may answer ``key``: the one named by the section path, holding ``key``,
    then one named by the path and the key, holding the whole value. Never the root."""
    sections = tuple(s for s in sections if s)
    found: list[DocumentField] = []
    for path in (((pipeline, *sections),) if pipeline else ()) + (sections,):
        if path:
            found.append(DocumentField(".".join(path), key))
        found.append(DocumentField(".".join((*path, key)), None))
    return found


def database_value(secret: DatabaseSecret, field: str | None) -> Any:
    """The whole entry as a connection string, or one field as dlt names it."""
    if field is None:
        return secret.connection_url().reveal()
    return {
        "host": secret.host,
        "port": secret.port,
        "database": secret.database,
        "username": secret.username,
        "password": secret.password.reveal(),
        "drivername": secret.drivername,
        "query": dict(secret.options),
    }[field]


def api_value(secret: ApiSecret, field: str) -> Any:
    """One API field as a dlt source names it; None when the entry's auth has no such field."""
    if field == "base_url":
        return secret.base_url
    auth = secret.auth
    values: dict[str, Any] = {}
    if isinstance(auth, BearerToken):
        values = {"token": auth.token.reveal()}
    elif isinstance(auth, ApiKey):
        values = {"api_key": auth.key.reveal(), "api_key_name": auth.name, "api_key_location": auth.location}
    elif isinstance(auth, BasicAuth):
        values = {"username": auth.username, "password": auth.password.reveal()}
    elif isinstance(auth, OAuth2ClientCredentials):
        values = {
            "client_id": auth.client_id,
            "client_secret": auth.client_secret.reveal(),
            "token_url": auth.token_url,
            "scopes": list(auth.scopes),
        }
    return values.get(field)
