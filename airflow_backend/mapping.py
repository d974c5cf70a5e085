"""Catalog entry → Airflow Connection fields: pure, no Airflow import.

A database entry becomes a Connection of its engine's conn_type; an API entry an http
Connection whose credentials sit where Airflow's HttpHook looks for them (login/password
for basic auth, headers in extra for tokens and keys).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dlt_vault_provider.catalog import (
    ApiKey,
    ApiSecret,
    BasicAuth,
    BearerToken,
    CatalogSecret,
    DatabaseSecret,
    OAuth2ClientCredentials,
)

CONN_TYPES = {
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "mssql": "mssql",
    "oracle": "oracle",
    "redshift": "redshift",
    "snowflake": "snowflake",
    "clickhouse": "clickhouse",
}


@dataclass(frozen=True)
class ConnectionFields:
    """What a Connection is built from. ``secrets`` lists every value to mask."""

    conn_type: str
    host: str | None = None
    port: int | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    description: str | None = None
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def as_kwargs(self) -> dict[str, Any]:
        import json

        return {
            "conn_type": self.conn_type,
            "host": self.host,
            "port": self.port,
            "schema": self.schema,
            "login": self.login,
            "password": self.password,
            "extra": json.dumps(self.extra) if self.extra else None,
            "description": self.description,
        }


def connection_fields(secret: CatalogSecret) -> ConnectionFields:
    if isinstance(secret, DatabaseSecret):
        return _database(secret)
    return _api(secret)


def _database(secret: DatabaseSecret) -> ConnectionFields:
    extra: dict[str, Any] = dict(secret.options)
    if secret.engine == "snowflake":
        extra.setdefault("account", secret.host)
    password = secret.password.reveal() or None
    return ConnectionFields(
        conn_type=CONN_TYPES[secret.engine],
        host=secret.host,
        port=secret.port,
        schema=secret.database or None,
        login=secret.username,
        password=password,
        extra=extra,
        description=secret.description or None,
        secrets=(password,) if password else (),
    )


def _api(secret: ApiSecret) -> ConnectionFields:
    auth = secret.auth
    headers = secret.request_headers()  # HttpHook sends extra as headers
    extra: dict[str, Any] = dict(headers)
    login = password = None
    if isinstance(auth, BasicAuth):
        login, password = auth.username, auth.password.reveal()
    elif isinstance(auth, BearerToken):
        password = auth.token.reveal()
    elif isinstance(auth, ApiKey):
        password = auth.key.reveal()
        if auth.location == "query":
            extra["api_key_param"] = auth.name
    elif isinstance(auth, OAuth2ClientCredentials):
        login, password = auth.client_id, auth.client_secret.reveal()
        extra.update(token_url=auth.token_url, scopes=list(auth.scopes))
    extra["auth_type"] = auth.scheme
    secrets = tuple(v for v in (password, *headers.values()) if v)
    return ConnectionFields(
        conn_type="http",
        host=secret.base_url,
        login=login,
        password=password,
        extra=extra,
        description=secret.description or None,
        secrets=secrets,
    )
