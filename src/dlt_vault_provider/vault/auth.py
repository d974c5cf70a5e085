"""Auth methods: each small class knows how to log in, and nothing else.

The session owns the token's life (renewal, logging in again, revocation); a method only
turns its credentials into a token. Every method has a ``mount`` (the path it is
enabled at) and says whether it ``can_login_again`` without a person.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..errors import LoginFailed, ValidationFailed
from ..secret import Secret
from ..settings import env_lookup

if TYPE_CHECKING:
    from .session import VaultSession

KUBERNETES_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"
# Every key ``auth_from_config`` reads: adapters accept exactly these in their settings.
AUTH_KEYS = (
    "auth_method",
    "auth_mount",
    "role_id",
    "secret_id",
    "wrapped_secret_id",
    "secret_id_file",
    "username",
    "password",
    "password_file",
    "role",
    "jwt",
    "jwt_file",
    "token",
    "token_file",
)


@dataclass(frozen=True)
class LoginResult:
    """A fresh token and what Vault said of it. ``ttl`` None means "ask lookup-self"."""

    token: Secret = field(repr=False)
    ttl: int | None = None
    renewable: bool = False
    policies: tuple[str, ...] = ()
    from_login: bool = True

    @classmethod
    def from_auth_block(cls, auth: Mapping[str, Any]) -> LoginResult:
        return cls(
            token=Secret(auth["client_token"]),
            ttl=int(auth.get("lease_duration") or 0),
            renewable=bool(auth.get("renewable")),
            policies=tuple(auth.get("policies") or ()),
        )


class AuthMethod(ABC):
    """One way to obtain a Vault token."""

    name: str = ""
    mount: str = ""
    can_login_again: bool = True

    @abstractmethod
    def login(self, session: VaultSession) -> LoginResult:
        """Obtain a token. Raises ``LoginFailed`` naming the method and mount."""

    def describe(self) -> str:
        return f"{self.name} at auth/{self.mount}" if self.mount else self.name

    def _post_login(self, session: VaultSession, path: str, body: dict[str, Any]) -> LoginResult:
        return session.login_request(f"auth/{self.mount}/{path}", body, method=self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mount={self.mount!r})"


def _read_file(path: str, what: str, method: str) -> str:
    try:
        return Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise LoginFailed(f"{method}: cannot read the {what} file {path}: {exc.strerror}") from None


TOKEN_SHAPE = "is not a Vault token: a token is printable ASCII without spaces (at most 4096 characters)"


def _token_shaped(value: str) -> bool:
    """A token goes into an HTTP header: anything else would fail as a transport error
    ("Vault unreachable", and count against the circuit breaker) or a bare 400."""
    return 0 < len(value) <= 4096 and value.isascii() and value.isprintable() and " " not in value


class TokenAuth(AuthMethod):
    """A token given directly, in a file (re-read at each login: Vault Agent sinks rotate it)
    or in ``~/.vault-token``, in that order."""

    name = "token"

    def __init__(
        self,
        token: Secret | str | None = None,
        token_file: str | None = None,
        helper_file: str | None = "~/.vault-token",
    ) -> None:
        if token is not None:  # surrounding whitespace (a pasted newline) is never part of a token
            token = Secret((token.reveal() if isinstance(token, Secret) else token).strip())
        self.token = token
        if self.token and not _token_shaped(self.token.reveal()):
            raise ValidationFailed.one("token", TOKEN_SHAPE, "token auth")
        self.token_file = token_file
        self.helper_file = helper_file
        self.can_login_again = bool(token_file) and not token

    def login(self, session: VaultSession) -> LoginResult:
        if self.token:
            return LoginResult(self.token, ttl=None, from_login=False)
        for path in (self.token_file, self.helper_file):
            if path and Path(path).expanduser().is_file():
                value = _read_file(path, "token", "token auth")
                if value and not _token_shaped(value):
                    raise ValidationFailed.one("token_file", f"{path} {TOKEN_SHAPE}", "token auth")
                if value:
                    return LoginResult(Secret(value), ttl=None, from_login=False)
        raise LoginFailed(
            f"no Vault token for {session.address}: set VAULT_TOKEN, a token file, "
            "or an auth method (auth_method = approle, userpass, ...)",
            address=session.address,
        )

    def __repr__(self) -> str:
        source = "value" if self.token else (self.token_file or self.helper_file)
        return f"TokenAuth(source={source!r})"


class AppRoleAuth(AuthMethod):
    """AppRole: role id plus secret id, or a response-wrapped secret id unwrapped once."""

    name = "approle"

    def __init__(
        self,
        role_id: str,
        secret_id: Secret | str | None = None,
        *,
        wrapped_secret_id: Secret | str | None = None,
        secret_id_file: str | None = None,
        mount: str = "approle",
    ) -> None:
        if not role_id:
            raise ValidationFailed.one("role_id", "is required for AppRole", "auth settings")
        self.role_id = role_id
        self.mount = mount
        self._secret_id = Secret(secret_id) if isinstance(secret_id, str) else secret_id
        self._wrapping_token = (
            Secret(wrapped_secret_id) if isinstance(wrapped_secret_id, str) else wrapped_secret_id
        )
        self.secret_id_file = secret_id_file

    def _current_secret_id(self, session: VaultSession) -> Secret | None:
        if self._secret_id is None and self._wrapping_token is not None:
            wrapped, self._wrapping_token = self._wrapping_token, None  # a wrap unwraps once
            data = session.unwrap(wrapped)
            if "secret_id" not in data:
                raise LoginFailed(
                    f"the wrapped response at {session.address} holds no secret_id",
                    address=session.address,
                    path="sys/wrapping/unwrap",
                )
            self._secret_id = Secret(data["secret_id"])
        if self._secret_id is None and self.secret_id_file:
            return Secret(_read_file(self.secret_id_file, "secret id", "approle"))
        return self._secret_id

    def login(self, session: VaultSession) -> LoginResult:
        body: dict[str, Any] = {"role_id": self.role_id}
        secret_id = self._current_secret_id(session)
        if secret_id is not None:
            body["secret_id"] = secret_id.reveal()
        return self._post_login(session, "login", body)


class _UsernamePasswordAuth(AuthMethod):
    """userpass and LDAP share one flow: ``POST auth/<mount>/login/<username>``."""

    def __init__(
        self,
        username: str,
        password: Secret | str | None = None,
        *,
        password_file: str | None = None,
        mount: str | None = None,
    ) -> None:
        if not username:
            raise ValidationFailed.one("username", f"is required for {self.name}", "auth settings")
        if password is None and not password_file:
            raise ValidationFailed.one(
                "password", f"is required for {self.name} (or password_file)", "auth settings"
            )
        self.username = username
        self._password = Secret(password) if isinstance(password, str) else password
        self.password_file = password_file
        self.mount = mount or self.name

    def login(self, session: VaultSession) -> LoginResult:
        password = self._password or Secret(_read_file(str(self.password_file), "password", self.name))
        # One path segment whatever the name holds: "a/../../sys/x" must not leave login/.
        return self._post_login(
            session, f"login/{quote(self.username, safe='')}", {"password": password.reveal()}
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(username={self.username!r}, mount={self.mount!r})"


class UserpassAuth(_UsernamePasswordAuth):
    name = "userpass"


class LdapAuth(_UsernamePasswordAuth):
    name = "ldap"


class JwtAuth(AuthMethod):
    """JWT/OIDC: a role and a JWT, given or read from a file at each login (they rotate)."""

    name = "jwt"

    def __init__(
        self,
        role: str,
        jwt: Secret | str | None = None,
        *,
        jwt_file: str | None = None,
        mount: str | None = None,
    ) -> None:
        if jwt is None and not jwt_file:
            raise ValidationFailed.one("jwt_file", f"is required for {self.name}", "auth settings")
        self.role = role
        self._jwt = Secret(jwt) if isinstance(jwt, str) else jwt
        self.jwt_file = jwt_file
        self.mount = mount or self.name

    def login(self, session: VaultSession) -> LoginResult:
        jwt = self._jwt or Secret(_read_file(str(self.jwt_file), "JWT", self.name))
        body: dict[str, Any] = {"jwt": jwt.reveal()}
        if self.role:
            body["role"] = self.role
        return self._post_login(session, "login", body)


class KubernetesAuth(JwtAuth):
    """Kubernetes: the pod's service-account token, read from its file at each login."""

    name = "kubernetes"

    def __init__(self, role: str, *, jwt_file: str = KUBERNETES_TOKEN_PATH, mount: str | None = None) -> None:
        if not role:
            raise ValidationFailed.one("role", "is required for kubernetes", "auth settings")
        super().__init__(role, jwt_file=jwt_file, mount=mount)


class CertAuth(AuthMethod):
    """TLS certificate: the client certificate of the session's TLS settings is the credential."""

    name = "cert"

    def __init__(self, role: str | None = None, *, mount: str = "cert") -> None:
        self.role = role
        self.mount = mount

    def login(self, session: VaultSession) -> LoginResult:
        if not session.settings.client_cert:
            raise LoginFailed(
                "cert auth needs a client certificate: set VAULT_CLIENT_CERT and VAULT_CLIENT_KEY",
                address=session.address,
            )
        return self._post_login(session, "login", {"name": self.role} if self.role else {})


def auth_from_config(
    config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> AuthMethod:
    """Build the auth method named by ``auth_method`` (or ``VAULT_AUTH_METHOD``), default token.

    Keys (each also read as ``VAULT_<KEY>``): ``auth_mount``, ``role_id``, ``secret_id``,
    ``secret_id_file``, ``wrapped_secret_id``, ``username``, ``password``,
    ``password_file``, ``role``, ``jwt``, ``jwt_file``, ``token``, ``token_file``.
    """
    env = os.environ if environ is None else environ
    given = dict(config or {})

    def get(key: str) -> Any:
        value = given.get(key)
        if value is None or value == "":
            value = env_lookup(env, key.upper())
        return value

    method = str(get("auth_method") or "token").strip().lower()
    mount = get("auth_mount")
    if method == "token":
        return TokenAuth(get("token"), get("token_file"))
    if method == "approle":
        return AppRoleAuth(
            get("role_id") or "",
            get("secret_id"),
            wrapped_secret_id=get("wrapped_secret_id"),
            secret_id_file=get("secret_id_file"),
            mount=mount or "approle",
        )
    if method in ("userpass", "ldap"):
        cls = UserpassAuth if method == "userpass" else LdapAuth
        return cls(
            get("username") or "",
            get("password"),
            password_file=get("password_file"),
            mount=mount,
        )
    if method in ("jwt", "oidc"):
        return JwtAuth(get("role") or "", get("jwt"), jwt_file=get("jwt_file"), mount=mount)
    if method == "kubernetes":
        return KubernetesAuth(
            get("role") or "", jwt_file=get("jwt_file") or KUBERNETES_TOKEN_PATH, mount=mount
        )
    if method == "cert":
        return CertAuth(get("role"), mount=mount or "cert")
    raise ValidationFailed.one(
        "auth_method",
        "must be one of token, approle, userpass, ldap, jwt, oidc, kubernetes, cert",
        "auth settings",
    )
