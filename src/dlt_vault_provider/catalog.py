"""Catalog entries: what a database or an API credential is, validated before it is stored.

An entry is a frozen value. Building one checks every field and raises
``ValidationFailed`` listing all the fields to fix, so nothing invalid ever reaches
Vault. ``to_vault()`` / ``from_vault()`` are the only translation to and from the KV
document; ``from_vault`` raises ``EntryInvalid`` naming the key, never the value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from .errors import EntryInvalid, FieldError, ValidationFailed
from .secret import MASK, Secret

MAX_NAME = 128
MAX_TEXT = 1024  # hosts, usernames, databases, option values, header names
MAX_SECRET = 16384  # passwords, tokens, keys (PEM keys included)
MAX_DESCRIPTION = 500
MAX_OPTIONS = 32
_NAME_RE = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
_KEY_RE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_HEADER_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z\-]{1,128}")
_HOST_FORBIDDEN = set("/@?#\\ \t\r\n%[]")


class EntryKind(str, Enum):
    """The two kinds of entries; the value is the path segment under the workspace."""

    DATABASE = "db"
    API = "api"

    @classmethod
    def parse(cls, value: str | EntryKind) -> EntryKind:
        """Accept ``db``/``database`` and ``api``; anything else is a field error."""
        if isinstance(value, EntryKind):
            return value
        aliases = {"db": cls.DATABASE, "database": cls.DATABASE, "api": cls.API}
        try:
            return aliases[str(value).strip().lower()]
        except KeyError:
            raise ValidationFailed.one("kind", "must be 'db' (database) or 'api'") from None


def validate_name(name: object) -> str:
    """Check an entry name: one path segment of letters, digits, ``-``, ``_``, ``.``."""
    problem = _name_problem(name)
    if problem:
        raise ValidationFailed.one("name", problem)
    return str(name)


def _name_problem(name: object) -> str | None:
    if not isinstance(name, str) or not name:
        return "is required"
    if len(name) > MAX_NAME:
        return f"must be at most {MAX_NAME} characters"
    if name in (".", ".."):
        return "cannot be '.' or '..'"
    if not _NAME_RE.fullmatch(name):
        return "may hold only letters, digits, '-', '_' and '.' (one path segment)"
    return None


@dataclass(frozen=True)
class Engine:
    """What the catalog knows of a database engine: its URL dialect and default port."""

    name: str
    dialect: str
    default_port: int
    port_in_url: bool = True


ENGINES: dict[str, Engine] = {
    e.name: e
    for e in (
        Engine("postgresql", "postgresql", 5432),
        Engine("mysql", "mysql", 3306),
        Engine("mariadb", "mariadb", 3306),
        Engine("mssql", "mssql", 1433),
        Engine("oracle", "oracle", 1521),
        Engine("redshift", "redshift", 5439),
        Engine("snowflake", "snowflake", 443, port_in_url=False),
        Engine("clickhouse", "clickhouse", 8123),
    )
}
CREDENTIAL_SOURCES = ("stored", "dynamic", "static")
_ENGINE_ALIASES = {"postgres": "postgresql", "pg": "postgresql", "sqlserver": "mssql"}


# --- field checks: each returns a message, or None when the value is fine ---------


def _text(value: Any, *, required: bool, limit: int = MAX_TEXT) -> str | None:
    if value is None or value == "":
        return "is required" if required else None
    if not isinstance(value, str):
        return "must be text"
    if len(value) > limit:
        return f"must be at most {limit} characters"
    if "\x00" in value:
        return "must not contain a null byte"
    return None


def _single_line(value: str) -> str | None:
    if any(unicodedata.category(c) == "Cc" for c in value):
        return "must be a single line without control characters"
    return None


def _host_problem(host: Any) -> str | None:
    problem = _text(host, required=True, limit=253)
    if problem:
        return problem
    if host != host.strip() or any(c in _HOST_FORBIDDEN for c in host):
        return "must be a host name or IP address, without spaces, '/', '@', '?', '#' or a port"
    if ":" in host and not _looks_like_ipv6(host):
        return "must not include a port; put the port in the port field"
    return _single_line(host)


def _looks_like_ipv6(host: str) -> bool:
    return host.count(":") >= 2 and all(c in "0123456789abcdefABCDEF:." for c in host)


def _coerce_port(value: Any) -> tuple[int | None, str | None]:
    if value is None or value == "":
        return None, None
    if isinstance(value, bool):
        return None, "must be a whole number from 1 to 65535"
    try:
        port = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        return None, "must be a whole number from 1 to 65535"
    if not 1 <= port <= 65535:
        return None, "must be from 1 to 65535"
    return port, None


def _secret(value: Any) -> Secret:
    if value is None:
        return Secret("")
    if isinstance(value, Secret):
        return value
    if isinstance(value, str):
        return Secret(value)
    raise TypeError("a secret field takes a str or a Secret")


def _secret_problem(value: Secret, *, required: bool) -> str | None:
    plain = value.reveal()
    if not plain:
        return "is required" if required else None
    if len(plain) > MAX_SECRET:
        return f"must be at most {MAX_SECRET} characters"
    if "\x00" in plain:
        return "must not contain a null byte"
    return None


def _http_url_problem(value: Any, *, required: bool = True) -> str | None:
    problem = _text(value, required=required, limit=2048)
    if problem or not value:
        return problem
    if value != value.strip() or any(c.isspace() for c in value):
        return "must not contain spaces"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "must start with http:// or https://"
    if not parts.hostname:
        return "must name a host, like https://api.example.com"
    if parts.username is not None or parts.password is not None:
        return "must not hold credentials; use the auth fields"
    if parts.fragment:
        return "must not have a #fragment"
    return None


def _string_map(
    value: Any, field_name: str, errors: list[FieldError], *, key_re: re.Pattern[str]
) -> dict[str, str]:
    if value is None or value == "":
        return {}
    if not isinstance(value, Mapping):
        errors.append(FieldError(field_name, "must be a mapping of names to text values"))
        return {}
    if len(value) > MAX_OPTIONS:
        errors.append(FieldError(field_name, f"may hold at most {MAX_OPTIONS} items"))
        return {}
    result: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key_re.fullmatch(key):
            errors.append(FieldError(field_name, "names may hold only letters, digits, '-', '_', '.'"))
            continue
        if isinstance(item, Secret):
            item = item.reveal()
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            item = str(item)
        problem = _text(item, required=True)
        if problem:
            errors.append(FieldError(f"{field_name}.{key}", problem))
            continue
        result[key] = item
    return result


def _check(errors: list[FieldError], name: str, problem: str | None) -> None:
    if problem:
        errors.append(FieldError(name, problem))


def _raise_if(errors: list[FieldError], subject: str) -> None:
    if errors:
        raise ValidationFailed(errors, subject)


def _set(obj: object, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


# --- database entries ---------------------------------------------------------------


@dataclass(frozen=True)
class DatabaseSecret:
    """A database login: where the database is and how to sign in.

    ``password`` is a ``Secret``; every other field is a descriptor that may be shown.
    ``port`` defaults to the engine's; ``options`` become the URL's query string.
    ``credentials`` says where username and password come from: ``stored`` here, or a
    ``dynamic`` / ``static`` ``role`` of the database secrets engine at ``secrets_mount``
    (then the stored username and password stay empty and a lease fills them at run time).
    """

    engine: str
    host: str
    port: int | None = None
    database: str = ""
    username: str = ""
    password: Secret = field(default_factory=lambda: Secret(""))
    options: Mapping[str, str] = field(default_factory=dict)
    driver: str = ""
    description: str = ""
    credentials: str = "stored"
    role: str = ""
    secrets_mount: str = "database"

    kind: ClassVar[EntryKind] = EntryKind.DATABASE
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)

    def __post_init__(self) -> None:
        errors: list[FieldError] = []
        engine = str(self.engine or "").strip().lower()
        engine = _ENGINE_ALIASES.get(engine, engine)
        if engine not in ENGINES:
            errors.append(FieldError("engine", f"must be one of {', '.join(ENGINES)}"))
        _set(self, "engine", engine)
        host = self.host.strip() if isinstance(self.host, str) else self.host
        _check(errors, "host", _host_problem(host))
        _set(self, "host", host)
        port, problem = _coerce_port(self.port)
        _check(errors, "port", problem)
        if port is None and not problem and engine in ENGINES:
            port = ENGINES[engine].default_port
        _set(self, "port", port)
        _check(errors, "database", _text(self.database, required=False))
        source = str(self.credentials or "stored").strip().lower()
        if source not in CREDENTIAL_SOURCES:
            errors.append(FieldError("credentials", f"must be one of {', '.join(CREDENTIAL_SOURCES)}"))
        _set(self, "credentials", source)
        if source == "stored":
            _check(errors, "username", _text(self.username, required=True))
        elif _name_problem(self.role):
            errors.append(FieldError("role", f"names the {source} role of the database secrets engine"))
        if _name_problem(self.secrets_mount):
            errors.append(
                FieldError("secrets_mount", "must be the mount path of the database secrets engine")
            )
        if isinstance(self.username, str) and not _text(self.username, required=False):
            _check(errors, "username", _single_line(self.username) if self.username else None)
        _set(self, "password", _secret(self.password))
        _check(errors, "password", _secret_problem(self.password, required=False))
        _set(self, "options", _string_map(self.options, "options", errors, key_re=_KEY_RE))
        driver = (self.driver or "").strip()
        if driver and not re.fullmatch(r"[A-Za-z0-9_]{1,64}", driver):
            errors.append(FieldError("driver", "must be a SQLAlchemy driver name, like psycopg"))
        _set(self, "driver", driver)
        _check(errors, "description", _text(self.description, required=False, limit=MAX_DESCRIPTION))
        _set(self, "database", self.database or "")
        _set(self, "description", self.description or "")
        _raise_if(errors, "database entry")

    @property
    def drivername(self) -> str:
        """The SQLAlchemy drivername, e.g. ``postgresql`` or ``postgresql+psycopg``."""
        dialect = ENGINES[self.engine].dialect
        return f"{dialect}+{self.driver}" if self.driver else dialect

    def connection_url(self) -> Secret:
        """The SQLAlchemy-style URL, password included, so it is a ``Secret`` too."""
        return Secret(self._url(quote(self.password.reveal(), safe="")))

    def masked_url(self) -> str:
        """The URL with the password replaced by a mask, safe to show."""
        return self._url(MASK if self.password else "")

    def _url(self, quoted_password: str) -> str:
        credentials = quote(self.username, safe="")
        if quoted_password:
            credentials += ":" + quoted_password
        host = f"[{self.host}]" if ":" in self.host else self.host
        netloc = f"{credentials}@{host}"
        if ENGINES[self.engine].port_in_url and self.port:
            netloc += f":{self.port}"
        path = "/" + quote(self.database, safe="") if self.database else ""
        query = "?" + urlencode(sorted(self.options.items())) if self.options else ""
        return f"{self.drivername}://{netloc}{path}{query}"

    @classmethod
    def from_url(cls, url: str | Secret, **extra: Any) -> DatabaseSecret:
        """Parse a connection URL (the inverse of ``connection_url``)."""
        plain = url.reveal() if isinstance(url, Secret) else url
        try:
            parts = urlsplit(plain)
            port = parts.port
        except ValueError:
            raise ValidationFailed.one("url", "is not a valid connection URL") from None
        dialect, _, driver = parts.scheme.partition("+")
        return cls(
            engine=dialect,
            driver=driver,
            host=parts.hostname or "",
            port=port,
            database=unquote(parts.path.lstrip("/")),
            username=unquote(parts.username or ""),
            password=Secret(unquote(parts.password or "")),
            options=dict(parse_qsl(parts.query, keep_blank_values=True)),
            **extra,
        )

    def to_vault(self) -> dict[str, Any]:
        """The KV document: every field, the password revealed (it is going to Vault)."""
        return {
            "kind": self.kind.value,
            "engine": self.engine,
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "username": self.username,
            "password": self.password.reveal(),
            "options": dict(self.options),
            "driver": self.driver,
            "description": self.description,
            "credentials": self.credentials,
            "role": self.role,
            "secrets_mount": self.secrets_mount,
        }

    def descriptors(self) -> dict[str, str]:
        """Non-secret fields for KV ``custom_metadata``, which a listing can read."""
        return {
            "kind": self.kind.value,
            "engine": self.engine,
            "host": self.host,
            "port": str(self.port or ""),
            "database": self.database,
            "description": self.description,
            "credentials": self.credentials,
            "role": self.role,
        }

    @property
    def leased(self) -> bool:
        """True when username and password come from the database secrets engine."""
        return self.credentials != "stored"

    @classmethod
    def from_vault(cls, data: Mapping[str, Any], *, where: str = "") -> DatabaseSecret:
        return _from_vault(cls, data, where, _database_fields)


def _database_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "engine": data["engine"],
        "host": data["host"],
        "port": data.get("port"),
        "database": data.get("database", ""),
        "username": data["username"]
        if data.get("credentials", "stored") == "stored"
        else data.get("username", ""),
        "password": Secret(data.get("password") or ""),
        "options": data.get("options") or {},
        "driver": data.get("driver", ""),
        "description": data.get("description", ""),
        "credentials": data.get("credentials", "stored"),
        "role": data.get("role", ""),
        "secrets_mount": data.get("secrets_mount", "database"),
    }


# --- API entries ----------------------------------------------------------------------


@dataclass(frozen=True)
class NoAuth:
    """The API needs no credentials (only extra headers, if any)."""

    scheme: ClassVar[str] = "none"
    secret_fields: ClassVar[tuple[str, ...]] = ()

    def to_vault(self) -> dict[str, Any]:
        return {"type": self.scheme}


@dataclass(frozen=True)
class BearerToken:
    """``Authorization: Bearer <token>``."""

    token: Secret

    scheme: ClassVar[str] = "bearer"
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)

    def __post_init__(self) -> None:
        _set(self, "token", _secret(self.token))
        errors: list[FieldError] = []
        _check(errors, "auth.token", _secret_problem(self.token, required=True))
        _raise_if(errors, "API auth")

    def to_vault(self) -> dict[str, Any]:
        return {"type": self.scheme, "token": self.token.reveal()}


@dataclass(frozen=True)
class ApiKey:
    """An API key sent in a header or a query parameter called ``name``."""

    name: str
    key: Secret
    location: str = "header"

    scheme: ClassVar[str] = "api_key"
    secret_fields: ClassVar[tuple[str, ...]] = ("key",)

    def __post_init__(self) -> None:
        _set(self, "key", _secret(self.key))
        errors: list[FieldError] = []
        location = str(self.location or "header").strip().lower()
        if location not in ("header", "query"):
            errors.append(FieldError("auth.location", "must be 'header' or 'query'"))
        _set(self, "location", location)
        if _text(self.name, required=True) or not _HEADER_RE.fullmatch(self.name):
            errors.append(FieldError("auth.name", "must be a header or parameter name, like X-API-Key"))
        _check(errors, "auth.key", _secret_problem(self.key, required=True))
        _raise_if(errors, "API auth")

    def to_vault(self) -> dict[str, Any]:
        return {
            "type": self.scheme,
            "name": self.name,
            "key": self.key.reveal(),
            "location": self.location,
        }


@dataclass(frozen=True)
class BasicAuth:
    """HTTP basic authentication."""

    username: str
    password: Secret

    scheme: ClassVar[str] = "basic"
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)

    def __post_init__(self) -> None:
        _set(self, "password", _secret(self.password))
        errors: list[FieldError] = []
        _check(errors, "auth.username", _text(self.username, required=True))
        if isinstance(self.username, str) and ":" in self.username:
            errors.append(FieldError("auth.username", "must not contain ':' (basic auth)"))
        _check(errors, "auth.password", _secret_problem(self.password, required=True))
        _raise_if(errors, "API auth")

    def to_vault(self) -> dict[str, Any]:
        return {"type": self.scheme, "username": self.username, "password": self.password.reveal()}


@dataclass(frozen=True)
class OAuth2ClientCredentials:
    """OAuth2 client-credentials grant: the consumer fetches a token from ``token_url``."""

    token_url: str
    client_id: str
    client_secret: Secret
    scopes: tuple[str, ...] = ()

    scheme: ClassVar[str] = "oauth2_client_credentials"
    secret_fields: ClassVar[tuple[str, ...]] = ("client_secret",)

    def __post_init__(self) -> None:
        _set(self, "client_secret", _secret(self.client_secret))
        scopes = self.scopes
        if isinstance(scopes, str):
            scopes = tuple(s for s in re.split(r"[\s,]+", scopes) if s)
        _set(self, "scopes", tuple(scopes or ()))
        errors: list[FieldError] = []
        _check(errors, "auth.token_url", _http_url_problem(self.token_url))
        _check(errors, "auth.client_id", _text(self.client_id, required=True))
        _check(errors, "auth.client_secret", _secret_problem(self.client_secret, required=True))
        for scope in self.scopes:
            if not isinstance(scope, str) or not scope or any(c.isspace() for c in scope):
                errors.append(FieldError("auth.scopes", "each scope must be a word without spaces"))
                break
        _raise_if(errors, "API auth")

    def to_vault(self) -> dict[str, Any]:
        return {
            "type": self.scheme,
            "token_url": self.token_url,
            "client_id": self.client_id,
            "client_secret": self.client_secret.reveal(),
            "scopes": list(self.scopes),
        }


ApiAuth = NoAuth | BearerToken | ApiKey | BasicAuth | OAuth2ClientCredentials
AUTH_SCHEMES: dict[str, type] = {
    cls.scheme: cls for cls in (NoAuth, BearerToken, ApiKey, BasicAuth, OAuth2ClientCredentials)
}


def auth_from_fields(scheme: str, fields: Mapping[str, Any]) -> ApiAuth:
    """Build an auth scheme from its name and fields (as a form or a file gives them)."""
    cls = AUTH_SCHEMES.get(str(scheme or "").strip().lower())
    if cls is None:
        raise ValidationFailed.one("auth.type", f"must be one of {', '.join(AUTH_SCHEMES)}")
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(fields) - known - {"type"})
    if unknown:
        raise ValidationFailed.one(f"auth.{unknown[0]}", f"is not a field of the {cls.scheme} auth scheme")
    try:
        return cls(**{k: v for k, v in fields.items() if k in known})
    except TypeError:
        missing = sorted(known - set(fields))
        raise ValidationFailed(
            [FieldError(f"auth.{m}", "is required") for m in missing], "API auth"
        ) from None


@dataclass(frozen=True)
class ApiSecret:
    """An HTTP API: its base URL, how to authenticate, and extra headers.

    Extra header values are treated as secrets (tenants keys and the like live there).
    """

    base_url: str
    auth: ApiAuth = field(default_factory=NoAuth)
    headers: Mapping[str, Secret] = field(default_factory=dict)
    description: str = ""

    kind: ClassVar[EntryKind] = EntryKind.API

    def __post_init__(self) -> None:
        errors: list[FieldError] = []
        base_url = self.base_url.strip() if isinstance(self.base_url, str) else self.base_url
        _check(errors, "base_url", _http_url_problem(base_url))
        _set(self, "base_url", base_url)
        if not isinstance(self.auth, tuple(AUTH_SCHEMES.values())):
            errors.append(FieldError("auth", "must be one of the auth schemes"))
        plain = _string_map(self.headers, "headers", errors, key_re=_HEADER_RE)
        _set(self, "headers", {k: Secret(v) for k, v in plain.items()})
        _check(errors, "description", _text(self.description, required=False, limit=MAX_DESCRIPTION))
        _set(self, "description", self.description or "")
        _raise_if(errors, "API entry")

    @property
    def secret_fields(self) -> tuple[str, ...]:
        return tuple(f"auth.{f}" for f in self.auth.secret_fields) + tuple(
            f"headers.{h}" for h in self.headers
        )

    def to_vault(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "base_url": self.base_url,
            "auth": self.auth.to_vault(),
            "headers": {k: v.reveal() for k, v in self.headers.items()},
            "description": self.description,
        }

    def request_headers(self) -> dict[str, str]:
        """The headers a request to this API carries: extra headers, a bearer token, a
        header API key. Plain values: only for the request (or consumer) that needs them."""
        headers = {name: value.reveal() for name, value in self.headers.items()}
        if isinstance(self.auth, BearerToken):
            headers["Authorization"] = f"Bearer {self.auth.token.reveal()}"
        elif isinstance(self.auth, ApiKey) and self.auth.location == "header":
            headers[self.auth.name] = self.auth.key.reveal()
        return headers

    def request_params(self) -> dict[str, str]:
        """The query parameters a request carries: a query-string API key."""
        if isinstance(self.auth, ApiKey) and self.auth.location == "query":
            return {self.auth.name: self.auth.key.reveal()}
        return {}

    def descriptors(self) -> dict[str, str]:
        return {
            "kind": self.kind.value,
            "base_url": self.base_url,
            "auth": self.auth.scheme,
            "description": self.description,
        }

    @classmethod
    def from_vault(cls, data: Mapping[str, Any], *, where: str = "") -> ApiSecret:
        return _from_vault(cls, data, where, _api_fields)


def _api_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    auth = dict(data.get("auth") or {"type": "none"})
    return {
        "base_url": data["base_url"],
        "auth": auth_from_fields(auth.pop("type", ""), auth),
        "headers": data.get("headers") or {},
        "description": data.get("description", ""),
    }


CatalogSecret = DatabaseSecret | ApiSecret
SECRET_TYPES: dict[EntryKind, type] = {
    EntryKind.DATABASE: DatabaseSecret,
    EntryKind.API: ApiSecret,
}


def _from_vault(
    cls: type,
    data: Mapping[str, Any],
    where: str,
    read_fields: Callable[[Mapping[str, Any]], dict[str, Any]],
) -> Any:
    """Rebuild an entry from its KV document; problems name the key, never the value."""
    if not isinstance(data, Mapping):
        raise EntryInvalid(f"the entry at {where} is not a JSON object", path=where)
    try:
        return cls(**read_fields(data))
    except KeyError as exc:
        raise EntryInvalid(
            f"the entry at {where} has no '{exc.args[0]}' key; re-register it", path=where
        ) from None
    except ValidationFailed as exc:
        fields = ", ".join(e.field for e in exc.errors)
        raise EntryInvalid(
            f"the entry at {where} does not fit a {cls.kind.value} entry: {exc} (fields: {fields})",
            path=where,
        ) from None
    except (TypeError, AttributeError):
        raise EntryInvalid(
            f"the entry at {where} holds a value of the wrong type; re-register it", path=where
        ) from None


def secret_from_vault(kind: EntryKind, data: Mapping[str, Any], *, where: str = "") -> CatalogSecret:
    """Rebuild the entry of ``kind`` from a KV document."""
    return SECRET_TYPES[kind].from_vault(data, where=where)


def masked_document(secret: CatalogSecret) -> dict[str, Any]:
    """The entry's document with every secret field replaced by a mask: safe to show."""
    document = secret.to_vault()
    for dotted in secret.secret_fields:
        holder = document
        *parents, last = dotted.split(".", 1) if "." in dotted else [dotted]
        for parent in parents:
            holder = holder.get(parent) or {}
        if last in holder:
            holder[last] = MASK if holder[last] else ""
    return document


_INPUT_KEYS: dict[EntryKind, set[str]] = {
    EntryKind.DATABASE: {
        "kind",
        "engine",
        "host",
        "port",
        "database",
        "username",
        "password",
        "options",
        "driver",
        "description",
        "credentials",
        "role",
        "secrets_mount",
    },
    EntryKind.API: {"kind", "base_url", "auth", "headers", "description"},
}


def secret_from_input(kind: EntryKind | str, fields: Mapping[str, Any]) -> CatalogSecret:
    """Build an entry from user input (a file, flags, a form): ``ValidationFailed`` names
    every field to fix, unknown fields included."""
    kind = EntryKind.parse(kind)
    unknown = sorted(set(fields) - _INPUT_KEYS[kind])
    if unknown:
        raise ValidationFailed([FieldError(k, f"is not a field of a {kind.value} entry") for k in unknown])
    reader = _database_fields if kind is EntryKind.DATABASE else _api_fields
    try:
        return SECRET_TYPES[kind](**reader(fields))
    except ValidationFailed:
        raise
    except KeyError as exc:
        raise ValidationFailed.one(str(exc.args[0]), "is required") from None
    except (TypeError, ValueError):
        raise ValidationFailed.one(
            "auth" if kind is EntryKind.API else "fields", "has a value of the wrong type"
        ) from None
