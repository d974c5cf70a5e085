"""The suite's leak check catches each kind of leak, and a failure report never prints
the secret: the deliberate leaks in tests/leakcheck_cases/ run in a child pytest."""

import subprocess
import sys
from pathlib import Path

from dlt_vault_provider.devservers import clean_environ

CASES = Path(__file__).resolve().parent.parent / "leakcheck_cases" / "case_leaks.py"


def test_every_kind_of_leak_fails_its_test_and_the_report_masks_it():
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(CASES),
            "-q",
            "-rfE",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
        ],
        cwd=CASES.parent.parent.parent,
        env=clean_environ(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = child.stdout + child.stderr
    summary = [line for line in output.splitlines() if line.startswith(("FAILED", "ERROR"))]
    caught = {line.split("::")[1].split(" ")[0] for line in summary}
    assert caught == {
        "test_debug_log_of_a_library",
        "test_a_logger_that_does_not_propagate",
        "test_stdout",
        "test_an_error_caught_by_the_test",
        "test_a_file_the_test_wrote",
        "test_a_failure_report_is_masked",
        "test_an_airflow_style_error",
    }, output[-3000:]
    assert "a stored secret appeared in" in output
    assert "A STORED SECRET APPEARED IN THIS FAILURE REPORT" in output
    assert "case-secret-" not in output.replace("<stored secret case...>", ""), "a report printed a secret"
