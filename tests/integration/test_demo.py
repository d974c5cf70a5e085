"""The README's first command: the main job runs on embedded defaults and leaks nothing."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_the_main_job_runs_end_to_end(bao, pg):  # the fixtures prove the binaries exist
    result = subprocess.run(
        [sys.executable, "-m", "dlt_vault_provider.cli", "demo"], capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "alice registered db/orders_pg      version 1" in out
    assert "pipeline queried PostgreSQL        5 rows" in out
    assert "postgresql://loader:********@127.0.0.1:" in out
    assert "1 read of the entry" in out
    # the dlt pipeline: sql_database from PostgreSQL into DuckDB, credentials from Vault
    assert "loaded 5 rows into orders" in out
    assert "sources.sql_database.sql_database.credentials = ******** from catalog/default/db/orders_pg" in out
    assert "read db/orders_pg" in out
    assert "(alice signed in, sees 3 entries)" in out  # the registration form, over HTTP
    # a dynamic database user: created for the run, gone after it
    assert "pipeline leased a database user    v-approle-orders_r" in out
    assert "rows; user exists: True" in out
    assert "run ended: lease revoked           user exists: False" in out
    assert "Traceback" not in result.stderr
