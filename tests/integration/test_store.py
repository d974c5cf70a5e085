"""The catalog store against the real OpenBao: every operation, CAS, metadata-only listing."""

import pytest

from dlt_vault_provider import (
    AccessDenied,
    ApiKey,
    ApiSecret,
    BasicAuth,
    BearerToken,
    CatalogStore,
    DatabaseSecret,
    EntryInvalid,
    EntryKind,
    EntryNotFound,
    EntryRef,
    NoAuth,
    OAuth2ClientCredentials,
    UnsupportedOperation,
    UserpassAuth,
    VaultSession,
    VaultSettings,
    WriteConflict,
)
from tests.conftest import audit_paths, make_policy, make_user

pytestmark = pytest.mark.integration


def database(password="db-secret-0001", host="db.internal"):
    return DatabaseSecret(
        engine="postgresql",
        host=host,
        database="orders",
        username="loader",
        password=password,
        options={"sslmode": "require"},
        description="Orders",
    )


API_ENTRIES = {
    "github": ApiSecret("https://api.github.com", BearerToken("ghp-secret-token-1")),
    "stripe": ApiSecret("https://api.stripe.com", ApiKey("Authorization", "sk-secret-1", "header")),
    "weather": ApiSecret("https://weather.example", ApiKey("appid", "wk-secret-1", "query")),
    "legacy": ApiSecret("https://old.example", BasicAuth("svc", "basic-secret-1")),
    "crm": ApiSecret(
        "https://crm.example/api",
        OAuth2ClientCredentials("https://crm.example/oauth/token", "client-1", "oauth-secret-1", ("read",)),
        headers={"X-Tenant-Key": "tenant-secret-1"},
    ),
    "public": ApiSecret("https://open.example"),
}


def test_every_kind_is_written_read_and_listed(store: CatalogStore, canary):
    canary("db-secret-0001")
    assert store.put("orders_pg", database(), expected_version=0) == 1
    for name, secret in API_ENTRIES.items():
        assert store.put(name, secret, expected_version=0) == 1

    entry = store.get(EntryRef(EntryKind.DATABASE, "orders_pg"))
    assert entry.secret == database() and entry.version == 1
    assert entry.secret.password.reveal() == "db-secret-0001"
    assert entry.changed_by
    for name, secret in API_ENTRIES.items():
        assert store.get(EntryRef("api", name)).secret == secret
    assert store.find("crm").ref == EntryRef("api", "crm")
    assert isinstance(store.find("public").secret.auth, NoAuth)

    summaries = {str(s.ref): s for s in store.list()}
    assert set(summaries) == {"db/orders_pg"} | {f"api/{n}" for n in API_ENTRIES}
    pg = summaries["db/orders_pg"]
    assert pg.descriptors["engine"] == "postgresql" and pg.descriptors["host"] == "db.internal"
    assert pg.descriptors["database"] == "orders" and pg.descriptors["port"] == "5432"
    assert pg.descriptors["description"] == "Orders" and pg.changed_by and pg.changed_at
    assert pg.descriptors_current
    assert summaries["api/crm"].descriptors["auth"] == "oauth2_client_credentials"
    assert [s.ref.name for s in store.list(EntryKind.DATABASE)] == ["orders_pg"]


def test_listing_reads_no_secret_and_works_with_a_metadata_only_policy(
    bao, admin: VaultSession, store: CatalogStore, workspace
):
    store.put("orders_pg", database(), expected_version=0)
    store.put("github", API_ENTRIES["github"], expected_version=0)
    policy = make_policy(
        admin,
        f"meta-{workspace}",
        f"""
path "catalog/metadata/{workspace}/*" {{ capabilities = ["read", "list"] }}
path "catalog/detailed-metadata/{workspace}/*" {{ capabilities = ["list"] }}
""",
    )
    password = make_user(admin, f"lister-{workspace}", [policy])
    settings = VaultSettings(url=bao.address, renew=False)
    with VaultSession(settings, UserpassAuth(f"lister-{workspace}", password)) as session:
        lister = CatalogStore(session, workspace=workspace, kv_version=2)
        mark = bao.audit_mark()
        names = [str(s.ref) for s in lister.list()]
        assert names == ["api/github", "db/orders_pg"]
        paths = audit_paths(bao, mark, "catalog/")
        assert paths and not any(p.startswith("catalog/data/") for p in paths)
        assert len(paths) == 2  # one detailed-metadata LIST per kind
        with pytest.raises(AccessDenied) as caught:
            lister.get(EntryRef("db", "orders_pg"))
        assert "catalog/data" in str(caught.value) and bao.address in str(caught.value)


def test_listing_falls_back_to_plain_metadata_when_detailed_is_denied(
    bao, admin: VaultSession, store: CatalogStore, workspace
):
    store.put("a", database(), expected_version=0)
    store.put("b", database(), expected_version=0)
    policy = make_policy(
        admin,
        f"meta2-{workspace}",
        f'path "catalog/metadata/{workspace}/*" {{ capabilities = ["read", "list"] }}',
    )
    password = make_user(admin, f"lister2-{workspace}", [policy])
    with VaultSession(
        VaultSettings(url=bao.address, renew=False), UserpassAuth(f"lister2-{workspace}", password)
    ) as session:
        lister = CatalogStore(session, workspace=workspace, kv_version=2)
        summaries = lister.list(EntryKind.DATABASE)
        assert [s.ref.name for s in summaries] == ["a", "b"]
        assert summaries[0].descriptors["engine"] == "postgresql"


def test_versions_delete_undelete_destroy_purge(store: CatalogStore):
    ref = EntryRef("db", "orders_pg")
    store.put("orders_pg", database("pw-v1-secret"), expected_version=0)
    store.put("orders_pg", database("pw-v2-secret", host="db2.internal"), expected_version=1)
    store.put("orders_pg", database("pw-v3-secret", host="db3.internal"), expected_version=2)
    assert store.get(ref).secret.host == "db3.internal"
    assert store.get(ref, version=1).secret.password.reveal() == "pw-v1-secret"
    assert [v.version for v in store.versions(ref)] == [3, 2, 1]
    assert all(v.changed_by for v in store.versions(ref))

    store.delete(ref)
    with pytest.raises(EntryNotFound, match="version 3 is deleted"):
        store.get(ref)
    assert store.versions(ref)[0].state == "deleted"
    assert [s.deleted for s in store.list()] == [True]
    store.undelete(ref)
    assert store.get(ref).version == 3

    store.destroy(ref, [1])
    with pytest.raises(EntryNotFound, match="version 1 is destroyed"):
        store.get(ref, version=1)
    assert {v.version: v.state for v in store.versions(ref)} == {3: "active", 2: "active", 1: "destroyed"}

    assert store.restore(ref, 2, expected_version=3) == 4
    assert store.get(ref).secret.host == "db2.internal"

    store.purge(ref)
    with pytest.raises(EntryNotFound):
        store.get(ref)
    assert store.list() == []
    with pytest.raises(EntryNotFound):
        store.delete(ref)


def test_a_stale_check_and_set_write_is_refused_and_nothing_is_lost(store: CatalogStore):
    ref = EntryRef("db", "orders_pg")
    store.put("orders_pg", database("pw-base-secret"), expected_version=0)
    # Two editors load version 1; Ann saves first.
    store.put("orders_pg", database("pw-ann-secret", host="ann.internal"), expected_version=1)
    with pytest.raises(WriteConflict) as caught:
        store.put("orders_pg", database("pw-bob-secret", host="bob.internal"), expected_version=1)
    assert caught.value.expected_version == 1 and caught.value.current_version == 2
    assert "now at version 2" in str(caught.value)
    assert "pw-bob-secret" not in str(caught.value)
    entry = store.get(ref)
    assert entry.version == 2 and entry.secret.host == "ann.internal"
    with pytest.raises(WriteConflict, match="already exists"):
        store.put("orders_pg", database(), expected_version=0)
    assert [v.version for v in store.versions(ref)] == [2, 1]


def test_the_data_write_itself_is_check_and_set(store: CatalogStore, admin: VaultSession):
    """Even when another writer slips in between our metadata read and our write."""
    store.put("orders_pg", database(), expected_version=0)
    path = f"{store.workspace}/db/orders_pg"
    real_read = store._metadata_or_empty

    def read_then_race(kv, ref):
        metadata = real_read(kv, ref)
        admin.request(
            "POST", f"catalog/data/{path}", json={"options": {"cas": 1}, "data": database().to_vault()}
        )
        return metadata

    store._metadata_or_empty = read_then_race
    with pytest.raises(WriteConflict) as caught:
        store.put("orders_pg", database(host="late.internal"), expected_version=1)
    assert caught.value.current_version == 2
    store._metadata_or_empty = real_read
    assert store.get(EntryRef("db", "orders_pg")).secret.host == "db.internal"


def test_one_name_serves_one_entry(store: CatalogStore):
    store.put("shared", database(), expected_version=0)
    with pytest.raises(WriteConflict, match="already used by"):
        store.put("shared", API_ENTRIES["github"], expected_version=0)


def test_invalid_stored_data_is_reported_by_key(store: CatalogStore, admin: VaultSession, canary):
    canary("stored-but-broken-1")
    admin.request(
        "POST",
        f"catalog/data/{store.workspace}/db/broken",
        json={"data": {"engine": "postgresql", "password": "stored-but-broken-1"}},
    )
    with pytest.raises(EntryInvalid) as caught:
        store.get(EntryRef("db", "broken"))
    assert "'host'" in str(caught.value)
    assert "stored-but-broken-1" not in str(caught.value)


def test_kv_v1_mounts_can_be_read_not_written(admin: VaultSession, workspace):
    admin.request(
        "POST",
        f"legacy/{workspace}/db/old",
        json=DatabaseSecret(engine="mysql", host="m", username="u", password="v1-secret-pw").to_vault(),
    )
    legacy = CatalogStore(admin, mount="legacy", workspace=workspace)
    entry = legacy.get(EntryRef("db", "old"))
    assert entry.secret.engine == "mysql" and entry.secret.password.reveal() == "v1-secret-pw"
    assert [str(s.ref) for s in legacy.list()] == ["db/old"]
    with pytest.raises(UnsupportedOperation, match="KV version 1"):
        legacy.put("new", database(), expected_version=0)


def test_workspaces_are_kept_apart(admin: VaultSession, workspace):
    a = CatalogStore(admin, workspace=f"{workspace}-a")
    b = CatalogStore(admin, workspace=f"{workspace}-b")
    a.put("x", database(), expected_version=0)
    assert b.list() == []
    with pytest.raises(EntryNotFound):
        b.get(EntryRef("db", "x"))


def test_descriptors_vault_would_refuse_are_kept_printable_and_the_write_is_whole(store: CatalogStore):
    """Vault refuses unprintable custom_metadata after the data is written: the descriptors
    are escaped before anything is sent, so the entry is written whole, exact in its data."""
    description = "Orders\u00a0DB \U0001f469\u200d\U0001f4bb\tteam"
    secret = ApiSecret("https://api.example", NoAuth(), description=description)
    assert store.put("odd_text", secret, expected_version=0) == 1
    assert store.get(EntryRef("api", "odd_text")).secret.description == description
    summary = {s.ref.name: s for s in store.list()}["odd_text"]
    assert summary.descriptors_current and summary.changed_by
    assert summary.descriptors["description"] == "Orders\\u00a0DB \U0001f469\\u200d\U0001f4bb\\u0009team"
