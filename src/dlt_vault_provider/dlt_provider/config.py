"""The ``[vault]`` section of dlt's configuration, and the core objects built from it.

Everything may also come from the ``VAULT_*`` variables the Vault CLI reads; what
``[vault]`` (config.toml, secrets.toml, or ``VAULT__<KEY>`` variables) says wins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.typing import TSecretStrValue

from ..resolver import CatalogResolver
from ..settings import TRANSPORT_KEYS, VaultSettings, env_lookup
from ..store import CatalogStore
from ..vault.auth import AUTH_KEYS, auth_from_config
from ..vault.session import VaultSession

if __import__("sys").version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@configspec
class VaultProviderConfiguration(BaseConfiguration):
    """``[vault]`` in dlt's config.toml / secrets.toml."""

    url: str | None = None
    namespace: str | None = None
    mount: str = "catalog"
    workspace: str = "default"
    kv_version: int = 2
    """1 for a KV version 1 mount (read-only); saves detecting it at each start."""
    auth_method: str | None = None
    auth_mount: str | None = None
    role_id: str | None = None
    secret_id: TSecretStrValue | None = None
    wrapped_secret_id: TSecretStrValue | None = None
    secret_id_file: str | None = None
    username: str | None = None
    password: TSecretStrValue | None = None
    password_file: str | None = None
    role: str | None = None
    jwt: TSecretStrValue | None = None
    jwt_file: str | None = None
    token: TSecretStrValue | None = None
    token_file: str | None = None
    connect_timeout: float | None = None
    read_timeout: float | None = None
    deadline: float | None = None
    """Seconds any one Vault call may take with its retries (default 20): no call hangs."""
    max_attempts: int | None = None
    backoff: float | None = None
    max_backoff: float | None = None
    breaker_threshold: int | None = None
    """Calls in a row that found Vault unavailable before calls fail at once for a while."""
    breaker_cooldown: float | None = None
    max_connections: int | None = None
    ttl: float = 300.0
    """Seconds an entry, a miss and the catalog's name list are kept in memory."""
    stale_ttl: float = 600.0
    """Seconds past ``ttl`` a value may still be served while Vault is unavailable."""
    documents: bool = True
    """Serve other keys from plain documents under ``<workspace>/dlt/``."""
    bindings: dict[str, str] | None = None
    """dlt section path → entry, e.g. ``"sources.sql_database" = "db/orders_pg"``."""

    __section__: ClassVar[str] = "vault"


def build_resolver(
    config: VaultProviderConfiguration, environ: Mapping[str, str] | None = None
) -> CatalogResolver:
    """One session (one login) and one resolver for the process's dlt provider."""
    env = os.environ if environ is None else environ
    settings = VaultSettings.from_env(
        env,
        url=config.url,
        namespace=config.namespace,
        **{key: getattr(config, key) for key in TRANSPORT_KEYS},
    )
    auth = auth_from_config({k: getattr(config, k) for k in AUTH_KEYS if getattr(config, k) is not None}, env)
    session = VaultSession(settings, auth)
    store = CatalogStore(
        session, mount=config.mount, workspace=config.workspace, kv_version=config.kv_version
    )
    return CatalogResolver(store, ttl=config.ttl, miss_ttl=config.ttl, stale_ttl=config.stale_ttl)


def vault_is_configured(settings_dirs: list[str], environ: Mapping[str, str] | None = None) -> bool:
    """True when an address is set (``VAULT_ADDR``, ``BAO_ADDR``, ``VAULT__URL``) or a
    ``[vault]`` table exists in dlt's config.toml / secrets.toml. Reads files only."""
    env = os.environ if environ is None else environ
    if env_lookup(env, "ADDR") or env.get("VAULT__URL"):
        return True
    for folder in settings_dirs:
        for name in ("config.toml", "secrets.toml"):
            path = Path(folder) / name
            try:
                document: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(document.get("vault"), dict):
                return True
    return False
