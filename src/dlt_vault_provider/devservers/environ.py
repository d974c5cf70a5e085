"""Environments for child processes that must see only the Vault settings we give them."""

from __future__ import annotations

import os

# Vault's and OpenBao's CLI variables, and dlt's own places for credentials.
_SETTINGS = ("VAULT_", "BAO_", "SOURCES__", "DESTINATION__")


def clean_environ(**extra: str) -> dict[str, str]:
    """This process's environment without any Vault, OpenBao or dlt credential setting,
    plus ``extra``: so a child cannot pick up the caller's own Vault by accident."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SETTINGS)}
    env.update(extra)
    return env
