"""The dlt adapter: ``VaultCatalogProvider``, its plugin and ``register()``. Imports dlt."""

from .provider import VaultCatalogProvider
from .register import provider_from_dlt_config, register

__all__ = ["VaultCatalogProvider", "provider_from_dlt_config", "register"]
