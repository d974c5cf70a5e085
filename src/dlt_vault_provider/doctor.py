"""``dlt-vault doctor``: is Vault reachable, unsealed, who am I, how long is my token good
for, and what does my policy allow on the catalog. Each check stands alone, so one failure
does not hide the others."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import DltVaultError
from .store import CatalogStore
from .vault.kv import kv_version


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def run_checks(store: CatalogStore) -> list[Check]:
    session = store.session
    checks: list[Check] = []

    def check(name: str, probe: Callable[[], tuple[bool, str]]) -> bool:
        try:
            ok, detail = probe()
        except DltVaultError as exc:
            ok, detail = False, str(exc)
        checks.append(Check(name, ok, detail))
        return ok

    def reachable() -> tuple[bool, str]:
        status = session.unauthenticated("GET", "sys/seal-status") or {}
        version = status.get("version", "?")
        sealed = bool(status.get("sealed"))
        checks.append(
            Check("seal status", not sealed, "sealed: an operator must unseal it" if sealed else "unsealed")
        )
        return True, f"{session.address} answers (version {version})"

    if not check("address", reachable) or not checks[-1].ok:
        return checks

    def identity() -> tuple[bool, str]:
        info = session.whoami()
        return True, f"{info.identity} (policies: {', '.join(info.policies) or 'none'})"

    if not check("identity", identity):
        return checks

    def token_ttl() -> tuple[bool, str]:
        info = session.whoami()
        if info.ttl == 0:
            return True, "never expires (root or periodic token)"
        renew = "renewable" if info.renewable else "not renewable"
        return True, f"{info.ttl}s left, {renew}"

    check("token ttl", token_ttl)

    def mount() -> tuple[bool, str]:
        version = kv_version(session, store.mount)
        return True, f"{store.mount}/ is KV version {version}"

    check("catalog mount", mount)

    def policy() -> tuple[bool, str]:
        base = f"{store.mount}/%s/{store.workspace}/db/"
        paths = {
            "list": base % "metadata",
            "list detailed": base % "detailed-metadata",
            "read": (base % "data") + "example",
            "write": (base % "data") + "example",
        }
        body = (
            session.request("POST", "sys/capabilities-self", json={"paths": sorted(set(paths.values()))})
            or {}
        )
        data = body.get("data") or body
        allowed = {}
        for what, path in paths.items():
            caps = set(data.get(path) or [])
            need = {
                "list": {"list"},
                "list detailed": {"list"},
                "read": {"read"},
                "write": {"create", "update"},
            }[what]
            allowed[what] = "root" in caps or bool(caps & need)
        summary = ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in allowed.items())
        ok = allowed["list"] or allowed["read"]
        return ok, f"on {store.mount}/*/{store.workspace}/db/*: {summary}"

    check("catalog policy", policy)
    return checks
