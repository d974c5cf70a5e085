"""Scoped grants: a token that can read exactly some catalog entries, for a while.

For a scheduled run or an automated agent that should touch only what it needs: a
read-only policy naming exactly those entries (and the database roles they lease), and a
token bound to it with a TTL, optionally a use count, optionally response-wrapped so that
it can be handed over once. Minting one needs a token allowed to write policies and
create tokens; ``revoke_grant`` ends it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from .catalog import DatabaseSecret
from .secret import Secret
from .store import CatalogStore, EntryRef
from .vault.session import VaultSession


@dataclass(frozen=True)
class Grant:
    """The token (or, when wrapped, the single-use wrapping token) and how to end it."""

    token: Secret = field(repr=False)
    accessor: str
    policy: str
    ttl: str
    wrapped: bool = False
    entries: tuple[str, ...] = ()


def grant_policy(store: CatalogStore, refs: Sequence[EntryRef]) -> str:
    """HCL reading exactly these entries, listing their folders, and leasing their roles."""
    rules: list[str] = []
    folders = sorted({ref.kind.value for ref in refs})
    for folder in folders:
        rules.append(
            f'path "{store.mount}/metadata/{store.workspace}/{folder}/" {{ capabilities = ["list"] }}'
        )
    for ref in refs:
        rules.append(f'path "{store.mount}/data/{store.path(ref)}" {{ capabilities = ["read"] }}')
        entry = store.get(ref).secret
        if isinstance(entry, DatabaseSecret) and entry.leased:
            endpoint = "creds" if entry.credentials == "dynamic" else "static-creds"
            rules.append(
                f'path "{entry.secrets_mount}/{endpoint}/{entry.role}" {{ capabilities = ["read"] }}'
            )
            rules.append('path "sys/leases/renew" { capabilities = ["update"] }')
            rules.append('path "sys/leases/revoke" { capabilities = ["update"] }')
    return "\n".join(dict.fromkeys(rules)) + "\n"


def issue_grant(
    store: CatalogStore,
    refs: Sequence[EntryRef],
    *,
    ttl: str = "15m",
    uses: int | None = None,
    wrap: str | None = None,
    name: str | None = None,
) -> Grant:
    """Write the policy and create a token bound to it (``wrap``: response-wrapped)."""
    session: VaultSession = store.session
    policy = name or f"dlt-vault-grant-{secrets.token_hex(6)}"
    session.request("PUT", f"sys/policies/acl/{policy}", json={"policy": grant_policy(store, refs)})
    body: dict[str, object] = {
        "policies": [policy],
        "ttl": ttl,
        "explicit_max_ttl": ttl,
        "renewable": False,
        "display_name": policy,
        "meta": {"grant": policy},
    }
    if uses:
        body["num_uses"] = int(uses)
    response = session.request("POST", "auth/token/create", json=body, wrap_ttl=wrap) or {}
    # wrapped: a single-use wrapping token, and the accessor of the token inside it
    issued = response.get("wrap_info") if wrap else response.get("auth")
    issued = issued or {}
    token_key, accessor_key = ("token", "wrapped_accessor") if wrap else ("client_token", "accessor")
    return Grant(
        Secret(str(issued.get(token_key, ""))),
        str(issued.get(accessor_key, "")),
        policy,
        ttl,
        bool(wrap),
        tuple(map(str, refs)),
    )


def revoke_grant(session: VaultSession, accessor: str, policy: str | None = None) -> None:
    """Revoke the grant's token (by accessor) and delete its policy."""
    session.request("POST", "auth/token/revoke-accessor", json={"accessor": accessor})
    if policy:
        session.request("DELETE", f"sys/policies/acl/{policy}")
