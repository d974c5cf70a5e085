"""``VaultCatalogBackend``: Airflow Connections, Variables and config from the catalog.

Configured the Airflow way::

    AIRFLOW__SECRETS__BACKEND=airflow_backend.VaultCatalogBackend
    AIRFLOW__SECRETS__BACKEND_KWARGS='{"url": "...", "workspace": "analytics", ...}'

(the ``VAULT_*`` variables fill what the kwargs leave out). Airflow builds the backend
once per process (task runner, DAG processor, triggerer, API server); it keeps one Vault
session (one login, renewed) and one cache per workspace, so each conn_id costs one Vault
read per TTL and a conn_id that is not in the catalog costs nothing after the first
listing.

Airflow treats any exception from a backend, except ``AirflowSecretsBackendAccessDenied``,
as "not here" and quietly moves on to the next backend (the metastore). So every error
that must not be hidden (Vault unavailable, a malformed entry, a failed login) is raised
as ``VaultCatalogBackendError``, a subclass of it; a policy denial as the class itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from airflow.sdk.exceptions import AirflowSecretsBackendAccessDenied
from airflow.secrets import BaseSecretsBackend

from dlt_vault_provider.catalog import EntryKind, validate_name
from dlt_vault_provider.errors import (
    AccessDenied,
    DltVaultError,
    EntryInvalid,
    EntryNotFound,
    ValidationFailed,
)
from dlt_vault_provider.resolver import CatalogResolver
from dlt_vault_provider.settings import TRANSPORT_KEYS, VaultSettings, parse_bool, parse_duration
from dlt_vault_provider.store import (
    CONFIG_FOLDER,
    VARIABLES_FOLDER,
    CatalogStore,
    EntryRef,
    validate_workspace,
)
from dlt_vault_provider.vault.auth import AUTH_KEYS, auth_from_config
from dlt_vault_provider.vault.session import VaultSession

from .mapping import connection_fields

log = logging.getLogger(__name__)


class VaultCatalogBackendError(AirflowSecretsBackendAccessDenied):
    """Vault could not answer (unavailable, login failed, malformed entry): raised so that
    Airflow stops here with the cause instead of trying the metastore."""


@dataclass(frozen=True)
class BackendOptions:
    """The backend's kwargs, typed. Strings (AIRFLOW__SECRETS__BACKEND_KWARG__<KEY>) are
    converted; an unknown key is refused by name."""

    url: str | None = None
    namespace: str | None = None
    mount: str = "catalog"
    workspace: str = "default"
    kv_version: int = 2
    ttl: float = 300.0
    miss_ttl: float | None = None
    stale_ttl: float = 600.0
    variables: bool = True
    config: bool = True
    connection_versions: Mapping[str, int] = field(default_factory=dict)
    extra_workspaces: tuple[str, ...] = ()
    team_segment: bool = False
    auth: Mapping[str, Any] = field(default_factory=dict, repr=False)
    transport: Mapping[str, Any] = field(default_factory=dict)
    """Timeouts, deadline, retries and breaker (``TRANSPORT_KEYS``), over VAULT_<KEY>."""

    def __post_init__(self) -> None:
        """Workspaces are checked when the backend is configured, not at the first lookup."""
        for workspace in (self.workspace, *self.extra_workspaces):
            validate_workspace(workspace)

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> BackendOptions:
        known = {f.name for f in fields(cls)} - {"auth", "transport"} | set(TRANSPORT_KEYS)
        unknown = sorted(set(kwargs) - known - set(AUTH_KEYS))
        if unknown:
            raise ValidationFailed.one(
                unknown[0],
                f"is not a VaultCatalogBackend setting (known: {', '.join(sorted(known))}, "
                "and the auth keys)",
                "Airflow secrets backend kwargs",
            )
        values: dict[str, Any] = {
            "auth": {k: v for k, v in kwargs.items() if k in AUTH_KEYS and v not in (None, "")},
            "transport": {k: v for k, v in kwargs.items() if k in TRANSPORT_KEYS and v not in (None, "")},
        }
        for key, raw in kwargs.items():
            if key in AUTH_KEYS or key in TRANSPORT_KEYS:
                continue
            values[key] = _convert(key, raw)
        return cls(**values)


def _convert(key: str, raw: Any) -> Any:
    """Kwargs from AIRFLOW__SECRETS__BACKEND_KWARG__<KEY> arrive as strings."""
    if key in ("variables", "config", "team_segment"):
        return parse_bool(raw, key)
    if key in ("ttl", "miss_ttl", "stale_ttl"):
        return None if raw in (None, "") else parse_duration(raw, key)
    if key == "kv_version":
        return int(raw)
    if key in ("connection_versions", "extra_workspaces"):
        value = json.loads(raw) if isinstance(raw, str) and raw.strip()[:1] in "[{" else raw
        if key == "extra_workspaces":
            value = (
                [v.strip() for v in value.split(",") if v.strip()]
                if isinstance(value, str)
                else list(value or ())
            )
            return tuple(value)
        if not isinstance(value, Mapping):
            raise ValidationFailed.one(
                key, 'must map conn_id to a version, e.g. {"orders_pg": 3}', "Airflow secrets backend kwargs"
            )
        return {str(k): int(v) for k, v in value.items()}
    return raw


class VaultCatalogBackend(BaseSecretsBackend):
    """Airflow secrets backend over the dlt-vault-provider catalog."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        with _airflow_errors("configuring the Vault catalog backend"):
            self.options = BackendOptions.from_kwargs(kwargs)
            settings = VaultSettings.from_env(
                os.environ, url=self.options.url, namespace=self.options.namespace, **self.options.transport
            )
            self._shared = _SharedState.for_process(settings, self.options)
        self.session = self._shared.session

    def __repr__(self) -> str:
        return f"VaultCatalogBackend(session={self.session!r}, options={self.options!r})"

    # --- Airflow's interface -------------------------------------------------------------

    def get_connection(self, conn_id: str, team_name: str | None = None) -> Any:
        """The Connection for ``conn_id`` from ``db/<conn_id>`` or ``api/<conn_id>``, or None."""
        if not _is_name(conn_id):
            return None
        with _airflow_errors(f"connection {conn_id!r}"):
            for resolver in self._resolvers_for(team_name):
                for kind in EntryKind:
                    ref = EntryRef(kind, conn_id)
                    if not resolver.exists(ref):
                        continue
                    entry = resolver.get(ref, self.options.connection_versions.get(conn_id))
                    fields_ = connection_fields(entry.secret)
                    for secret in fields_.secrets:
                        _mask(secret)
                    return self._get_connection_class()(conn_id=conn_id, **fields_.as_kwargs())
        return None

    def get_conn_value(self, conn_id: str, team_name: str | None = None) -> str | None:
        connection = self.get_connection(conn_id, team_name)
        return connection.as_json() if connection is not None else None

    def get_variable(self, key: str, team_name: str | None = None) -> str | None:
        """``<workspace>/variables/<key>``: ``{"value": ...}``."""
        if not self.options.variables:
            return None
        return self._value(VARIABLES_FOLDER, key, team_name)

    def get_config(self, key: str) -> str | None:
        """``<workspace>/config/<key>``: ``{"value": ...}``."""
        if not self.options.config:
            return None
        return self._value(CONFIG_FOLDER, key, None)

    async def aget_connection(self, conn_id: str, team_name: str | None = None) -> Any:
        return await asyncio.to_thread(self.get_connection, conn_id, team_name)

    async def aget_variable(self, key: str, team_name: str | None = None) -> str | None:
        return await asyncio.to_thread(self.get_variable, key, team_name)

    # --- lookups ---------------------------------------------------------------------------

    def _value(self, folder: str, key: str, team_name: str | None) -> str | None:
        if not _is_name(key):
            return None  # a key the catalog cannot hold: answered without asking Vault
        with _airflow_errors(f"{folder[:-1] if folder.endswith('s') else folder} {key!r}"):
            for resolver in self._resolvers_for(team_name):
                if key not in resolver.document_names(folder):
                    continue
                document = resolver.document(key, folder)
                if "value" not in document.data:
                    raise EntryInvalid(
                        f"{document.path} has no 'value' key; store it as {{\"value\": ...}}",
                        path=document.path,
                    )
                value = document.data["value"]
                text = value if isinstance(value, str) else json.dumps(value)
                _mask(text)
                return text
        return None

    def _resolvers_for(self, team_name: str | None) -> list[CatalogResolver]:
        workspaces = [self.options.workspace, *self.options.extra_workspaces]
        if self.options.team_segment and team_name:
            workspaces = [f"{w}/{team_name}" for w in workspaces]
        return [self._resolver(w) for w in workspaces]

    def _resolver(self, workspace: str) -> CatalogResolver:
        return self._shared.resolver(workspace, self.options)


class _SharedState:
    """One session (one login) and one cache per workspace for the whole process.

    Airflow builds several backend instances in one process (one per secrets search path:
    the task SDK's, core's for ``airflow.models.Variable``, the supervisor's); instances
    with the same settings share this, so a process logs in once and reads a conn_id once
    per TTL whichever instance asks. Kept per process on purpose, and keyed by settings.
    """

    _registry: ClassVar[dict[tuple[Any, ...], _SharedState]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, session: VaultSession) -> None:
        self.session = session
        self.session.on_login(lambda token: _mask(token.reveal()))
        self._resolvers: dict[str, CatalogResolver] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_process(cls, settings: VaultSettings, options: BackendOptions) -> _SharedState:
        auth_items = tuple(sorted((k, str(v)) for k, v in options.auth.items()))
        key = (
            settings,
            auth_items,
            options.mount,
            options.kv_version,
            options.ttl,
            options.miss_ttl,
            options.stale_ttl,
        )
        with cls._registry_lock:
            shared = cls._registry.get(key)
            if shared is None or shared.session.closed:
                auth = auth_from_config(options.auth, os.environ)
                shared = cls._registry[key] = cls(VaultSession(settings, auth))
            return shared

    def resolver(self, workspace: str, options: BackendOptions) -> CatalogResolver:
        with self._lock:
            resolver = self._resolvers.get(workspace)
            if resolver is None:
                store = CatalogStore(
                    self.session, mount=options.mount, workspace=workspace, kv_version=options.kv_version
                )
                resolver = CatalogResolver(
                    store,
                    ttl=options.ttl,
                    miss_ttl=options.miss_ttl or options.ttl,
                    stale_ttl=options.stale_ttl,
                )
                self._resolvers[workspace] = resolver
            return resolver


def _is_name(key: str) -> bool:
    try:
        validate_name(key)
    except ValidationFailed:
        return False
    return True


def _mask(value: str | None) -> None:
    """Register a value with Airflow's secrets masker (task logs, rendered fields, UI)."""
    if not value:
        return
    from airflow.sdk.log import mask_secret

    mask_secret(value)


@contextlib.contextmanager
def _airflow_errors(what: str) -> Iterator[None]:
    """Our errors, as the exceptions Airflow does not swallow."""
    try:
        yield
    except AccessDenied as exc:
        raise AirflowSecretsBackendAccessDenied(f"Vault catalog, {what}: {exc}") from None
    except EntryNotFound:
        return  # listed a moment ago, gone now: not found, like any missing conn_id
    except DltVaultError as exc:
        raise VaultCatalogBackendError(f"Vault catalog, {what}: {exc}") from None


__all__ = ["BackendOptions", "VaultCatalogBackend", "VaultCatalogBackendError"]
