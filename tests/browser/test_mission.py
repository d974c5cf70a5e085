"""The whole mission in one test: a person registers a database in the form; a dlt
pipeline and an Airflow task then use it, neither holding a credential."""

from __future__ import annotations

import re

import pytest

from dlt_vault_provider import EntryRef
from tests.airflow_support import reader, run_dag
from tests.browser.conftest import sign_in
from tests.integration.test_dlt_provider import run as run_pipeline

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_registered_in_the_browser_used_by_dlt_and_airflow(
    form_server,
    chromium,
    people,
    items_db,
    airflow_home,
    bao,
    admin,
    store,
    workspace,
    tmp_path,
):
    base, recorder = form_server
    context = chromium.new_context()
    try:
        page = context.new_page()
        sign_in(page, base, people["editor"])
        page.get_by_role("link", name="New database").click()
        page.get_by_label("Name", exact=True).fill("orders_pg")
        page.get_by_label("Host", exact=True).fill(items_db.host)
        page.get_by_label("Port", exact=True).fill(str(items_db.port))
        page.get_by_label("Database", exact=True).fill(items_db.database)
        page.get_by_label("Username", exact=True).fill(items_db.username)
        page.get_by_label("Password", exact=True).fill(items_db.password.reveal())
        page.get_by_role("button", name="Save").click()
        page.wait_for_url(re.compile(r".*/entries/db/orders_pg\?m=.*"))
    finally:
        context.close()
    assert store.get(EntryRef("db", "orders_pg")).secret.password == items_db.password
    token = reader(admin, workspace)

    pipeline = run_pipeline(
        "sql",
        tmp_path / "dlt",
        bao,
        workspace,
        token,
        config_toml=('[vault.bindings]\n"sources.sql_database" = "db/orders_pg"\n'),
    )
    assert pipeline["ok"], pipeline.get("error")
    assert pipeline["rows"] == 5

    task = run_dag(
        airflow_home, tmp_path, "query", {"url": bao.address, "workspace": workspace}, VAULT_TOKEN=token
    )
    assert task["rows"] == 5 and task["conn_type"] == "postgres"
    assert items_db.password.reveal() not in recorder.text()
