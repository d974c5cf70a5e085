"""DAGs for the Airflow backend tests. ``SCENARIO`` picks the one ``dag.test()`` runs; the
task writes what it saw to ``RESULT_FILE`` as JSON. Run as ``python catalog_dags.py``."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import datetime

from airflow.sdk import Variable, dag, task
from airflow.sdk.bases.hook import BaseHook


def save(result: dict) -> None:
    with open(os.environ["RESULT_FILE"], "w") as handle:
        json.dump(result, handle)


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def catalog_scenario():
    @task
    def run() -> None:
        scenario = os.environ["SCENARIO"]
        if scenario == "query":
            import psycopg

            conn = BaseHook.get_connection("orders_pg")
            from airflow.sdk._shared.secrets_masker import redact

            masked = redact(f"password {conn.password} in a log line")
            with psycopg.connect(
                host=conn.host, port=conn.port, dbname=conn.schema, user=conn.login, password=conn.password
            ) as pg:
                rows = pg.execute("SELECT count(*) FROM items").fetchone()[0]
            again = [BaseHook.get_connection("orders_pg").host for _ in range(50)]
            save(
                {
                    "rows": rows,
                    "conn_type": conn.conn_type,
                    "same": len(set(again)) == 1,
                    "masked": masked,
                    "token_masked": redact(os.environ["VAULT_TOKEN"]),
                }
            )
        elif scenario == "variable":
            save(
                {
                    "value": Variable.get("greeting"),
                    "json": Variable.get("settings", deserialize_json=True),
                    "missing": Variable.get("not_there", default=None),
                }
            )
        elif scenario == "fallthrough":
            conn = BaseHook.get_connection("from_env")
            save({"host": conn.host})
        elif scenario == "denied":
            try:
                BaseHook.get_connection("forbidden_pg")
                save({"error": None})
            except Exception as exc:
                save({"error": error_text(exc)})
        elif scenario == "outage":
            first = BaseHook.get_connection("orders_pg").host
            os.kill(int(os.environ["BAO_PID"]), signal.SIGTERM)  # Vault goes away mid-run
            time.sleep(float(os.environ.get("WAIT", "1")))
            again = BaseHook.get_connection("orders_pg").host  # known: served stale
            started = time.monotonic()
            try:
                BaseHook.get_connection("never_read")
                cold = None
            except Exception as exc:
                cold = error_text(exc)
            save({"first": first, "again": again, "cold": cold, "seconds": time.monotonic() - started})
        elif scenario == "dlt":
            import dlt
            from dlt.sources.sql_database import sql_database

            pipeline = dlt.pipeline(
                "in_airflow",
                destination=dlt.destinations.duckdb(os.environ["DUCKDB_FILE"]),
                dataset_name="copied",
                pipelines_dir=os.environ["PIPELINES_DIR"],
            )
            pipeline.run(sql_database(table_names=["items"]), write_disposition="replace")
            providers = [p.provider_name for p in pipeline.last_trace.resolved_config_values]
            save(
                {
                    "rows": pipeline.last_trace.last_normalize_info.row_counts.get("items"),
                    "providers": sorted(set(providers)),
                }
            )

    run()


scenario_dag = catalog_scenario()

if __name__ == "__main__":
    scenario_dag.test()
