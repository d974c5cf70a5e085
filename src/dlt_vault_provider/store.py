"""The catalog in Vault: typed entries in one KV mount, listed from metadata alone.

Layout: ``<mount>/<workspace>/db/<name>`` and ``<mount>/<workspace>/api/<name>``. The
secret fields live in the KV data; non-secret descriptors (kind, engine, host, port,
database, base URL, description, who changed it and when) are copied into the KV v2
``custom_metadata``, so ``list()`` never reads a secret and works under a policy that
grants only ``<mount>/metadata/...`` and ``<mount>/detailed-metadata/...``.

Every write is check-and-set on the version it was based on: a stale write is refused
with ``WriteConflict`` and nothing is overwritten.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .catalog import (
    CatalogSecret,
    EntryKind,
    secret_from_vault,
    validate_name,
)
from .errors import (
    EntryNotFound,
    UnsupportedOperation,
    ValidationFailed,
    WriteConflict,
)
from .vault.kv import KvV1, KvV2, kv_version
from .vault.session import RequestRejected, VaultSession

log = logging.getLogger(__name__)

DOCUMENTS_FOLDER = "dlt"  # plain documents for anything else a pipeline needs
VARIABLES_FOLDER = "variables"  # Airflow Variables: {"value": ...}
CONFIG_FOLDER = "config"  # Airflow config options: {"value": ...}
_DOCUMENT_FOLDERS = (DOCUMENTS_FOLDER, VARIABLES_FOLDER, CONFIG_FOLDER)
MAX_DOCUMENT = 64 * 1024  # bytes of JSON: a config document, not a data store
HISTORY_KEEP = 30  # versions whose author is kept in custom_metadata ("by.<version>")
_META_VALUE_BYTES = 512  # Vault's limit for one custom_metadata value
MAX_VERSION = 2**31 - 1  # beyond any real history; Vault answers 400 for numbers past int64


@dataclass(frozen=True, order=True)
class EntryRef:
    """Which entry: its kind and its name. ``str()`` gives ``db/orders``."""

    kind: EntryKind
    name: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", EntryKind.parse(self.kind))
        validate_name(self.name)

    @classmethod
    def parse(cls, text: str) -> EntryRef:
        """``db/orders`` or ``api/github``."""
        kind, sep, name = str(text).partition("/")
        if not sep:
            raise ValidationFailed.one("entry", "must look like db/<name> or api/<name>")
        return cls(EntryKind.parse(kind), name)

    def __str__(self) -> str:
        return f"{self.kind.value}/{self.name}"


@dataclass(frozen=True)
class Entry:
    """One version of an entry, read from Vault. ``stale`` is set by the resolver when it
    served a remembered value because Vault was unavailable."""

    ref: EntryRef
    secret: CatalogSecret
    version: int
    path: str
    created_time: str = ""
    changed_by: str = ""
    stale: bool = False


@dataclass(frozen=True)
class Document:
    """A plain document (any JSON object) under ``<workspace>/dlt/``. Every value is
    treated as secret: ``repr`` shows the keys only."""

    name: str
    data: Mapping[str, Any] = field(repr=False)
    version: int
    path: str

    def __repr__(self) -> str:
        return (
            f"Document(name={self.name!r}, keys={sorted(self.data)!r}, "
            f"version={self.version}, path={self.path!r})"
        )


@dataclass(frozen=True)
class EntrySummary:
    """What a listing shows of an entry: descriptors only, never a secret."""

    ref: EntryRef
    version: int
    descriptors: Mapping[str, str] = field(default_factory=dict)
    deleted: bool = False
    changed_by: str = ""
    changed_at: str = ""

    @property
    def descriptors_current(self) -> bool:
        """False if the last write's descriptors never reached the metadata."""
        return self.descriptors.get("version", "") == str(self.version)


@dataclass(frozen=True)
class VersionInfo:
    """One version in an entry's history."""

    version: int
    created_time: str
    deletion_time: str = ""
    destroyed: bool = False
    changed_by: str = ""

    @property
    def state(self) -> str:
        if self.destroyed:
            return "destroyed"
        return "deleted" if self.deletion_time else "active"


def validate_workspace(workspace: str) -> str:
    """A workspace is one or more name segments joined by '/' (e.g. ``main`` or ``team/dev``)."""
    parts = str(workspace or "").strip("/").split("/")
    try:
        for part in parts:
            validate_name(part)
    except ValidationFailed:
        raise ValidationFailed.one(
            "workspace", "must be name segments of letters, digits, '-', '_', '.' joined by '/'"
        ) from None
    return "/".join(parts)


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class CatalogStore:
    """Reads and writes catalog entries in one workspace of one KV mount."""

    def __init__(
        self,
        session: VaultSession,
        *,
        mount: str = "catalog",
        workspace: str = "default",
        kv_version: int | None = None,
    ) -> None:
        self.session = session
        self.mount = mount.strip("/")
        self.workspace = validate_workspace(workspace)
        self._kv_version = kv_version

    def __repr__(self) -> str:
        return f"CatalogStore(mount={self.mount!r}, workspace={self.workspace!r})"

    # --- paths --------------------------------------------------------------------------

    def path(self, ref: EntryRef) -> str:
        """The entry's path inside the mount: ``<workspace>/<kind>/<name>``."""
        return f"{self.workspace}/{ref.kind.value}/{ref.name}"

    def where(self, ref: EntryRef) -> str:
        """The full path for messages: ``<mount>/<workspace>/<kind>/<name>``."""
        return f"{self.mount}/{self.path(ref)}"

    @property
    def kv(self) -> KvV2 | KvV1:
        if self._kv_version is None:
            self._kv_version = kv_version(self.session, self.mount)
        cls = KvV1 if self._kv_version == 1 else KvV2
        return cls(self.session, self.mount)

    def _kv2(self, operation: str) -> KvV2:
        kv = self.kv
        if not isinstance(kv, KvV2):
            raise UnsupportedOperation(
                f"{operation} needs a KV version 2 mount; {self.mount} on "
                f"{self.session.address} is KV version 1 (read-only here)",
                address=self.session.address,
                path=self.mount,
            )
        return kv

    # --- reads ----------------------------------------------------------------------------

    def get(self, ref: EntryRef, version: int | None = None) -> Entry:
        """The latest (or a given) version of an entry. One request."""
        if version is not None:
            _check_version(version, "version")
        where = self.where(ref)
        kv = self.kv
        if isinstance(kv, KvV1):
            if version:
                raise UnsupportedOperation(
                    f"{self.mount} is KV version 1: it has no versions",
                    address=self.session.address,
                    path=where,
                )
            data = self._read_or_not_found(lambda: kv.read(self.path(ref)), where)
            return Entry(ref, secret_from_vault(ref.kind, data, where=where), 0, where)
        try:
            block = kv.read(self.path(ref), version)
        except EntryNotFound as exc:
            block = {"data": None, "metadata": (exc.details or {}).get("metadata")}
            if not block["metadata"]:
                raise EntryNotFound(
                    f"no entry at {where} on {self.session.address}"
                    + (f" (version {version})" if version else ""),
                    address=self.session.address,
                    path=where,
                ) from None
        metadata = block.get("metadata") or {}
        data = block.get("data")
        if data is None:  # deleted or destroyed version
            state = "destroyed" if metadata.get("destroyed") else "deleted"
            raise EntryNotFound(
                f"{where} version {metadata.get('version', version)} is {state}"
                + ("; undelete it or read another version" if state == "deleted" else ""),
                address=self.session.address,
                path=where,
            )
        number = int(metadata.get("version") or 0)
        custom = metadata.get("custom_metadata") or {}
        return Entry(
            ref=ref,
            secret=secret_from_vault(ref.kind, data, where=where),
            version=number,
            path=where,
            created_time=str(metadata.get("created_time") or ""),
            changed_by=_author(custom, number),
        )

    def find(self, name: str, version: int | None = None) -> Entry:
        """The entry called ``name``, database first, then API."""
        for kind in EntryKind:
            try:
                return self.get(EntryRef(kind, name), version)
            except EntryNotFound:
                continue
        raise EntryNotFound(
            f"no entry named {name!r} in {self.mount}/{self.workspace} (db/ or api/) "
            f"on {self.session.address}",
            address=self.session.address,
            path=f"{self.mount}/{self.workspace}",
        )

    def names(self, kind: EntryKind) -> list[str]:
        """Entry names of one kind: ``LIST`` only, no metadata, no secret."""
        return sorted(k for k in self.kv.list(f"{self.workspace}/{kind.value}") if not k.endswith("/"))

    def document_names(self, folder: str = DOCUMENTS_FOLDER) -> list[str]:
        """Names of the plain documents in ``<workspace>/<folder>/``: ``LIST`` only.

        dlt documents are named by the dotted section path they serve (``sources.pipedrive``,
        ``destination.bigquery.credentials``), so one flat listing finds them all."""
        return sorted(k for k in self.kv.list(self._document_path(folder, None)) if not k.endswith("/"))

    def get_document(self, name: str, folder: str = DOCUMENTS_FOLDER) -> Document:
        """``GET`` the document ``<workspace>/<folder>/<name>``: a JSON object, all of it secret."""
        path = self._document_path(folder, name)
        where = f"{self.mount}/{path}"
        kv = self.kv
        if isinstance(kv, KvV1):
            return Document(name, self._read_or_not_found(lambda: kv.read(path), where), 0, where)
        block = self._read_or_not_found(lambda: kv.read(path), where)
        if block.get("data") is None:
            raise EntryNotFound(f"{where} is deleted", address=self.session.address, path=where)
        version = int((block.get("metadata") or {}).get("version") or 0)
        return Document(name, dict(block["data"]), version, where)

    def put_document(
        self, name: str, data: Mapping[str, Any], *, expected_version: int, folder: str = DOCUMENTS_FOLDER
    ) -> int:
        """Write a plain document (check-and-set, like entries). A document that is not a
        JSON object of at most ``MAX_DOCUMENT`` bytes is refused before anything is sent."""
        path = self._document_path(folder, name)
        if not isinstance(data, Mapping):
            raise ValidationFailed.one("data", "must be a JSON object (a mapping of keys to values)")
        try:
            size = len(json.dumps(dict(data)).encode())
        except (TypeError, ValueError):
            raise ValidationFailed.one(
                "data", "must hold only JSON values (text, numbers, lists, objects)"
            ) from None
        if size > MAX_DOCUMENT:
            raise ValidationFailed.one(
                "data", f"is {size} bytes of JSON; a document is at most {MAX_DOCUMENT} bytes: split it"
            )
        kv = self._kv2("writing")
        try:
            written = kv.write(path, dict(data), cas=expected_version)
        except RequestRejected as exc:
            if any("check-and-set" in e for e in exc.errors):
                raise WriteConflict(
                    f"{self.mount}/{path} changed since version {expected_version}; nothing was written",
                    address=self.session.address,
                    path=f"{self.mount}/{path}",
                    expected_version=expected_version,
                ) from None
            raise
        return int(written.get("version") or 0)

    def _document_path(self, folder: str, name: str | None) -> str:
        if folder not in _DOCUMENT_FOLDERS:
            raise ValidationFailed.one("folder", f"must be one of {', '.join(_DOCUMENT_FOLDERS)}")
        if name is None:
            return f"{self.workspace}/{folder}"
        return f"{self.workspace}/{folder}/{validate_name(name)}"

    def list(self, kind: EntryKind | None = None) -> list[EntrySummary]:
        """Every entry with its descriptors, from metadata only. One request per kind on
        OpenBao (detailed metadata), else one per entry more."""
        kinds = [EntryKind.parse(kind)] if kind else list(EntryKind)
        summaries: list[EntrySummary] = []
        kv = self.kv
        for k in kinds:
            folder = f"{self.workspace}/{k.value}"
            if isinstance(kv, KvV1):
                summaries += [EntrySummary(EntryRef(k, n), 0) for n in self.names(k)]
                continue
            detailed = kv.list_detailed(folder)
            if detailed is None:
                detailed = {}
                for name in kv.list(folder):
                    if name.endswith("/"):
                        continue
                    try:
                        detailed[name] = kv.read_metadata(f"{folder}/{name}")
                    except EntryNotFound:
                        continue
            summaries += [_summary(EntryRef(k, n), m) for n, m in detailed.items() if not n.endswith("/")]
        return sorted(summaries, key=lambda s: s.ref)

    def versions(self, ref: EntryRef) -> list[VersionInfo]:
        """The entry's history, newest first, from ``GET metadata``."""
        where = self.where(ref)
        kv = self._kv2("version history")
        metadata = self._read_or_not_found(lambda: kv.read_metadata(self.path(ref)), where)
        custom = metadata.get("custom_metadata") or {}
        history = [
            VersionInfo(
                version=int(number),
                created_time=str(v.get("created_time") or ""),
                deletion_time=str(v.get("deletion_time") or ""),
                destroyed=bool(v.get("destroyed")),
                changed_by=_author(custom, int(number)),
            )
            for number, v in (metadata.get("versions") or {}).items()
        ]
        return sorted(history, key=lambda v: v.version, reverse=True)

    def current_version(self, ref: EntryRef) -> int:
        """The entry's latest version number; 0 when it has never been written."""
        try:
            return int(
                self._kv2("reading metadata").read_metadata(self.path(ref)).get("current_version") or 0
            )
        except EntryNotFound:
            return 0

    # --- writes -----------------------------------------------------------------------------

    def put(
        self,
        name: str,
        secret: CatalogSecret,
        *,
        expected_version: int,
        changed_by: str | None = None,
    ) -> int:
        """Write ``secret`` as the next version of ``name``; returns the new version.

        ``expected_version`` is the version this write is based on (0: the entry must
        not exist yet). Anything else is refused with ``WriteConflict``.
        """
        ref = EntryRef(secret.kind, validate_name(name))
        _check_version(expected_version, "expected_version", "must be 0 (new) or the version read")
        where = self.where(ref)
        kv = self._kv2("writing")
        metadata = self._metadata_or_empty(kv, ref)
        current = int(metadata.get("current_version") or 0)
        if current != expected_version:
            raise self._conflict(ref, expected_version, current)
        if expected_version == 0:
            self._refuse_name_taken_by_other_kind(kv, ref)
        try:
            written = kv.write(self.path(ref), secret.to_vault(), cas=expected_version)
        except RequestRejected as exc:
            if any("check-and-set" in e for e in exc.errors):
                raise self._conflict(ref, expected_version, self.current_version(ref)) from None
            raise
        version = int(written.get("version") or expected_version + 1)
        author = changed_by or self.session.whoami().identity
        custom = _custom_metadata(secret, version, author, metadata.get("custom_metadata") or {})
        kv.write_metadata(self.path(ref), custom)
        log.info("wrote %s version %d (by %s)", where, version, author)
        return version

    def restore(
        self, ref: EntryRef, version: int, *, expected_version: int, changed_by: str | None = None
    ) -> int:
        """Write an older version's content as a new version (check-and-set as ``put``)."""
        old = self.get(ref, version)
        return self.put(ref.name, old.secret, expected_version=expected_version, changed_by=changed_by)

    def delete(self, ref: EntryRef, versions: list[int] | None = None) -> None:
        """Soft-delete the latest version (or the given ones); ``undelete`` can undo it."""
        kv = self._kv2("delete")
        self._require_exists(kv, ref)
        if versions:
            kv.delete(self.path(ref), versions)
        else:
            kv.delete_latest(self.path(ref))
        log.info("deleted %s %s", self.where(ref), versions or "latest version")

    def undelete(self, ref: EntryRef, versions: list[int] | None = None) -> None:
        """Bring back soft-deleted versions (default: the latest version)."""
        kv = self._kv2("undelete")
        metadata = self._require_exists(kv, ref)
        kv.undelete(self.path(ref), versions or [int(metadata.get("current_version") or 0)])
        log.info("undeleted %s %s", self.where(ref), versions or "latest version")

    def destroy(self, ref: EntryRef, versions: list[int]) -> None:
        """Remove these versions' data for good (the history keeps their numbers)."""
        if not versions:
            raise ValidationFailed.one("versions", "name at least one version to destroy")
        kv = self._kv2("destroy")
        self._require_exists(kv, ref)
        kv.destroy(self.path(ref), versions)
        log.info("destroyed %s versions %s", self.where(ref), versions)

    def purge(self, ref: EntryRef) -> None:
        """Remove the entry, every version and its metadata, for good."""
        kv = self._kv2("purge")
        self._require_exists(kv, ref)
        kv.delete_metadata(self.path(ref))
        log.info("purged %s", self.where(ref))

    # --- helpers --------------------------------------------------------------------------

    def _read_or_not_found(self, read: Any, where: str) -> dict[str, Any]:
        try:
            return read()
        except EntryNotFound:
            raise EntryNotFound(
                f"no entry at {where} on {self.session.address}",
                address=self.session.address,
                path=where,
            ) from None

    def _metadata_or_empty(self, kv: KvV2, ref: EntryRef) -> dict[str, Any]:
        try:
            return kv.read_metadata(self.path(ref))
        except EntryNotFound:
            return {}

    def _require_exists(self, kv: KvV2, ref: EntryRef) -> dict[str, Any]:
        where = self.where(ref)
        return self._read_or_not_found(lambda: kv.read_metadata(self.path(ref)), where)

    def _refuse_name_taken_by_other_kind(self, kv: KvV2, ref: EntryRef) -> None:
        other = EntryRef(EntryKind.API if ref.kind is EntryKind.DATABASE else EntryKind.DATABASE, ref.name)
        if self._metadata_or_empty(kv, other):
            raise WriteConflict(
                f"the name {ref.name!r} is already used by {self.where(other)}; one name serves "
                "one entry (it is also the Airflow conn_id): pick another name or purge it",
                address=self.session.address,
                path=self.where(ref),
            )

    def _conflict(self, ref: EntryRef, expected: int, current: int) -> WriteConflict:
        where = self.where(ref)
        if expected == 0:
            message = f"{where} already exists (version {current}); load it and edit that version"
        elif current == 0:
            message = f"{where} does not exist (expected version {expected}); it was purged"
        else:
            message = (
                f"{where} changed since version {expected}: it is now at version "
                f"{current}; nothing was written. Reload, re-apply your change, save again"
            )
        return WriteConflict(
            message,
            address=self.session.address,
            path=where,
            expected_version=expected,
            current_version=current,
        )


def _check_version(value: object, field: str, problem: str = "must be a version number") -> None:
    """A version is a whole number from 0 to ``MAX_VERSION``: anything else is the caller's
    mistake (a 400 in the form), never a request Vault refuses."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_VERSION:
        raise ValidationFailed.one(field, problem)


def _metadata_text(value: str, limit: int = _META_VALUE_BYTES) -> str:
    """A value Vault keeps in custom_metadata: printable (Vault refuses the rest, after the
    data is already written) and at most ``limit`` bytes. Descriptors are for display; the
    exact text stays in the entry's data."""
    value = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in value)
    encoded = value.encode("utf-8")
    if len(encoded) <= limit:
        return value
    return encoded[: limit - 3].decode("utf-8", errors="ignore") + "..."


def _custom_metadata(
    secret: CatalogSecret, version: int, author: str, previous: Mapping[str, str]
) -> dict[str, str]:
    """Descriptors of this version plus the authors of the last ``HISTORY_KEEP`` versions."""
    when = utc_now()
    history = {k: v for k, v in previous.items() if k.startswith("by.")}
    history[f"by.{version}"] = f"{_metadata_text(author, _META_VALUE_BYTES - len(when) - 1)} {when}"
    keep = sorted(history, key=lambda k: int(k[3:]) if k[3:].isdigit() else 0)[-HISTORY_KEEP:]
    custom = {k: _metadata_text(v) for k, v in secret.descriptors().items() if v}  # no empty values
    custom.update(changed_by=_metadata_text(author), changed_at=when, version=str(version))
    custom.update({k: history[k] for k in keep})
    return custom


def _author(custom: Mapping[str, str], version: int) -> str:
    entry = custom.get(f"by.{version}", "")
    return entry.rsplit(" ", 1)[0] if entry else ""


def _summary(ref: EntryRef, metadata: Mapping[str, Any]) -> EntrySummary:
    version = int(metadata.get("current_version") or 0)
    custom = dict(metadata.get("custom_metadata") or {})
    latest = (metadata.get("versions") or {}).get(str(version)) or {}
    return EntrySummary(
        ref=ref,
        version=version,
        descriptors={k: v for k, v in custom.items() if not k.startswith("by.")},
        deleted=bool(latest.get("deletion_time")) or bool(latest.get("destroyed")),
        changed_by=str(custom.get("changed_by", "")),
        changed_at=str(custom.get("changed_at", "")),
    )
