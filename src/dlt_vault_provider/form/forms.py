"""HTML form fields ⇄ catalog entries. Input names are the model's field names, so a
``ValidationFailed`` lands next to the right input. Secret inputs are write-only: never
sent back to the browser, and left blank on edit they keep the stored value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..catalog import (
    ENGINES,
    ApiKey,
    ApiSecret,
    BasicAuth,
    CatalogSecret,
    DatabaseSecret,
    EntryKind,
    FieldError,
    NoAuth,
    OAuth2ClientCredentials,
    auth_from_fields,
    validate_name,
)
from ..errors import ValidationFailed
from ..secret import Secret

DB_SECRET_INPUTS = ("password",)
API_SECRET_INPUTS = ("auth.token", "auth.key", "auth.password", "auth.client_secret", "headers")
AUTH_INPUTS = {
    "none": (),
    "bearer": ("auth.token",),
    "api_key": ("auth.name", "auth.location", "auth.key"),
    "basic": ("auth.username", "auth.password"),
    "oauth2_client_credentials": ("auth.token_url", "auth.client_id", "auth.client_secret", "auth.scopes"),
}
AUTH_LABELS = {
    "none": "No authentication",
    "bearer": "Bearer token",
    "api_key": "API key",
    "basic": "Basic (username and password)",
    "oauth2_client_credentials": "OAuth2 client credentials",
}


@dataclass
class FormState:
    """What a form page shows: typed values (no secret), errors by input, and which
    secret inputs already hold a stored value (so the page can say "leave blank to keep")."""

    kind: EntryKind
    name: str = ""
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    stored_secrets: set[str] = field(default_factory=set)
    version: int = 0


def _text(form: Mapping[str, Any], key: str) -> str:
    value = form.get(key)
    return str(value).strip() if value is not None else ""


def _secret_input(form: Mapping[str, Any], key: str) -> str:
    value = form.get(key)
    return str(value) if value is not None else ""


def public_values(form: Mapping[str, Any], kind: EntryKind) -> dict[str, str]:
    """The typed values to show again: everything but the secret inputs."""
    secret = DB_SECRET_INPUTS if kind is EntryKind.DATABASE else API_SECRET_INPUTS
    return {k: str(v) for k, v in form.items() if k not in secret and k != "csrf_token"}


def values_of(entry: CatalogSecret) -> tuple[dict[str, str], set[str]]:
    """An entry's non-secret values for the edit form, and its stored secret inputs."""
    if isinstance(entry, DatabaseSecret):
        return {
            "engine": entry.engine,
            "host": entry.host,
            "port": str(entry.port or ""),
            "database": entry.database,
            "username": entry.username,
            "options": "\n".join(f"{k}={v}" for k, v in entry.options.items()),
            "description": entry.description,
            "credentials": entry.credentials,
            "role": entry.role,
            "secrets_mount": entry.secrets_mount,
        }, ({"password"} if entry.password else set())
    auth = entry.auth
    values = {
        "base_url": entry.base_url,
        "auth.type": auth.scheme,
        "description": entry.description,
        "header_names": ", ".join(entry.headers),
    }
    stored = {f"auth.{f}" for f in auth.secret_fields}
    if isinstance(auth, ApiKey):
        values.update({"auth.name": auth.name, "auth.location": auth.location})
    elif isinstance(auth, BasicAuth):
        values["auth.username"] = auth.username
    elif isinstance(auth, OAuth2ClientCredentials):
        values.update(
            {
                "auth.token_url": auth.token_url,
                "auth.client_id": auth.client_id,
                "auth.scopes": " ".join(auth.scopes),
            }
        )
    if entry.headers:
        stored.add("headers")
    return values, stored


def entry_name(form: Mapping[str, Any]) -> str:
    return validate_name(_text(form, "name"))


def database_from_form(form: Mapping[str, Any], keep: DatabaseSecret | None = None) -> DatabaseSecret:
    errors: list[FieldError] = []
    options = _pairs(_text(form, "options"), "=", "options", errors)
    password = _secret_input(form, "password")
    if not password and keep is not None:
        password = keep.password.reveal()  # blank on edit: keep the stored password
    try:
        source = _text(form, "credentials") or "stored"
        leased = source != "stored"
        entry = DatabaseSecret(
            engine=_text(form, "engine"),
            host=_text(form, "host"),
            port=_text(form, "port"),
            database=_text(form, "database"),
            username="" if leased else _text(form, "username"),
            password=Secret("" if leased else password),
            options=options,
            description=_text(form, "description"),
            credentials=source,
            role=_text(form, "role") if leased else "",
            secrets_mount=_text(form, "secrets_mount") or "database",
        )
    except ValidationFailed as exc:
        errors.extend(exc.errors)
        raise ValidationFailed(errors, "database entry") from None
    if errors:
        raise ValidationFailed(errors, "database entry")
    return entry


def api_from_form(form: Mapping[str, Any], keep: ApiSecret | None = None) -> ApiSecret:
    errors: list[FieldError] = []
    scheme = _text(form, "auth.type") or "none"
    kept_auth = keep.auth if keep is not None and keep.auth.scheme == scheme else None
    fields: dict[str, Any] = {}
    for name in AUTH_INPUTS.get(scheme, ()):
        key = name.split(".", 1)[1]
        if name in API_SECRET_INPUTS:
            value = _secret_input(form, name)
            if not value and kept_auth is not None:
                value = getattr(kept_auth, key).reveal()
            fields[key] = Secret(value)
        else:
            fields[key] = _text(form, name)
    headers_text = _secret_input(form, "headers")
    headers: Mapping[str, Any] = (
        _pairs(headers_text, ":", "headers", errors)
        if headers_text.strip()
        else dict(keep.headers)
        if keep is not None
        else {}
    )
    auth: Any = NoAuth()
    try:
        auth = auth_from_fields(scheme, fields)
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    try:
        entry = ApiSecret(
            _text(form, "base_url"), auth, headers=headers, description=_text(form, "description")
        )
    except ValidationFailed as exc:
        errors.extend(exc.errors)
        raise ValidationFailed(errors, "API entry") from None
    if errors:
        raise ValidationFailed(errors, "API entry")
    return entry


def _pairs(text: str, separator: str, field_name: str, errors: list[FieldError]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition(separator)
        if not sep:
            errors.append(FieldError(field_name, f"line {number} must look like name{separator}value"))
            continue
        pairs[key.strip()] = value.strip()
    return pairs


def changed_fields(mine: CatalogSecret, theirs: CatalogSecret) -> list[tuple[str, str, str]]:
    """What the other save changed, field by field; secret fields say only "changed"."""
    mine_doc, theirs_doc = _flat(mine.to_vault()), _flat(theirs.to_vault())
    secret_keys = {k for k in theirs_doc if _is_secret_path(theirs, k)}
    rows = []
    for key in sorted(set(mine_doc) | set(theirs_doc)):
        if mine_doc.get(key) == theirs_doc.get(key) or key == "kind":
            continue
        if key in secret_keys or _is_secret_path(mine, key):
            rows.append((key, "(secret)", "(changed)"))
        else:
            rows.append((key, str(mine_doc.get(key, "")), str(theirs_doc.get(key, ""))))
    return rows


def _is_secret_path(entry: CatalogSecret, key: str) -> bool:
    return any(key == f or key.startswith(f + ".") for f in entry.secret_fields) or key.startswith("headers.")


def _flat(document: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, Mapping):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


ENGINE_PORTS = {name: engine.default_port for name, engine in ENGINES.items()}
