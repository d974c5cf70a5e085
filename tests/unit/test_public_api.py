import subprocess
import sys

import dlt_vault_provider


def test_every_public_name_imports():
    for name in dlt_vault_provider.__all__:
        assert getattr(dlt_vault_provider, name) is not None, name


def test_core_imports_no_framework():
    code = (
        "import sys, dlt_vault_provider, dlt_vault_provider.store, dlt_vault_provider.resolver;"
        "bad=[m for m in sys.modules if m.split('.')[0] in "
        "('airflow','dlt','starlette','fastapi','jinja2','uvicorn')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
