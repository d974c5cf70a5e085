"""Airflow secrets backend over the dlt-vault-provider catalog.

Empty on purpose for now: ``VaultCatalogBackend`` arrives with the Airflow issue. The
package exists so that the distribution's layout (and its import name) is fixed.
"""

__all__: list[str] = []
