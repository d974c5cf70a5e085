"""One measured dlt run (sql_database from PostgreSQL into DuckDB) for bench_dlt.py.

    python dlt_bench_child.py <variant> <workdir>

Variants: toml (secrets.toml), docprovider (dlt's VaultDocProvider pattern over OpenBao,
with the defaults of its Google/AWS providers), docprovider_all (the same, every key
looked up), catalog (this package's provider, configured by VAULT_* only).
Prints one JSON line: the wall time of ``pipeline.run`` and the rows loaded.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import dlt
import hvac
from dlt.common.configuration.providers.vault import VaultDocProvider
from dlt.sources.sql_database import sql_database


class HvacDocProvider(VaultDocProvider):
    """dlt's own pattern: look each (normalized) key up in Vault, parse TOML fragments."""

    def __init__(self, only_secrets: bool, only_toml_fragments: bool) -> None:
        self.client = hvac.Client(url=os.environ["BENCH_VAULT_ADDR"], token=os.environ["BENCH_VAULT_TOKEN"])
        super().__init__(only_secrets, only_toml_fragments)

    @property
    def name(self) -> str:
        return "hvac doc provider"

    def _look_vault(self, full_key: str, hint: type) -> str | None:
        name = full_key.replace(".", "-")
        try:
            secret = self.client.secrets.kv.v2.read_secret_version(
                path=f"bench/doc/{name}", mount_point="catalog", raise_on_deleted_version=True
            )
        except hvac.exceptions.InvalidPath:
            return None
        return secret["data"]["data"]["value"]

    def _list_vault(self) -> set[str]:
        return set()


def main() -> None:
    variant, workdir = sys.argv[1], Path(sys.argv[2])
    if variant.startswith("docprovider"):
        every_key = variant == "docprovider_all"
        dlt.config.register_provider(
            HvacDocProvider(only_secrets=not every_key, only_toml_fragments=not every_key)
        )
    pipeline = dlt.pipeline(
        "bench",
        destination=dlt.destinations.duckdb(str(workdir / "bench.duckdb")),
        dataset_name="copied",
        pipelines_dir=str(workdir / "pipelines"),
    )
    started = time.perf_counter()
    info = pipeline.run(sql_database(table_names=["items"]), write_disposition="replace")
    elapsed = time.perf_counter() - started
    rows = pipeline.last_trace.last_normalize_info.row_counts.get("items", 0)
    assert not info.has_failed_jobs
    print(json.dumps({"seconds": elapsed, "rows": rows}))


if __name__ == "__main__":
    main()
