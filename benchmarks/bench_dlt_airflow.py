"""The dlt run of bench_dlt.py where Apache Airflow is installed in the same environment.

dlt's built-in Airflow provider is on by default: with Airflow importable and its
metadata database reachable it probes an Airflow Variable for every key dlt asks. This
compares that default with the documented set-up (``PROVIDERS__ENABLE_AIRFLOW_SECRETS=false``,
or ``[providers] enable_airflow_secrets = false`` in config.toml), outside an Airflow task.

    pip install apache-airflow && python benchmarks/bench_dlt_airflow.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from bench_dlt import bench_servers, print_table, run_variants

LABELS = {
    "toml:on": "secrets.toml, dlt's Airflow provider on (default)",
    "catalog:on": "dlt-vault-provider, dlt's Airflow provider on (default)",
    "toml:off": "secrets.toml, dlt's Airflow provider off",
    "catalog:off": "dlt-vault-provider, dlt's Airflow provider off (documented)",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    try:
        import airflow  # noqa: F401
    except ImportError:
        print("Apache Airflow is not installed here: pip install apache-airflow")
        return 2
    with bench_servers() as (work, bao, entry):
        home = work / "airflow"
        home.mkdir()
        env = {"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "false"}
        subprocess.run(
            [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
            timeout=300,
        )
        extra = {
            variant: {
                **env,
                "PROVIDERS__ENABLE_AIRFLOW_SECRETS": "true" if variant.endswith(":on") else "false",
            }
            for variant in LABELS
        }
        results = run_variants(list(LABELS), args.runs, work, bao, entry, extra)
    print(
        f"\nsql_database -> DuckDB, 5 rows, Airflow installed (metadata DB on SQLite), "
        f"{args.runs} fresh-process runs each, outside an Airflow task\n"
    )
    print_table(results, LABELS, base="toml:off")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
