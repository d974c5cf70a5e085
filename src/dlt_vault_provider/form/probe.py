""" "Test connection": try the values typed before they are saved.

Databases: connect with the engine's driver when it is installed and run ``SELECT 1``.
APIs: call the base URL (or a path the person gives) with the entry's auth. Either way the
answer is success, or the driver's or server's message with every secret scrubbed out.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urljoin

from ..catalog import (
    ApiSecret,
    BasicAuth,
    CatalogSecret,
    DatabaseSecret,
    OAuth2ClientCredentials,
)
from ..secret import MASK

TIMEOUT = 5.0


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    message: str


def probe(entry: CatalogSecret, path: str = "") -> ProbeResult:
    secrets = _secret_values(entry)
    try:
        result = _database(entry) if isinstance(entry, DatabaseSecret) else _api(entry, path)
    except Exception as exc:  # any driver or network error is reported, scrubbed
        result = ProbeResult(False, f"{type(exc).__name__}: {exc}")
    return ProbeResult(result.ok, _scrub(result.message, secrets))


def _database(entry: DatabaseSecret) -> ProbeResult:
    if entry.engine in ("postgresql", "redshift"):
        try:
            import psycopg
        except ImportError:
            return ProbeResult(False, "cannot test: the psycopg driver is not installed here")
        with psycopg.connect(
            host=entry.host,
            port=entry.port,
            dbname=entry.database or None,
            user=entry.username,
            password=entry.password.reveal(),
            connect_timeout=int(TIMEOUT),
            **dict(entry.options),
        ) as conn:
            conn.execute("SELECT 1").fetchone()
        return ProbeResult(
            True, f"connected to {entry.host}:{entry.port} as {entry.username}; SELECT 1 answered"
        )
    if entry.engine in ("mysql", "mariadb"):
        try:
            import pymysql
        except ImportError:
            return ProbeResult(False, "cannot test: the pymysql driver is not installed here")
        conn = pymysql.connect(
            host=entry.host,
            port=entry.port,
            user=entry.username,
            password=entry.password.reveal(),
            database=entry.database or None,
            connect_timeout=int(TIMEOUT),
        )
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT 1")
        finally:
            conn.close()
        return ProbeResult(True, f"connected to {entry.host}:{entry.port}; SELECT 1 answered")
    return ProbeResult(False, f"cannot test {entry.engine} here: no driver in this app")


def _api(entry: ApiSecret, path: str) -> ProbeResult:
    import requests

    url = (
        urljoin(entry.base_url if entry.base_url.endswith("/") else entry.base_url + "/", path.lstrip("/"))
        if path
        else entry.base_url
    )
    headers, params = entry.request_headers(), entry.request_params()
    auth = None
    scheme = entry.auth
    if isinstance(scheme, BasicAuth):
        auth = (scheme.username, scheme.password.reveal())
    elif isinstance(scheme, OAuth2ClientCredentials):
        token = requests.post(
            scheme.token_url,
            timeout=TIMEOUT,
            data={
                "grant_type": "client_credentials",
                "client_id": scheme.client_id,
                "client_secret": scheme.client_secret.reveal(),
                "scope": " ".join(scheme.scopes),
            },
        )
        if token.status_code >= 400:
            return ProbeResult(False, f"the token endpoint answered HTTP {token.status_code}")
        headers["Authorization"] = f"Bearer {token.json().get('access_token', '')}"
    session = requests.Session()
    session.trust_env = False
    response = session.get(
        url, headers=headers, params=params, auth=auth, timeout=TIMEOUT, allow_redirects=False
    )
    ok = response.status_code < 400
    return ProbeResult(ok, f"{url} answered HTTP {response.status_code} {response.reason}")


def _secret_values(entry: CatalogSecret) -> list[str]:
    values: list[str] = []
    if isinstance(entry, DatabaseSecret):
        values.append(entry.password.reveal())
    else:
        for name in entry.auth.secret_fields:
            values.append(getattr(entry.auth, name).reveal())
        values.extend(v.reveal() for v in entry.headers.values())
    found = [v for v in values if v]
    found += [quote(v, safe="") for v in found]
    return sorted(set(found), key=len, reverse=True)


def _scrub(message: str, secrets: list[str]) -> str:
    for secret in secrets:
        message = message.replace(secret, MASK)
    return message[:500]
