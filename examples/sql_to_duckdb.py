"""A plain dlt pipeline: copy tables from PostgreSQL into DuckDB.

There is no credential here, in secrets.toml or in the environment: with
dlt-vault-provider installed and VAULT_ADDR (plus a login: VAULT_TOKEN, or
VAULT_AUTH_METHOD=approle with VAULT_ROLE_ID / VAULT_SECRET_ID) set, dlt asks the Vault
catalog for `sources.sql_database.credentials` and gets the entry `db/sql_database`, or
whatever `[vault.bindings]` in .dlt/config.toml names, e.g.

    [vault.bindings]
    "sources.sql_database" = "db/orders_pg"

Run: python examples/sql_to_duckdb.py [table ...]
"""

from __future__ import annotations

import sys

import dlt
from dlt.sources.sql_database import sql_database


def main(tables: list[str]) -> None:
    pipeline = dlt.pipeline(
        pipeline_name="orders_to_duckdb",
        destination=dlt.destinations.duckdb("warehouse.duckdb"),
        dataset_name="orders",
    )
    info = pipeline.run(sql_database(table_names=tables or None))
    print(info)
    counts = pipeline.last_trace.last_normalize_info.row_counts
    for table, rows in sorted(counts.items()):
        if not table.startswith("_dlt"):
            print(f"loaded {rows} rows into {table}")
    for value in pipeline.last_trace.resolved_config_values:
        if value.provider_name == "Vault catalog":
            shown = "********" if value.is_secret_hint else value.value
            key = ".".join([*value.sections, value.key])
            print(f"{key} = {shown} from {value.provider_location}")


if __name__ == "__main__":
    main(sys.argv[1:])
