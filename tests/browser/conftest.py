"""The registration form served by uvicorn on loopback, and a real Chromium driving it.

Every response body the app sends is recorded, so tests can prove that no stored secret
ever reached the browser.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlt_vault_provider import VaultSettings
from dlt_vault_provider.devservers import free_port
from tests.conftest import ROOT, canaries, make_editor_policy, make_policy, make_user, missing

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


class Recorder:
    """ASGI wrapper keeping every response body (what the browser received)."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self.bodies: list[bytes] = []

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        async def recording_send(message):  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.body":
                self.bodies.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, recording_send)

    def text(self) -> str:
        return b"".join(self.bodies).decode("utf-8", errors="replace")


@pytest.fixture
def form_server(bao, workspace) -> Iterator[tuple[str, Recorder]]:
    try:
        import uvicorn

        from dlt_vault_provider.form import create_app
    except ImportError as exc:
        missing(f"the form's packages are not installed: {exc}")
    app = create_app(VaultSettings(url=bao.address), workspace=workspace)
    recorder = Recorder(app)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(recorder, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the form did not start"
    yield f"http://127.0.0.1:{port}", recorder
    server.should_exit = True
    thread.join(10)
    received = recorder.text()
    leaked = [value[:4] + "..." for value in canaries() if len(value) >= 6 and value in received]
    assert not leaked, f"a stored secret reached the browser: {leaked}"


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed: pip install -e '.[test]'")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        missing("Chromium is not installed: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def people(admin, workspace) -> dict[str, tuple[str, str]]:
    """An editor of this workspace and a person whose policy only lists it."""
    editor = make_editor_policy(admin, f"editor-{workspace}", workspace)
    lister = make_policy(
        admin,
        f"lister-{workspace}",
        f"""
path "catalog/metadata/{workspace}/*"          {{ capabilities = ["read", "list"] }}
path "catalog/detailed-metadata/{workspace}/*" {{ capabilities = ["list"] }}
""",
    )
    return {
        "editor": (f"ed-{workspace}", make_user(admin, f"ed-{workspace}", [editor]).reveal()),
        "lister": (f"li-{workspace}", make_user(admin, f"li-{workspace}", [lister]).reveal()),
    }


def sign_in(page, base: str, who: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.get_by_label("Username", exact=True).fill(who[0])
    page.get_by_label("Password", exact=True).fill(who[1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/catalog")


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
