"""Where Vault is and how to talk to it, as one frozen value.

Read from the variables the Vault CLI reads (``VAULT_*``, with OpenBao's ``BAO_*`` as
aliases) through an injectable ``environ``, so tests pass a dict; explicit arguments
override the environment. Nothing is read at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .errors import ValidationFailed
from .secret import Secret

_TRUE = {"1", "true", "yes", "on", "t", "y"}
_FALSE = {"0", "false", "no", "off", "f", "n", ""}


def env_lookup(environ: Mapping[str, str], name: str) -> str | None:
    """``VAULT_<name>``, else ``BAO_<name>``: the Vault CLI's variables with OpenBao's aliases."""
    for prefix in ("VAULT_", "BAO_"):
        value = environ.get(prefix + name)
        if value is not None and value != "":
            return value
    return None


def parse_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValidationFailed.one(name, "must be true or false", "Vault settings")


def parse_duration(value: Any, name: str) -> float:
    """Seconds from ``30``, ``1.5``, ``500ms``, ``30s``, ``15m``, ``2h``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        units = (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0))
        scale = 1.0
        for suffix, factor in units:
            if text.endswith(suffix):
                text, scale = text[: -len(suffix)], factor
                break
        try:
            seconds = float(text) * scale
        except ValueError:
            raise ValidationFailed.one(
                name, "must be a duration such as 30, 30s, 15m or 500ms", "Vault settings"
            ) from None
    if seconds < 0:
        raise ValidationFailed.one(name, "must not be negative", "Vault settings")
    return seconds


@dataclass(frozen=True)
class VaultSettings:
    """Connection settings shared by every consumer. Defaults are safe for production.

    ``connect_timeout``/``read_timeout`` bound one HTTP attempt; ``deadline`` bounds a
    whole call with its retries, so no call can hang past it.
    """

    url: str | None = None
    namespace: str | None = None
    ca_cert: str | None = None
    ca_path: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    skip_verify: bool = False
    token: Secret | None = field(default=None, repr=False)
    token_file: str | None = None
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    deadline: float = 20.0
    max_attempts: int = 4
    backoff: float = 0.2
    max_backoff: float = 2.0
    renew: bool = True
    revoke_on_close: bool = False
    breaker_threshold: int = 5
    breaker_cooldown: float = 1.0
    max_connections: int = 64
    """Kept-alive connections per session: size it to the threads that call at once, or
    urllib3 discards (and warns about) the extra connections."""

    def __post_init__(self) -> None:
        if self.token is not None and not isinstance(self.token, Secret):
            object.__setattr__(self, "token", Secret(str(self.token)))
        if self.url:
            object.__setattr__(self, "url", self.url.rstrip("/"))
        if self.namespace and not (self.namespace.isascii() and self.namespace.isprintable()):
            raise ValidationFailed.one(
                "namespace", "may hold only printable ASCII characters", "Vault settings"
            )
        if self.max_connections < 1:
            raise ValidationFailed.one("max_connections", "must be at least 1", "Vault settings")
        if self.max_attempts < 1:
            raise ValidationFailed.one("max_attempts", "must be at least 1", "Vault settings")
        for name in ("connect_timeout", "read_timeout", "deadline"):
            if getattr(self, name) <= 0:
                raise ValidationFailed.one(name, "must be more than 0", "Vault settings")

    @property
    def is_configured(self) -> bool:
        """True when an address is known: without one nothing talks to Vault."""
        return bool(self.url)

    @property
    def verify(self) -> bool | str:
        """What ``requests`` takes as ``verify``: False, a CA bundle or directory, or True."""
        if self.skip_verify:
            return False
        return self.ca_cert or self.ca_path or True

    @property
    def cert(self) -> tuple[str, str] | str | None:
        if self.client_cert and self.client_key:
            return (self.client_cert, self.client_key)
        return self.client_cert

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> VaultSettings:
        """Settings from ``VAULT_*``/``BAO_*`` variables; ``overrides`` that are not None win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, variable in _ENV_NAMES.items():
            raw = env_lookup(env, variable)
            if raw is not None:
                values[name] = raw
        retries = env_lookup(env, "MAX_RETRIES")  # the CLI counts retries, we count attempts
        if retries is not None and retries.strip().isdigit():
            values["max_attempts"] = int(retries) + 1
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> VaultSettings:
        """Build from loose values (strings from env or config files); unknown keys are refused."""
        kinds = {f.name: f.type for f in fields(cls)}  # the field's annotation says how to parse
        unknown = sorted(set(values) - set(kinds))
        if unknown:
            raise ValidationFailed.one(unknown[0], "is not a Vault setting", "Vault settings")
        typed: dict[str, Any] = {}
        for name, value in values.items():
            if kinds[name] == "bool":
                typed[name] = parse_bool(value, name)
            elif kinds[name] == "float":  # durations: "2.5", "2.5s", "1m"
                typed[name] = parse_duration(value, name)
            elif kinds[name] == "int":
                try:
                    typed[name] = int(value)
                except (TypeError, ValueError):
                    raise ValidationFailed.one(name, "must be a whole number", "Vault settings") from None
            elif name == "token":
                typed[name] = value if isinstance(value, Secret) else Secret(str(value))
            else:
                typed[name] = str(value) if value is not None else None
        return cls(**typed)

    def with_overrides(self, **changes: Any) -> VaultSettings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


TRANSPORT_KEYS = (
    "connect_timeout",
    "read_timeout",
    "deadline",
    "max_attempts",
    "backoff",
    "max_backoff",
    "breaker_threshold",
    "breaker_cooldown",
    "max_connections",
)
"""How calls travel (timeouts, deadline, retries, circuit breaker, connection pool): every
consumer takes them from VAULT_<KEY> and from its own configuration under these names."""

_ENV_NAMES = {
    "url": "ADDR",
    "namespace": "NAMESPACE",
    "ca_cert": "CACERT",
    "ca_path": "CAPATH",
    "client_cert": "CLIENT_CERT",
    "client_key": "CLIENT_KEY",
    "skip_verify": "SKIP_VERIFY",
    "token": "TOKEN",
    "token_file": "TOKEN_FILE",
    "read_timeout": "CLIENT_TIMEOUT",
    **{key: key.upper() for key in TRANSPORT_KEYS if key not in ("read_timeout", "max_attempts")},
}
