"""dlt plugin: adds ``VaultCatalogProvider`` to every run context dlt creates.

Registered through the ``dlt`` entry point group, so installing the package and setting
``VAULT_ADDR`` (or a ``[vault]`` section) is enough. dlt builds its providers from the
run context's ``initial_providers()``, again on every reload; wrapping that method keeps
the provider through reloads, where ``dlt.config.register_provider`` would lose it.
When Vault is not configured the context is returned untouched.
"""

from __future__ import annotations

from typing import Any

from dlt.common.configuration.plugins import hookimpl

from .config import vault_is_configured


@hookimpl(wrapper=True)
def plug_run_context(run_dir: str | None, runtime_kwargs: dict[str, Any] | None) -> Any:
    context = yield
    if context is not None:
        install(context)
    return context


def install(context: Any) -> bool:
    """Make ``context.initial_providers()`` include the Vault provider, once per context."""
    if getattr(context, "_dlt_vault_provider_installed", False):
        return True
    dirs = [d for d in (getattr(context, "settings_dir", None), getattr(context, "global_dir", None)) if d]
    if not vault_is_configured(dirs):
        return False
    from .register import provider_from_dlt_config

    original = context.initial_providers
    provider = provider_from_dlt_config()

    def initial_providers() -> list[Any]:
        providers = list(original())
        if all(p is not provider for p in providers):
            providers.append(provider)
        return providers

    context.initial_providers = initial_providers
    context._dlt_vault_provider_installed = True
    return True
