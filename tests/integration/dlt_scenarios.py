"""Pipelines run in a fresh process, the way users run them: the package is installed,
the environment says where Vault is, and the pipeline code holds no credential.

    python dlt_scenarios.py <scenario> <workdir>

Prints one JSON line: rows loaded, the dlt trace as text, the error chain if any.
Every log record (DEBUG, all loggers) goes to <workdir>/run.log for the leak check.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path

import dlt


def error_chain(exc: BaseException) -> str:
    parts, seen = [], 0
    current: BaseException | None = exc
    while current is not None and seen < 10:
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
        seen += 1
    return "\n".join(parts)


def sql_pipeline(workdir: Path, name: str = "sql") -> dict:
    from dlt.sources.sql_database import sql_database

    pipeline = dlt.pipeline(
        name,
        destination=dlt.destinations.duckdb(str(workdir / "out.duckdb")),
        dataset_name="copied",
        pipelines_dir=str(workdir / "pipelines"),
    )
    pipeline.run(sql_database(table_names=["items"]), write_disposition="replace")
    with pipeline.sql_client() as client:
        rows = client.execute_sql("SELECT count(*) FROM items")[0][0]
    return {"rows": rows, "trace": pipeline.last_trace.asstr(2), "trace_repr": repr(pipeline.last_trace)}


def postgres_destination(workdir: Path) -> dict:
    @dlt.resource(name="events", write_disposition="replace")
    def events():
        yield from ({"id": i, "kind": "click"} for i in range(3))

    pipeline = dlt.pipeline(
        "to_pg",
        destination=dlt.destinations.postgres(destination_name="warehouse"),
        dataset_name="landing",
        pipelines_dir=str(workdir / "pipelines"),
    )
    pipeline.run(events())
    with pipeline.sql_client() as client:
        rows = client.execute_sql("SELECT count(*) FROM events")[0][0]
    return {"rows": rows, "trace": pipeline.last_trace.asstr(2)}


def rest_api(workdir: Path) -> dict:
    from dlt.sources.rest_api import rest_api_source

    @dlt.source
    def weather(api_key: str = dlt.secrets.value, base_url: str = dlt.config.value):
        return rest_api_source(
            {
                "client": {
                    "base_url": base_url,
                    "auth": {
                        "type": "api_key",
                        "name": "X-API-Key",
                        "api_key": api_key,
                        "location": "header",
                    },
                },
                "resources": [
                    {"name": "readings", "endpoint": {"path": "readings", "paginator": "single_page"}}
                ],
            }
        )

    pipeline = dlt.pipeline(
        "weather",
        destination=dlt.destinations.duckdb(str(workdir / "api.duckdb")),
        dataset_name="api_data",
        pipelines_dir=str(workdir / "pipelines"),
    )
    pipeline.run(weather())
    with pipeline.sql_client() as client:
        rows = client.execute_sql("SELECT count(*) FROM readings")[0][0]
    return {"rows": rows, "trace": pipeline.last_trace.asstr(2)}


def sql_twice(workdir: Path) -> dict:
    """Run, wait for the test to rotate the password (it touches a file), run again."""
    first = sql_pipeline(workdir)
    (workdir / "first-run-done").touch()
    deadline = time.monotonic() + 60
    while not (workdir / "rotated").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(float(os.environ.get("VAULT__TTL", "1")) + 0.2)  # past the cache TTL
    second = sql_pipeline(workdir)
    return {"rows": [first["rows"], second["rows"]], "trace": first["trace"] + second["trace"]}


def sql_raises_midway(workdir: Path) -> dict:
    """Credentials resolved and used, then the source fails: a run that ends in an error."""
    from dlt.sources.sql_database import sql_database

    pipeline = dlt.pipeline(
        "raises",
        destination=dlt.destinations.duckdb(str(workdir / "raises.duckdb")),
        dataset_name="copied",
        pipelines_dir=str(workdir / "pipelines"),
    )
    pipeline.run(sql_database(table_names=["items", "no_such_table"]))
    return {"rows": None}


SCENARIOS = {
    "sql_raises_midway": sql_raises_midway,
    "sql": sql_pipeline,
    "postgres_destination": postgres_destination,
    "rest_api": rest_api,
    "sql_twice": sql_twice,
}


def main() -> None:
    scenario, workdir = sys.argv[1], Path(sys.argv[2])
    handler = logging.FileHandler(workdir / "run.log")
    logging.basicConfig(level=logging.DEBUG, handlers=[handler], force=True)
    try:
        result = {"ok": True, **SCENARIOS[scenario](workdir)}
    except Exception as exc:
        result = {"ok": False, "error": error_chain(exc), "traceback": traceback.format_exc()}
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
