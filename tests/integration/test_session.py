"""The Vault session against the real OpenBao: logins, the token's life, clear errors."""

import threading
import time

import pytest
import requests

from dlt_vault_provider import (
    AccessDenied,
    AppRoleAuth,
    CatalogResolver,
    CatalogStore,
    DatabaseSecret,
    EntryRef,
    LoginExpired,
    LoginFailed,
    SessionClosed,
    TokenAuth,
    UserpassAuth,
    VaultSealed,
    VaultSession,
    VaultSettings,
    VaultUnavailable,
)
from dlt_vault_provider.devservers import OpenBaoServer
from tests.conftest import audit_paths, make_policy, make_user, missing

pytestmark = pytest.mark.integration

ENTRY = DatabaseSecret(
    engine="postgresql", host="db.internal", username="loader", password="session-test-pw-1"
)


def reader_policy(admin, workspace):
    return make_policy(
        admin,
        f"reader-{workspace}",
        f"""
path "catalog/data/{workspace}/*" {{ capabilities = ["read"] }}
path "catalog/metadata/{workspace}/*" {{ capabilities = ["read", "list"] }}
""",
    )


def fast(url, **changes):
    """Settings with short timeouts, so that failure tests end quickly (still bounded)."""
    values = dict(
        url=url,
        connect_timeout=1.0,
        read_timeout=2.0,
        deadline=4.0,
        max_attempts=3,
        backoff=0.05,
        max_backoff=0.3,
    )
    values.update(changes)
    return VaultSettings(**values)


def test_a_short_lived_token_is_renewed_for_as_long_as_the_process_runs(bao, admin, store):
    store.put("orders", ENTRY, expected_version=0)
    created = admin.request(
        "POST", "auth/token/create", json={"ttl": "3s", "explicit_max_ttl": "60s", "renewable": True}
    )
    token = created["auth"]["client_token"]
    mark = bao.audit_mark()
    with VaultSession(VaultSettings(url=bao.address, token=token)) as session:
        reader = CatalogStore(session, workspace=store.workspace, kv_version=2)
        reader.get(EntryRef("db", "orders"))
        time.sleep(6.5)  # more than twice the token's TTL
        assert reader.get(EntryRef("db", "orders")).secret.host == "db.internal"
        assert session.token_ttl() > 0
    renewals = [p for p in audit_paths(bao, mark) if p == "auth/token/renew-self"]
    assert len(renewals) >= 2


def test_approle_login(bao, admin, store, canary):
    store.put("orders", ENTRY, expected_version=0)
    policy = reader_policy(admin, store.workspace)
    role = f"role-{store.workspace}"
    admin.request("POST", f"auth/approle/role/{role}", json={"token_policies": [policy], "token_ttl": "60s"})
    role_id = admin.request("GET", f"auth/approle/role/{role}/role-id")["data"]["role_id"]
    secret_id = admin.request("POST", f"auth/approle/role/{role}/secret-id")["data"]["secret_id"]
    canary(secret_id)
    mark = bao.audit_mark()
    with VaultSession(VaultSettings(url=bao.address), AppRoleAuth(role_id, secret_id)) as session:
        reader = CatalogStore(session, workspace=store.workspace, kv_version=2)
        assert reader.get(EntryRef("db", "orders")).version == 1
        assert policy in session.whoami().policies
    assert audit_paths(bao, mark).count("auth/approle/login") == 1


def test_approle_with_a_response_wrapped_secret_id_unwraps_once(bao, admin, store, canary):
    store.put("orders", ENTRY, expected_version=0)
    role = f"wrapped-{store.workspace}"
    admin.request(
        "POST", f"auth/approle/role/{role}", json={"token_policies": [reader_policy(admin, store.workspace)]}
    )
    role_id = admin.request("GET", f"auth/approle/role/{role}/role-id")["data"]["role_id"]
    response = requests.post(
        f"{bao.address}/v1/auth/approle/role/{role}/secret-id",
        headers={"X-Vault-Token": bao.root_token.reveal(), "X-Vault-Wrap-TTL": "60s"},
        timeout=5,
    )
    wrapping_token = response.json()["wrap_info"]["token"]
    canary(wrapping_token)
    mark = bao.audit_mark()
    auth = AppRoleAuth(role_id, wrapped_secret_id=wrapping_token)
    with VaultSession(VaultSettings(url=bao.address), auth) as session:
        CatalogStore(session, workspace=store.workspace, kv_version=2).get(EntryRef("db", "orders"))
    assert audit_paths(bao, mark)[:2] == ["sys/wrapping/unwrap", "auth/approle/login"]
    # Someone who intercepted the wrapping token cannot use it again: it unwraps only once.
    again = AppRoleAuth(role_id, wrapped_secret_id=wrapping_token)
    with VaultSession(fast(bao.address), again) as session, pytest.raises(LoginFailed) as caught:
        session.whoami()
    assert "already used" in str(caught.value)


def test_userpass_login_and_identity(bao, admin, store):
    password = make_user(admin, f"ann-{store.workspace}", [reader_policy(admin, store.workspace)])
    with VaultSession(
        VaultSettings(url=bao.address), UserpassAuth(f"ann-{store.workspace}", password)
    ) as session:
        assert session.whoami().identity == f"ann-{store.workspace}"


def test_a_wrong_password_is_a_clear_login_failure(bao, admin, workspace):
    make_user(admin, f"bob-{workspace}", ["default"])
    auth = UserpassAuth(f"bob-{workspace}", "wrong-pw-123")
    with VaultSession(fast(bao.address), auth) as s, pytest.raises(LoginFailed) as caught:
        s.whoami()
    text = str(caught.value)
    assert "userpass at auth/userpass" in text and bao.address in text
    assert "wrong-pw-123" not in text


def test_an_expired_login_is_replaced_by_a_new_login(bao, admin, store):
    store.put("orders", ENTRY, expected_version=0)
    username = f"short-{store.workspace}"
    password = make_user(
        admin, username, [reader_policy(admin, store.workspace)], token_ttl="2s", token_max_ttl="2s"
    )
    mark = bao.audit_mark()
    settings = VaultSettings(url=bao.address, renew=False)
    with VaultSession(settings, UserpassAuth(username, password)) as session:
        reader = CatalogStore(session, workspace=store.workspace, kv_version=2)
        reader.get(EntryRef("db", "orders"))
        time.sleep(2.5)
        assert reader.get(EntryRef("db", "orders")).version == 1
    assert audit_paths(bao, mark).count(f"auth/userpass/login/{username}") == 2


def test_a_revoked_token_is_told_apart_and_replaced_after_a_403(bao, admin, store):
    store.put("orders", ENTRY, expected_version=0)
    username = f"rev-{store.workspace}"
    password = make_user(admin, username, [reader_policy(admin, store.workspace)])
    with VaultSession(
        VaultSettings(url=bao.address, renew=False), UserpassAuth(username, password)
    ) as session:
        reader = CatalogStore(session, workspace=store.workspace, kv_version=2)
        reader.get(EntryRef("db", "orders"))
        admin.request("POST", "auth/token/revoke", json={"token": session._state.token.reveal()})
        mark = bao.audit_mark()
        assert reader.get(EntryRef("db", "orders")).version == 1
        paths = audit_paths(bao, mark)
        assert paths.count(f"auth/userpass/login/{username}") == 1
        assert "auth/token/lookup-self" in paths


def test_a_dead_static_token_is_reported_as_expired_not_denied(bao, admin, store):
    token = admin.request("POST", "auth/token/create", json={"ttl": "60s"})["auth"]["client_token"]
    with VaultSession(fast(bao.address, token=token, renew=False)) as session:
        session.whoami()
        admin.request("POST", "auth/token/revoke", json={"token": token})
        with pytest.raises(LoginExpired) as caught:
            CatalogStore(session, workspace=store.workspace, kv_version=2).get(EntryRef("db", "orders"))
    assert "expired or was revoked" in str(caught.value) and token not in str(caught.value)


def test_a_denied_path_is_reported_as_denied(bao, admin, store, workspace):
    store.put("orders", ENTRY, expected_version=0)
    other = CatalogStore(admin, workspace=workspace + "-other")
    other.put("secret_db", ENTRY, expected_version=0)
    password = make_user(admin, f"den-{workspace}", [reader_policy(admin, workspace)])
    mark = bao.audit_mark()
    with VaultSession(
        VaultSettings(url=bao.address, renew=False), UserpassAuth(f"den-{workspace}", password)
    ) as session:
        mine = CatalogStore(session, workspace=workspace, kv_version=2)
        assert mine.get(EntryRef("db", "orders")).version == 1
        theirs = CatalogStore(session, workspace=workspace + "-other", kv_version=2)
        with pytest.raises(AccessDenied) as caught:
            theirs.get(EntryRef("db", "secret_db"))
    text = str(caught.value)
    assert f"catalog/data/{workspace}-other/db/secret_db" in text and "policy" in text
    assert bao.address in text
    # the policy was checked, and no second login was attempted
    assert audit_paths(bao, mark).count(f"auth/userpass/login/den-{workspace}") == 1


def test_missing_token_and_closed_session_are_clear(bao, tmp_path):
    auth = TokenAuth(None, helper_file=str(tmp_path / "none"))
    with VaultSession(fast(bao.address), auth) as s, pytest.raises(LoginFailed, match="VAULT_TOKEN"):
        s.whoami()
    with pytest.raises(SessionClosed):
        s.whoami()


def test_token_file_is_used(bao, tmp_path):
    path = tmp_path / "token"
    path.write_text(bao.root_token.reveal() + "\n")
    with VaultSession(fast(bao.address), TokenAuth(token_file=str(path))) as session:
        assert "root" in session.whoami().policies


def test_revoke_on_close_ends_the_login_token(bao, admin, workspace):
    password = make_user(admin, f"rc-{workspace}", ["default"])
    settings = VaultSettings(url=bao.address, revoke_on_close=True, renew=False)
    session = VaultSession(settings, UserpassAuth(f"rc-{workspace}", password))
    session.whoami()
    token = session._state.token.reveal()
    session.close()
    response = requests.post(
        f"{bao.address}/v1/auth/token/lookup",
        headers={"X-Vault-Token": bao.root_token.reveal()},
        json={"token": token},
        timeout=5,
    )
    assert response.status_code in (400, 403)


def test_many_threads_share_one_login(bao, admin, workspace):
    password = make_user(admin, f"mt-{workspace}", ["default"])
    mark = bao.audit_mark()
    with VaultSession(
        VaultSettings(url=bao.address, renew=False), UserpassAuth(f"mt-{workspace}", password)
    ) as session:
        answers = []

        def ask():
            answers.append(session.request("GET", "auth/token/lookup-self")["data"]["display_name"])

        threads = [threading.Thread(target=ask) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert answers == [f"userpass-mt-{workspace}"] * 20
    assert audit_paths(bao, mark).count(f"auth/userpass/login/mt-{workspace}") == 1


@pytest.mark.parametrize(("max_connections", "discards_expected"), [(8, True), (48, False)])
def test_the_connection_pool_is_sized_by_max_connections(bao, caplog, max_connections, discards_expected):
    """More threads than kept-alive connections: urllib3 discards the extras and warns. With
    ``max_connections`` sized to the threads, no connection is thrown away."""
    settings = VaultSettings(
        url=bao.address, token=bao.root_token, renew=False, max_connections=max_connections
    )
    barrier = threading.Barrier(40)
    with VaultSession(settings) as session:

        def ask() -> None:
            barrier.wait()
            for _ in range(5):
                session.request("GET", "auth/token/lookup-self")

        threads = [threading.Thread(target=ask) for _ in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    discards = [r for r in caplog.records if "Connection pool is full" in r.getMessage()]
    assert bool(discards) == discards_expected, len(discards)


# --- a server that stops, restarts, seals -----------------------------------------------


@pytest.fixture
def persistent_bao(tmp_path):
    server = OpenBaoServer(tmp_path / "bao", dev=False)
    try:
        server.start()
    except FileNotFoundError as exc:
        missing(str(exc))
    root = VaultSettings(url=server.address, token=server.root_token, renew=False)
    with VaultSession(root) as admin:
        admin.request("POST", "sys/mounts/catalog", json={"type": "kv", "options": {"version": "2"}})
    yield server
    server.stop()


def test_vault_stopped_and_restarted_during_a_run(persistent_bao):
    server = persistent_bao
    settings = fast(server.address, token=server.root_token, renew=False)
    with VaultSession(settings) as session:
        store = CatalogStore(session, kv_version=2)
        store.put("orders", ENTRY, expected_version=0)
        resolver = CatalogResolver(store, ttl=0.5, stale_ttl=60)
        ref = EntryRef("db", "orders")
        assert not resolver.get(ref).stale

        server.stop()
        time.sleep(0.6)  # let the cached value expire
        started = time.monotonic()
        with pytest.raises(VaultUnavailable) as caught:
            store.get(ref)
        took = time.monotonic() - started
        assert took < settings.deadline + 2, f"the call took {took:.1f}s: it must be bounded"
        assert server.address in str(caught.value) and "unreachable" in str(caught.value)
        assert "catalog/data/default/db/orders" in str(caught.value)
        served = resolver.get(ref)  # stale-if-error: the last good value, flagged
        assert served.stale and served.secret.host == "db.internal"

        server.start()
        server.unseal()
        assert store.get(ref).version == 1  # the same session recovers by itself
        resolver.invalidate()
        assert not resolver.get(ref).stale


def test_a_sealed_vault_is_reported_as_sealed(persistent_bao, caplog):
    server = persistent_bao
    with VaultSession(fast(server.address, token=server.root_token, renew=False)) as session:
        store = CatalogStore(session, kv_version=2)
        store.put("orders", ENTRY, expected_version=0)
        server.seal()
        caplog.clear()
        with pytest.raises(VaultSealed) as caught:
            store.get(EntryRef("db", "orders"))
        assert "retrying" not in caplog.text  # no retries against a sealed server
        assert "sealed" in str(caught.value) and server.address in str(caught.value)
        assert isinstance(caught.value, VaultUnavailable)
        server.unseal()
        assert store.get(EntryRef("db", "orders")).version == 1
