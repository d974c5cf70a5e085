"""Every error this package raises, in one tree.

::

    DltVaultError
    ├── ValidationFailed          input refused before anything is written; lists each field and what to fix
    └── VaultError                Vault could not do what was asked; names the address and the path
        ├── VaultUnavailable      connect/read timeout, connection refused, 5xx or 429 after bounded retries
        │   └── VaultSealed       the server answered that it is sealed
        ├── AccessDenied          403 with a valid token: the policy forbids this path
        ├── LoginExpired          the token is no longer valid and no auth method can log in again
        ├── LoginFailed           the auth method rejected the credentials (or could not read them)
        ├── EntryNotFound         nothing at mount/path (or only a deleted or destroyed version)
        ├── EntryInvalid          stored data does not fit the entry type; names the key, never the value
        ├── WriteConflict         check-and-set lost: someone saved first, or the name is taken
        ├── UnsupportedOperation  the mount cannot do this (a write to a KV v1 mount)
        └── SessionClosed         the session was used after ``close()``

Catching ``VaultUnavailable`` covers "Vault is not usable right now" in one clause.
No message ever holds a secret value: they name fields, keys, addresses and paths.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class DltVaultError(Exception):
    """Root of every error raised by dlt-vault-provider."""


@dataclass(frozen=True)
class FieldError:
    """One refused field: its name and what to fix (never the value)."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ValidationFailed(DltVaultError, ValueError):
    """Raised when input does not make a valid entry; nothing has been written."""

    def __init__(self, errors: Sequence[FieldError], subject: str = "entry") -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        self.subject = subject
        details = "; ".join(str(e) for e in self.errors)
        super().__init__(f"invalid {subject}: {details}")

    @property
    def fields(self) -> dict[str, str]:
        """Field name → message, for forms that show errors next to their inputs."""
        return {e.field: e.message for e in self.errors}

    @classmethod
    def one(cls, field: str, message: str, subject: str = "entry") -> ValidationFailed:
        return cls([FieldError(field, message)], subject)


class VaultError(DltVaultError):
    """Vault could not do what was asked. ``address`` and ``path`` say where."""

    def __init__(self, message: str, *, address: str = "", path: str = "") -> None:
        self.address = address
        self.path = path
        super().__init__(message)


class VaultUnavailable(VaultError):
    """Vault cannot be reached or keeps failing (timeouts, refused connections, 5xx, 429)."""


class VaultSealed(VaultUnavailable):
    """Vault answered that it is sealed: an operator must unseal it."""


class AccessDenied(VaultError):
    """The token is valid but its policy forbids this operation on this path."""


class LoginExpired(VaultError):
    """The token expired or was revoked, and no configured auth method can log in again."""


class LoginFailed(VaultError):
    """The auth method rejected the credentials, or they could not be read."""


class EntryNotFound(VaultError):
    """No entry at this path, or its latest version is deleted or destroyed.

    ``details`` holds what Vault said alongside the 404 (KV v2 sends a deleted
    version's metadata), never a secret value.
    """

    details: dict[str, object] | None = None
    vault_errors: tuple[str, ...] = ()


class EntryInvalid(VaultError):
    """The stored data does not fit the entry type. Names the key, never the value."""


class WriteConflict(VaultError):
    """Check-and-set lost: the entry changed since the version the write was based on."""

    def __init__(
        self,
        message: str,
        *,
        address: str = "",
        path: str = "",
        expected_version: int | None = None,
        current_version: int | None = None,
    ) -> None:
        self.expected_version = expected_version
        self.current_version = current_version
        super().__init__(message, address=address, path=path)


class UnsupportedOperation(VaultError):
    """The mount cannot do this, such as a check-and-set write to a KV v1 mount."""


class SessionClosed(VaultError):
    """The session was used after it was closed."""


def field_errors(pairs: Iterable[tuple[str, str]]) -> list[FieldError]:
    """Build ``FieldError`` objects from ``(field, message)`` pairs."""
    return [FieldError(f, m) for f, m in pairs]
