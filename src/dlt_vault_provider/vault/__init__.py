"""Talking to Vault: the session (transport, retries, token life), auth methods and KV."""

from .auth import (
    AppRoleAuth,
    AuthMethod,
    CertAuth,
    JwtAuth,
    KubernetesAuth,
    LdapAuth,
    LoginResult,
    TokenAuth,
    UserpassAuth,
    auth_from_config,
)
from .retry import RetryPolicy
from .session import RequestRejected, TokenInfo, VaultSession

__all__ = [
    "AppRoleAuth",
    "AuthMethod",
    "CertAuth",
    "JwtAuth",
    "KubernetesAuth",
    "LdapAuth",
    "LoginResult",
    "RequestRejected",
    "RetryPolicy",
    "TokenAuth",
    "TokenInfo",
    "UserpassAuth",
    "VaultSession",
    "auth_from_config",
]
