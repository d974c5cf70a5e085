"""dlt-vault-provider: pipelines get their credentials from a typed catalog in Vault.

The core (catalog model, Vault session and auth, catalog store, resolver) is re-exported
here; it imports neither dlt, Airflow nor a web framework.
"""

from .catalog import (
    ENGINES,
    ApiKey,
    ApiSecret,
    BasicAuth,
    BearerToken,
    DatabaseSecret,
    EntryKind,
    NoAuth,
    OAuth2ClientCredentials,
    validate_name,
)
from .errors import (
    AccessDenied,
    DltVaultError,
    EntryInvalid,
    EntryNotFound,
    FieldError,
    LoginExpired,
    LoginFailed,
    SessionClosed,
    UnsupportedOperation,
    ValidationFailed,
    VaultError,
    VaultSealed,
    VaultUnavailable,
    WriteConflict,
)
from .resolver import CatalogResolver
from .secret import Secret
from .settings import VaultSettings
from .store import CatalogStore, Entry, EntryRef, EntrySummary, VersionInfo
from .vault import (
    AppRoleAuth,
    AuthMethod,
    CertAuth,
    JwtAuth,
    KubernetesAuth,
    LdapAuth,
    TokenAuth,
    UserpassAuth,
    VaultSession,
    auth_from_config,
)

__version__ = "0.1.0"

_DLT_NAMES = {"VaultCatalogProvider", "register"}


def __getattr__(name: str) -> object:
    """The dlt adapter loads on first use, so ``import dlt_vault_provider`` never imports dlt."""
    if name in _DLT_NAMES:
        from . import dlt_provider

        return getattr(dlt_provider, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ENGINES",
    "AccessDenied",
    "ApiKey",
    "ApiSecret",
    "AppRoleAuth",
    "AuthMethod",
    "BasicAuth",
    "BearerToken",
    "CatalogResolver",
    "CatalogStore",
    "CertAuth",
    "DatabaseSecret",
    "DltVaultError",
    "Entry",
    "EntryInvalid",
    "EntryKind",
    "EntryNotFound",
    "EntryRef",
    "EntrySummary",
    "FieldError",
    "JwtAuth",
    "KubernetesAuth",
    "LdapAuth",
    "LoginExpired",
    "LoginFailed",
    "NoAuth",
    "OAuth2ClientCredentials",
    "Secret",
    "SessionClosed",
    "TokenAuth",
    "UnsupportedOperation",
    "UserpassAuth",
    "ValidationFailed",
    "VaultCatalogProvider",
    "VaultError",
    "VaultSealed",
    "VaultSession",
    "VaultSettings",
    "VaultUnavailable",
    "VersionInfo",
    "WriteConflict",
    "auth_from_config",
    "register",
    "validate_name",
]
