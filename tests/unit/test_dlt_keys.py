"""Which catalog entry or document answers a dlt key: pure mapping, no Vault."""

import pytest

from dlt_vault_provider import (
    ApiKey,
    ApiSecret,
    BasicAuth,
    BearerToken,
    DatabaseSecret,
    EntryRef,
    OAuth2ClientCredentials,
    ValidationFailed,
)
from dlt_vault_provider.dlt_provider.keys import (
    DocumentField,
    EntryField,
    api_value,
    database_value,
    document_candidates,
    entry_candidates,
    parse_bindings,
)

DB = EntryRef("db", "sql_database")


def test_credentials_of_sources_and_destinations_follow_the_convention():
    assert entry_candidates("credentials", ("sources", "sql_database", "sql_database"), None, {}) == [
        EntryField(DB, None, bound=False)
    ]
    assert entry_candidates("credentials", ("sources", "sql_database"), "p", {}) == [
        EntryField(DB, None, bound=False)
    ]
    assert entry_candidates("credentials", ("destination", "warehouse"), None, {}) == [
        EntryField(EntryRef("db", "warehouse"), None, bound=False)
    ]
    assert entry_candidates("password", ("destination", "warehouse", "credentials"), None, {}) == [
        EntryField(EntryRef("db", "warehouse"), "password", bound=False)
    ]


def test_api_fields_of_sources_come_from_api_entries():
    assert entry_candidates("api_key", ("sources", "weather"), None, {}) == [
        EntryField(EntryRef("api", "weather"), "api_key", bound=False)
    ]
    assert entry_candidates("token", ("destination", "x"), None, {}) == []


def test_other_keys_and_shapes_have_no_entry():
    assert entry_candidates("chunk_size", ("sources", "sql_database"), None, {}) == []
    assert entry_candidates("credentials", ("sources",), None, {}) == []
    assert entry_candidates("credentials", ("runtime", "x"), None, {}) == []
    assert entry_candidates("credentials", ("sources", "bad name!"), None, {}) == []


def test_bindings_come_first_pipeline_scoped_before_global():
    bindings = parse_bindings(
        {"sources.sql_database": "db/orders_pg", "nightly.sources.sql_database": "db/orders_replica"}
    )
    found = entry_candidates("credentials", ("sources", "sql_database"), "nightly", bindings)
    assert [f.ref for f in found] == [EntryRef("db", "orders_replica"), EntryRef("db", "orders_pg")]
    assert all(f.bound for f in found)  # a binding replaces the convention
    deeper = entry_candidates("credentials", ("sources", "sql_database", "sql_database"), None, bindings)
    assert [f.ref for f in deeper] == [EntryRef("db", "orders_pg")]  # it covers subsections


@pytest.mark.parametrize("target", ["orders_pg", "db/", "db/../x", "kv/x", "", "db/a/b"])
def test_a_bad_binding_names_itself(target):
    with pytest.raises(ValidationFailed) as caught:
        parse_bindings({"sources.sql_database": target})
    assert 'vault.bindings."sources.sql_database"' in str(caught.value)


def test_documents_are_nested_under_their_section_never_the_root():
    assert document_candidates("api_key", ("sources", "pipedrive"), None) == [
        DocumentField("sources.pipedrive", "api_key"),
        DocumentField("sources.pipedrive.api_key", None),
    ]
    assert document_candidates("x", (), None) == [DocumentField("x", None)]
    assert DocumentField("", "x") not in document_candidates("x", (), "p")


def test_values_served_from_entries():
    db = DatabaseSecret(
        engine="postgresql",
        host="h",
        username="u",
        password="p@w",
        database="d",
        options={"sslmode": "require"},
    )
    assert database_value(db, None) == "postgresql://u:p%40w@h:5432/d?sslmode=require"
    assert database_value(db, "password") == "p@w"
    assert database_value(db, "port") == 5432
    assert database_value(db, "query") == {"sslmode": "require"}
    assert api_value(ApiSecret("https://x.example", BearerToken("t1")), "token") == "t1"
    assert api_value(ApiSecret("https://x.example", BearerToken("t1")), "api_key") is None
    key = ApiSecret("https://x.example", ApiKey("X-K", "k1", "query"))
    assert (api_value(key, "api_key"), api_value(key, "api_key_location")) == ("k1", "query")
    basic = ApiSecret("https://x.example", BasicAuth("u", "pw"))
    assert api_value(basic, "password") == "pw"
    oauth = ApiSecret("https://x.example", OAuth2ClientCredentials("https://i.example/t", "c", "s"))
    assert api_value(oauth, "client_secret") == "s"
    assert api_value(oauth, "base_url") == "https://x.example"
