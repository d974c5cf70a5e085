import pytest

from dlt_vault_provider import Secret, ValidationFailed, VaultSettings
from dlt_vault_provider.vault import AppRoleAuth, TokenAuth, UserpassAuth, auth_from_config


def test_reads_the_vault_cli_variables():
    env = {
        "VAULT_ADDR": "https://vault.example:8200/",
        "VAULT_TOKEN": "s.tok-123456",
        "VAULT_NAMESPACE": "team-a",
        "VAULT_CACERT": "/etc/ca.pem",
        "VAULT_CLIENT_CERT": "/c.pem",
        "VAULT_CLIENT_KEY": "/k.pem",
        "VAULT_SKIP_VERIFY": "false",
        "VAULT_CLIENT_TIMEOUT": "7s",
        "VAULT_MAX_RETRIES": "2",
    }
    s = VaultSettings.from_env(env)
    assert s.url == "https://vault.example:8200"
    assert s.token == Secret("s.tok-123456")
    assert s.namespace == "team-a"
    assert s.verify == "/etc/ca.pem"
    assert s.cert == ("/c.pem", "/k.pem")
    assert s.read_timeout == 7.0
    assert s.max_attempts == 3
    assert "tok-123456" not in repr(s)


def test_bao_aliases_and_precedence():
    assert VaultSettings.from_env({"BAO_ADDR": "http://b:1"}).url == "http://b:1"
    both = {"BAO_ADDR": "http://b:1", "VAULT_ADDR": "http://v:1"}
    assert VaultSettings.from_env(both).url == "http://v:1"
    assert VaultSettings.from_env(both, url="http://x:1").url == "http://x:1"
    assert VaultSettings.from_env({"VAULT_SKIP_VERIFY": "1"}).verify is False
    assert not VaultSettings.from_env({}).is_configured


def test_bad_settings_name_the_field():
    with pytest.raises(ValidationFailed, match="skip_verify"):
        VaultSettings.from_env({"VAULT_SKIP_VERIFY": "maybe"})
    with pytest.raises(ValidationFailed, match="read_timeout"):
        VaultSettings.from_env({"VAULT_CLIENT_TIMEOUT": "soon"})
    with pytest.raises(ValidationFailed, match="colour"):
        VaultSettings.from_mapping({"colour": "red"})


def test_auth_from_config_builds_each_method():
    assert isinstance(auth_from_config({}, {}), TokenAuth)
    approle = auth_from_config({"auth_method": "approle", "role_id": "r", "secret_id": "s-secret"}, {})
    assert isinstance(approle, AppRoleAuth) and approle.mount == "approle"
    user = auth_from_config(
        {},
        {
            "VAULT_AUTH_METHOD": "userpass",
            "VAULT_USERNAME": "ann",
            "VAULT_PASSWORD": "pw-secret",
            "VAULT_AUTH_MOUNT": "people",
        },
    )
    assert isinstance(user, UserpassAuth) and user.mount == "people"
    assert "pw-secret" not in repr(user) and "s-secret" not in repr(approle)
    with pytest.raises(ValidationFailed, match="auth_method"):
        auth_from_config({"auth_method": "magic"}, {})
    with pytest.raises(ValidationFailed, match="role_id"):
        auth_from_config({"auth_method": "approle"}, {})


def test_every_bound_on_a_call_is_configurable_from_the_environment():
    from dlt_vault_provider.settings import TRANSPORT_KEYS

    env = {
        "VAULT_ADDR": "http://127.0.0.1:8200",
        "VAULT_CONNECT_TIMEOUT": "1",
        "VAULT_CLIENT_TIMEOUT": "2",
        "VAULT_DEADLINE": "2.5s",
        "VAULT_MAX_RETRIES": "1",
        "BAO_BACKOFF": "0.05",
        "VAULT_MAX_BACKOFF": "0.5",
        "VAULT_BREAKER_THRESHOLD": "3",
        "VAULT_BREAKER_COOLDOWN": "2",
        "VAULT_MAX_CONNECTIONS": "200",
    }
    s = VaultSettings.from_env(env)
    assert [getattr(s, key) for key in TRANSPORT_KEYS] == [1.0, 2.0, 2.5, 2, 0.05, 0.5, 3, 2.0, 200]
    assert VaultSettings.from_env(env, deadline="4").deadline == 4.0  # the consumer's own config wins
    with pytest.raises(ValidationFailed, match="deadline"):
        VaultSettings.from_env({**env, "VAULT_DEADLINE": "soon"})


@pytest.mark.parametrize("token", ["tök-1", "a b", "a\nb", "x\x00y", "z\u2028z", "t" * 5000])
def test_a_token_that_cannot_be_a_vault_token_is_refused_by_name(token):
    """Else it fails as a transport error ("Vault unreachable", counted by the breaker)."""
    with pytest.raises(ValidationFailed, match="token: is not a Vault token") as caught:
        TokenAuth(token)
    assert token not in str(caught.value)
    with pytest.raises(ValidationFailed, match="namespace"):
        VaultSettings(url="http://127.0.0.1:1", namespace="team\nb")


def test_dlt_vault_section_sets_the_bounds_on_a_call(monkeypatch):
    """``[vault]`` keys reach the session, and win over VAULT_<KEY>."""
    from dlt_vault_provider.dlt_provider.config import VaultProviderConfiguration, build_resolver

    monkeypatch.setenv("VAULT_DEADLINE", "9")
    monkeypatch.setenv("VAULT_BREAKER_THRESHOLD", "7")
    config = VaultProviderConfiguration()
    config.url, config.token = "http://127.0.0.1:1", "dev-token-for-config"
    config.deadline, config.max_attempts, config.max_connections = 2.5, 2, 128
    with build_resolver(config).store.session as session:  # nothing is sent before a call
        settings = session.settings
    assert (settings.deadline, settings.max_attempts, settings.max_connections) == (2.5, 2, 128)
    assert settings.breaker_threshold == 7  # from VAULT_<KEY> when [vault] leaves it out


def test_a_pasted_token_loses_its_surrounding_whitespace():
    assert TokenAuth(" s.abc123\n").token.reveal() == "s.abc123"
    assert TokenAuth(Secret("s.abc123\r\n")).token.reveal() == "s.abc123"


def test_every_connection_the_session_opens_can_be_cut_at_the_deadline():
    """http and https pools both use the watched connection classes."""
    from dlt_vault_provider.vault.deadline import DeadlineAdapter

    adapter = DeadlineAdapter()
    for url in ("http://127.0.0.1:1", "https://127.0.0.1:1"):
        pool = adapter.poolmanager.connection_from_url(url)
        assert pool.ConnectionCls.__name__.startswith("_Watched"), (url, pool)
