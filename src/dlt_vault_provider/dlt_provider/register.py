"""Building the provider from dlt's configuration, and the explicit ``register()``."""

from __future__ import annotations

from collections.abc import Mapping

from ..resolver import CatalogResolver
from .config import VaultProviderConfiguration, build_resolver
from .provider import PROVIDER_NAME, VaultCatalogProvider


def _configure() -> tuple[CatalogResolver, Mapping[str, str] | None, bool]:
    from dlt.common.configuration.resolve import resolve_configuration

    config = resolve_configuration(VaultProviderConfiguration())
    return build_resolver(config), config.bindings, config.documents


def provider_from_dlt_config() -> VaultCatalogProvider:
    """A provider that reads ``[vault]`` (and ``VAULT_*``) on first use."""
    return VaultCatalogProvider(configure=_configure)


def register(provider: VaultCatalogProvider | None = None) -> VaultCatalogProvider:
    """Add the provider to dlt's current providers now (without the plugin).

    dlt drops providers added this way when it reloads its run context; the plugin,
    active whenever Vault is configured, does not have that limit.
    """
    import dlt
    from dlt.common.configuration.container import Container
    from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

    provider = provider or provider_from_dlt_config()
    container = Container()[PluggableRunContext].providers
    if PROVIDER_NAME in container:
        container[PROVIDER_NAME] = provider
    else:
        dlt.config.register_provider(provider)
    return provider
