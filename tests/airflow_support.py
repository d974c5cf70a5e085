"""Running DAGs with ``dag.test()`` in a fresh process, for the Airflow and mission tests."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

from dlt_vault_provider.devservers import clean_environ

DAGS = Path(__file__).parent / "integration" / "airflow_dags" / "catalog_dags.py"


def run_dag(home: Path, tmp_path: Path, scenario: str, kwargs: dict, **env: str) -> dict:
    result_file = tmp_path / f"{scenario}-{uuid.uuid4().hex[:6]}.json"
    environment = clean_environ(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="false",
        AIRFLOW__SECRETS__BACKEND="airflow_backend.VaultCatalogBackend",
        AIRFLOW__SECRETS__BACKEND_KWARGS=json.dumps(kwargs),
        SCENARIO=scenario,
        RESULT_FILE=str(result_file),
        HOME=str(tmp_path),
        **env,
    )
    process = subprocess.run(
        [sys.executable, str(home / "dags" / DAGS.name)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = process.stdout + process.stderr
    (tmp_path / f"{scenario}.task.log").write_text(output)  # searched by the leak check
    assert result_file.exists(), output[-5000:]
    return {**json.loads(result_file.read_text()), "output": output}


def reader(admin, workspace: str, *, denied: str | None = None) -> str:
    """A token reading this workspace's catalog (minus ``denied``), nothing else."""
    rules = [
        f'path "catalog/data/{workspace}/*" {{ capabilities = ["read"] }}',
        f'path "catalog/metadata/{workspace}/*" {{ capabilities = ["list"] }}',
    ]
    if denied:
        rules.append(f'path "catalog/data/{workspace}/{denied}" {{ capabilities = ["deny"] }}')
    admin.request("PUT", f"sys/policies/acl/af-{workspace}", json={"policy": "\n".join(rules)})
    return admin.request("POST", "auth/token/create", json={"policies": [f"af-{workspace}"], "ttl": "1h"})[
        "auth"
    ]["client_token"]
