"""Driving the form over HTTP as a browser does (the Playwright tests drive a real one).

Works with any httpx-style client: Starlette's ``TestClient`` or ``httpx.Client``.
"""

from __future__ import annotations

import re
from typing import Any

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(page_text: str) -> str:
    """The CSRF token a form page carries in its hidden field."""
    found = CSRF.search(page_text)
    assert found, "the page has no csrf_token field"
    return found.group(1)


def sign_in(client: Any, prefix: str = "", **fields: str) -> Any:
    """Open the login page (it sets its nonce cookie) and post its form with ``fields``
    (``method``, ``username``/``password`` or ``token``, ``next``); the answer, unfollowed."""
    page = client.get(f"{prefix}/login")
    return client.post(
        f"{prefix}/login", follow_redirects=False, data={"csrf_token": csrf_token(page.text), **fields}
    )
