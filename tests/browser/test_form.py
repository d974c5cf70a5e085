"""The registration form in a real Chromium, against the real OpenBao and PostgreSQL."""

from __future__ import annotations

import re
import uuid

import pytest

from dlt_vault_provider import EntryKind, EntryRef
from tests.browser.conftest import screenshot, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20000)
    yield page
    context.close()


def fill_database(page, name, pg, password, database="postgres"):
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Engine", exact=True).select_option("postgresql")
    page.get_by_label("Host", exact=True).fill(pg.host)
    page.get_by_label("Port", exact=True).fill(str(pg.port))
    page.get_by_label("Database", exact=True).fill(database)
    page.get_by_label("Username", exact=True).fill("postgres")
    page.get_by_label("Password", exact=True).fill(password)


def test_register_test_edit_delete_an_entry(form_server, page, pg, people, store, canary):
    base, recorder = form_server
    sign_in(page, base, people["editor"])
    wrong = canary("wrong-" + uuid.uuid4().hex)
    canary(pg.password)

    page.get_by_role("link", name="New database").click()
    assert page.get_by_label("Port", exact=True).input_value() == "5432"  # the engine's default
    screenshot(page, "form-database")
    fill_database(page, "orders_pg", pg, pg.password.reveal())
    page.get_by_role("button", name="Test connection").click()
    page.wait_for_selector("#probe-result:not([hidden]):not(.notice)")
    assert "success" in page.locator("#probe-result").inner_text(), page.locator("#probe-result").inner_text()
    assert "success" in page.locator("#probe-result").inner_text()
    page.get_by_label("Password", exact=True).fill(wrong)
    page.get_by_role("button", name="Test connection").click()
    page.wait_for_selector("#probe-result.alert")
    failure = page.locator("#probe-result").inner_text()
    assert "failed" in failure and "password authentication failed" in failure
    assert wrong not in failure

    page.get_by_label("Password", exact=True).fill(pg.password.reveal())
    page.get_by_label("Description", exact=True).fill("Orders, owned by the data team")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*/entries/db/orders_pg\?m=.*"))
    assert "Saved version 1" in page.content()
    assert store.get(EntryRef("db", "orders_pg")).secret.password == pg.password

    # edit without retyping the password: the stored one is kept
    page.get_by_role("link", name="Edit").click()
    assert page.get_by_label("Password", exact=True).input_value() == ""
    page.get_by_label("Description", exact=True).fill("Orders (edited)")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*Saved%20version%202.*"))
    entry = store.get(EntryRef("db", "orders_pg"))
    assert entry.version == 2 and entry.secret.description == "Orders (edited)"
    assert entry.secret.password == pg.password

    # delete (with confirmation), then undelete
    page.get_by_role("link", name="Delete").click()
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(re.compile(r".*m=Deleted"))
    assert [s.deleted for s in store.list()] == [True]
    page.get_by_role("button", name="Undelete").click()
    page.wait_for_url(re.compile(r".*m=Undeleted"))
    assert store.get(EntryRef("db", "orders_pg")).version == 2

    page.goto(f"{base}/catalog")
    screenshot(page, "catalog")
    assert_no_secret(recorder, pg.password.reveal(), wrong)


def test_register_an_api_entry(form_server, page, people, store, canary):
    base, recorder = form_server
    token = canary("tok-" + uuid.uuid4().hex)
    sign_in(page, base, people["editor"])
    page.get_by_role("link", name="New API").click()
    page.get_by_label("Name", exact=True).fill("github")
    page.get_by_label("Base URL", exact=True).fill("https://api.github.com")
    page.get_by_label("Auth scheme", exact=True).select_option("bearer")
    page.get_by_label("Token", exact=True).fill(token)
    page.get_by_label("Description", exact=True).fill("GitHub REST API")
    screenshot(page, "form-api")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*/entries/api/github\?m=.*"))
    saved = store.get(EntryRef("api", "github")).secret
    assert saved.auth.token.reveal() == token and saved.base_url == "https://api.github.com"
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Description", exact=True).fill("GitHub (edited)")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*Saved%20version%202.*"))
    assert store.get(EntryRef("api", "github")).secret.auth.token.reveal() == token
    assert_no_secret(recorder, token)


def test_two_editors_the_second_is_told_of_the_conflict(form_server, chromium, pg, people, store, canary):
    base, recorder = form_server
    from dlt_vault_provider import DatabaseSecret

    store.put(
        "shared_db",
        DatabaseSecret(engine="postgresql", host="db.internal", username="u", password=canary("shared-pw-1")),
        expected_version=0,
    )
    ann, bob = chromium.new_context(), chromium.new_context()
    try:
        a, b = ann.new_page(), bob.new_page()
        for page in (a, b):
            sign_in(page, base, people["editor"])
            page.goto(f"{base}/entries/db/shared_db/edit")
        a.get_by_label("Host", exact=True).fill("ann.internal")
        a.get_by_role("button", name="Save").click()
        a.wait_for_url(re.compile(r".*Saved%20version%202.*"))
        b.get_by_label("Description", exact=True).fill("Bob's description")
        b.get_by_label("Port", exact=True).fill("6543")
        b.get_by_role("button", name="Save").click()
        b.wait_for_selector("text=Someone else saved this entry first")
        assert b.get_by_label("Description", exact=True).input_value() == "Bob's description"
        assert b.get_by_label("Port", exact=True).input_value() == "6543"  # nothing Bob typed is lost
        assert "ann.internal" in b.locator("table.diff").inner_text()
        entry = store.get(EntryRef("db", "shared_db"))
        assert entry.version == 2 and entry.secret.host == "ann.internal"  # nothing overwritten
        b.get_by_role("button", name="Save").click()  # knowingly, on top of Ann's version
        b.wait_for_url(re.compile(r".*Saved%20version%203.*"))
        final = store.get(EntryRef("db", "shared_db")).secret
        assert final.port == 6543 and final.password.reveal() == "shared-pw-1"
    finally:
        ann.close()
        bob.close()
    assert_no_secret(recorder, "shared-pw-1")


def test_a_lister_sees_the_catalog_and_is_refused_on_save(form_server, page, people, store, canary):
    base, _ = form_server
    from dlt_vault_provider import DatabaseSecret

    store.put(
        "visible_db",
        DatabaseSecret(
            engine="postgresql", host="db.internal", username="u", password=canary("visible-pw-1")
        ),
        expected_version=0,
    )
    sign_in(page, base, people["lister"])
    assert page.get_by_role("link", name="visible_db").is_visible()
    page.get_by_role("link", name="New database").click()
    page.get_by_label("Name", exact=True).fill("sneaky")
    page.get_by_label("Host", exact=True).fill("h")
    page.get_by_label("Username", exact=True).fill("u")
    page.get_by_label("Password", exact=True).fill("pw-sneaky")
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("text=Your Vault policy does not allow this")
    assert [s.ref.name for s in store.list()] == ["visible_db"]


def test_a_post_without_the_csrf_token_is_refused(form_server, page, people, store):
    base, _ = form_server
    sign_in(page, base, people["editor"])
    response = page.request.post(
        f"{base}/entries/new/db",
        form={
            "name": "forged",
            "engine": "postgresql",
            "host": "h",
            "username": "u",
            "password": "forged-pw",
            "action": "save",
        },
    )
    assert response.status == 403
    assert store.list() == []


def test_a_script_in_the_description_is_inert(form_server, page, people, store):
    base, _ = form_server
    payload = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
    sign_in(page, base, people["editor"])
    page.get_by_role("link", name="New database").click()
    page.get_by_label("Name", exact=True).fill("xss")
    page.get_by_label("Host", exact=True).fill("h")
    page.get_by_label("Username", exact=True).fill("u")
    page.get_by_label("Password", exact=True).fill("xss-pw-123")
    page.get_by_label("Description", exact=True).fill(payload)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*/entries/db/xss.*"))
    for url in (f"{base}/entries/db/xss", f"{base}/catalog"):
        page.goto(url)
        assert page.evaluate("window.__pwned") is None
        assert payload in page.inner_text("main")  # shown as text
    assert store.get(EntryRef(EntryKind.DATABASE, "xss")).secret.description == payload


def test_validation_errors_sit_next_to_their_fields(form_server, page, people, store):
    base, _ = form_server
    sign_in(page, base, people["editor"])
    page.get_by_role("link", name="New database").click()
    page.get_by_label("Name", exact=True).fill("bad name!")
    page.get_by_label("Host", exact=True).fill("db.internal")
    page.get_by_label("Port", exact=True).fill("70000")
    page.get_by_label("Username", exact=True).fill("u")
    page.get_by_label("Password", exact=True).fill("pw-validation")
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("text=Please fix the 2 fields")
    assert "may hold only letters" in page.locator("#e-name").inner_text()
    assert "from 1 to 65535" in page.locator("#e-port").inner_text()
    assert page.get_by_label("Host", exact=True).input_value() == "db.internal"  # input kept
    assert page.get_by_label("Password", exact=True).input_value() == ""  # secrets never sent back
    assert store.list() == []


def test_usable_at_phone_width_and_with_a_keyboard(form_server, chromium, people):
    base, _ = form_server
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(f"{base}/login")
        for _ in range(10):  # Tab through the skip link, the header and the method
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "username":
                break
        page.keyboard.type(people["editor"][0])
        page.keyboard.press("Tab")
        page.keyboard.type(people["editor"][1])
        page.keyboard.press("Enter")
        page.wait_for_url(f"{base}/catalog")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1  # no sideways scrolling
        screenshot(page, "catalog-phone")
    finally:
        context.close()


def assert_no_secret(recorder, *secrets: str) -> None:
    text = recorder.text()
    for secret in secrets:
        assert secret not in text, "a stored secret reached the browser"


def test_a_database_entry_with_a_dynamic_role(form_server, page, people, store):
    base, _ = form_server
    sign_in(page, base, people["editor"])
    page.get_by_role("link", name="New database").click()
    page.get_by_label("Name", exact=True).fill("leased_pg")
    page.get_by_label("Host", exact=True).fill("db.internal")
    page.get_by_label("Credentials", exact=True).select_option("dynamic")
    assert not page.get_by_label("Password", exact=True).is_visible()
    page.get_by_label("Role", exact=True).fill("reader")
    page.get_by_label("Secrets engine mount", exact=True).fill("database")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*/entries/db/leased_pg\?m=.*"))
    saved = store.get(EntryRef("db", "leased_pg")).secret
    assert (saved.credentials, saved.role, saved.username) == ("dynamic", "reader", "")
