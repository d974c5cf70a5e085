"""The KV secrets engine, versions 2 and 1: one method per endpoint, nothing more.

Paths are relative to the mount. Each method's docstring names its endpoint so that an
audit log line can be traced back to the code that sent it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import AccessDenied, EntryNotFound, VaultError
from .session import VaultSession


class KvV2:
    """KV version 2 at ``mount``: versioned data plus metadata."""

    version = 2

    def __init__(self, session: VaultSession, mount: str) -> None:
        self.session = session
        self.mount = mount.strip("/")

    def read(self, path: str, version: int | None = None) -> dict[str, Any]:
        """``GET /v1/{mount}/data/{path}[?version=N]`` → ``{"data": ..., "metadata": ...}``."""
        params = {"version": version} if version else None
        body = self.session.request("GET", f"{self.mount}/data/{path}", params=params) or {}
        return dict(body.get("data") or {})

    def write(self, path: str, data: Mapping[str, Any], *, cas: int) -> dict[str, Any]:
        """``POST /v1/{mount}/data/{path}`` with ``options.cas``; returns the new version's metadata."""
        body = (
            self.session.request(
                "POST",
                f"{self.mount}/data/{path}",
                json={"options": {"cas": cas}, "data": dict(data)},
                idempotent=False,
            )
            or {}
        )
        return dict(body.get("data") or {})

    def read_metadata(self, path: str) -> dict[str, Any]:
        """``GET /v1/{mount}/metadata/{path}``: versions and custom_metadata, no secret."""
        body = self.session.request("GET", f"{self.mount}/metadata/{path}") or {}
        return dict(body.get("data") or {})

    def write_metadata(self, path: str, custom_metadata: Mapping[str, str]) -> None:
        """``POST /v1/{mount}/metadata/{path}``: replaces ``custom_metadata`` as a whole."""
        self.session.request(
            "POST",
            f"{self.mount}/metadata/{path}",
            json={"custom_metadata": dict(custom_metadata)},
            idempotent=True,
        )

    def list(self, folder: str) -> list[str]:
        """``LIST /v1/{mount}/metadata/{folder}/``: key names; [] when the folder is empty."""
        try:
            body = self.session.request("LIST", f"{self.mount}/metadata/{folder}/") or {}
        except EntryNotFound:
            return []
        return [str(k) for k in (body.get("data") or {}).get("keys") or []]

    def list_detailed(self, folder: str) -> dict[str, dict[str, Any]] | None:
        """``LIST /v1/{mount}/detailed-metadata/{folder}/`` (OpenBao): every key's metadata
        in one request. None where the server or the policy does not offer it."""
        try:
            body = self.session.request("LIST", f"{self.mount}/detailed-metadata/{folder}/") or {}
        except EntryNotFound as exc:
            # an empty folder, unless the server does not know the endpoint at all
            return None if any("unsupported" in e for e in exc.vault_errors) else {}
        except AccessDenied:
            return None
        except VaultError as exc:
            if "unsupported" in str(exc).lower():
                return None
            raise
        info = (body.get("data") or {}).get("key_info") or {}
        return {str(k): dict(v or {}) for k, v in info.items()}

    def delete_latest(self, path: str) -> None:
        """``DELETE /v1/{mount}/data/{path}``: soft-delete the latest version."""
        self.session.request("DELETE", f"{self.mount}/data/{path}")

    def delete(self, path: str, versions: Iterable[int]) -> None:
        """``POST /v1/{mount}/delete/{path}``: soft-delete these versions (undelete can undo)."""
        self.session.request(
            "POST",
            f"{self.mount}/delete/{path}",
            json={"versions": list(versions)},
            idempotent=True,
        )

    def undelete(self, path: str, versions: Iterable[int]) -> None:
        """``POST /v1/{mount}/undelete/{path}``."""
        self.session.request(
            "POST",
            f"{self.mount}/undelete/{path}",
            json={"versions": list(versions)},
            idempotent=True,
        )

    def destroy(self, path: str, versions: Iterable[int]) -> None:
        """``PUT /v1/{mount}/destroy/{path}``: remove these versions' data for good."""
        self.session.request("PUT", f"{self.mount}/destroy/{path}", json={"versions": list(versions)})

    def delete_metadata(self, path: str) -> None:
        """``DELETE /v1/{mount}/metadata/{path}``: every version and the metadata, for good."""
        self.session.request("DELETE", f"{self.mount}/metadata/{path}")


class KvV1:
    """KV version 1 at ``mount``: read and list only (it has no check-and-set)."""

    version = 1

    def __init__(self, session: VaultSession, mount: str) -> None:
        self.session = session
        self.mount = mount.strip("/")

    def read(self, path: str) -> dict[str, Any]:
        """``GET /v1/{mount}/{path}`` → the secret's data."""
        body = self.session.request("GET", f"{self.mount}/{path}") or {}
        return dict(body.get("data") or {})

    def list(self, folder: str) -> list[str]:
        """``LIST /v1/{mount}/{folder}/``; [] when empty."""
        try:
            body = self.session.request("LIST", f"{self.mount}/{folder}/") or {}
        except EntryNotFound:
            return []
        return [str(k) for k in (body.get("data") or {}).get("keys") or []]


def kv_version(session: VaultSession, mount: str) -> int:
    """``GET /v1/sys/internal/ui/mounts/{mount}``: 1 or 2 (2 when it cannot be told)."""
    try:
        body = session.request("GET", f"sys/internal/ui/mounts/{mount.strip('/')}") or {}
    except (EntryNotFound, AccessDenied):
        return 2
    options = (body.get("data") or {}).get("options") or {}
    return 1 if str(options.get("version", "2")) == "1" else 2
