"""Airflow 3 plugin: the registration form inside the Airflow API server, at /catalog-form.

Registered through the ``airflow.plugins`` entry point; it needs ``VAULT_ADDR`` (and the
optional ``DLT_VAULT_MOUNT`` / ``DLT_VAULT_WORKSPACE``) in the API server's environment.
People still sign in with their own Vault identity: Airflow's login does not reach Vault.
"""

from __future__ import annotations

import logging
import os

from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)


def _form_apps() -> list[dict[str, object]]:
    from dlt_vault_provider.errors import ValidationFailed
    from dlt_vault_provider.settings import VaultSettings

    settings = VaultSettings.from_env()
    if not settings.is_configured:
        return []  # nothing configured: the plugin adds nothing
    try:
        from dlt_vault_provider.form import create_app
    except ImportError:
        log.warning("the catalog form needs: pip install 'dlt-vault-provider[form]'")
        return []
    try:
        app = create_app(
            settings,
            mount=os.environ.get("DLT_VAULT_MOUNT", "catalog"),
            workspace=os.environ.get("DLT_VAULT_WORKSPACE", "default"),
            secure_cookies=True,
        )
    except ValidationFailed as exc:
        log.error("the catalog form is not mounted: %s", exc)
        return []
    return [{"app": app, "url_prefix": "/catalog-form", "name": "Vault catalog"}]


class VaultCatalogPlugin(AirflowPlugin):
    name = "dlt_vault_catalog"
    fastapi_apps = _form_apps()
