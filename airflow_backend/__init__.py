"""Airflow secrets backend over the dlt-vault-provider catalog: ``VaultCatalogBackend``.

Set ``AIRFLOW__SECRETS__BACKEND=airflow_backend.VaultCatalogBackend``. Imports Airflow.
"""

from .backend import BackendOptions, VaultCatalogBackend, VaultCatalogBackendError

__all__ = ["BackendOptions", "VaultCatalogBackend", "VaultCatalogBackendError"]
