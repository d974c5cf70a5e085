"""Deliberate leaks, run by tests/unit/test_leak_check.py in a child pytest: each must be
caught by the suite's one leak fixture. Not collected by the main run (no test_ prefix)."""

import logging

import pytest

from airflow_backend import VaultCatalogBackendError
from dlt_vault_provider import EntryInvalid


def test_clean(canary):
    canary("case-secret-clean-0")
    logging.getLogger("hvac").debug("read catalog/x (no value here)")


def test_debug_log_of_a_library(canary):
    logging.getLogger("urllib3.connectionpool").debug("body: %s", canary("case-secret-log-1"))


def test_a_logger_that_does_not_propagate(canary):
    quiet = logging.getLogger("case.quiet")
    quiet.propagate = False
    quiet.setLevel(logging.DEBUG)
    quiet.info("token=%s", canary("case-secret-quiet-2"))


def test_stdout(canary):
    print("password", canary("case-secret-print-3"))


def test_an_error_caught_by_the_test(canary):
    with pytest.raises(EntryInvalid):
        raise EntryInvalid(f"bad value {canary('case-secret-error-4')}", path="x")


def test_a_file_the_test_wrote(canary, tmp_path):
    folder = tmp_path / ".dlt" / "pipelines" / "orders"
    folder.mkdir(parents=True)
    (folder / "trace.pickle").write_bytes(b"\x80\x04" + canary("case-secret-file-5").encode())
    (tmp_path / "input.json").write_text(canary("case-secret-input-7"))  # a test's own input: fine


def test_an_airflow_style_error(canary):
    with pytest.raises(VaultCatalogBackendError):
        raise VaultCatalogBackendError(f"conn {canary('case-secret-airflow-8')}")


def test_a_failure_report_is_masked(canary):
    secret = canary("case-secret-report-6")
    assert secret == "something else", f"compared {secret}"
