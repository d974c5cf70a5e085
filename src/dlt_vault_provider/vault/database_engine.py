"""Configure OpenBao's (or Vault's) database secrets engine for a PostgreSQL server:
the connection, dynamic roles (a fresh user per lease) and static roles (a password
Vault rotates). An operator's helper, used by the tests and the main job."""

from __future__ import annotations

from ..secret import Secret
from .session import VaultSession

CREATE_READER = (
    "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
    'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";',
)
REVOKE_USER = (
    'REASSIGN OWNED BY "{{name}}" TO CURRENT_USER;',
    'DROP OWNED BY "{{name}}";',
    'DROP ROLE IF EXISTS "{{name}}";',
)


def enable_database_engine(session: VaultSession, mount: str = "database") -> None:
    """``POST sys/mounts/<mount>`` (type database), unless it is there already."""
    mounts = session.request("GET", "sys/mounts") or {}
    if f"{mount}/" not in (mounts.get("data") or mounts):
        session.request("POST", f"sys/mounts/{mount}", json={"type": "database"})


def configure_postgres(
    session: VaultSession,
    *,
    mount: str = "database",
    connection: str,
    host: str,
    port: int,
    database: str,
    username: str,
    password: Secret,
    allowed_roles: tuple[str, ...] = ("*",),
) -> None:
    """``POST <mount>/config/<connection>``: how Vault reaches PostgreSQL as an admin."""
    enable_database_engine(session, mount)
    session.request(
        "POST",
        f"{mount}/config/{connection}",
        json={
            "plugin_name": "postgresql-database-plugin",
            "connection_url": f"postgresql://{{{{username}}}}:{{{{password}}}}@{host}:{port}/"
            f"{database}?sslmode=disable",
            "username": username,
            "password": password.reveal(),
            "allowed_roles": list(allowed_roles),
            "verify_connection": True,
        },
    )


def create_dynamic_role(
    session: VaultSession,
    *,
    mount: str = "database",
    role: str,
    connection: str,
    default_ttl: str = "1h",
    max_ttl: str = "24h",
    creation: tuple[str, ...] = CREATE_READER,
    revocation: tuple[str, ...] = REVOKE_USER,
) -> None:
    """``POST <mount>/roles/<role>``: each ``creds/<role>`` read makes a new user."""
    session.request(
        "POST",
        f"{mount}/roles/{role}",
        json={
            "db_name": connection,
            "default_ttl": default_ttl,
            "max_ttl": max_ttl,
            "creation_statements": list(creation),
            "revocation_statements": list(revocation),
        },
    )


def create_static_role(
    session: VaultSession,
    *,
    mount: str = "database",
    role: str,
    connection: str,
    username: str,
    rotation_period: str = "24h",
) -> None:
    """``POST <mount>/static-roles/<role>``: Vault owns and rotates ``username``'s password."""
    session.request(
        "POST",
        f"{mount}/static-roles/{role}",
        json={
            "db_name": connection,
            "username": username,
            "rotation_period": rotation_period,
        },
    )
