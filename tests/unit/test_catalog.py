"""The catalog model: validation names the field, URLs round-trip, secrets stay hidden."""

import string
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from dlt_vault_provider import (
    ENGINES,
    ApiKey,
    ApiSecret,
    BasicAuth,
    BearerToken,
    DatabaseSecret,
    EntryInvalid,
    OAuth2ClientCredentials,
    Secret,
    ValidationFailed,
    validate_name,
)
from dlt_vault_provider.catalog import EntryKind, auth_from_fields, secret_from_vault

PASSWORD = "p@ss:w/o?r#d%+ é 密码"


def db(**changes):
    fields = dict(
        engine="postgresql", host="db.internal", database="orders", username="loader", password=PASSWORD
    )
    fields.update(changes)
    return DatabaseSecret(**fields)


def test_url_escapes_every_special_character_and_round_trips():
    entry = db(options={"sslmode": "require"})
    url = entry.connection_url().reveal()
    assert url.startswith("postgresql://loader:")
    assert url.endswith("@db.internal:5432/orders?sslmode=require")
    parsed = make_url(url)
    assert parsed.password == PASSWORD and parsed.username == "loader"
    assert parsed.query == {"sslmode": "require"}
    assert DatabaseSecret.from_url(url) == entry


def test_each_engine_has_a_dialect_and_default_port():
    for name, engine in ENGINES.items():
        entry = db(engine=name)
        assert entry.port == engine.default_port
        assert entry.drivername == engine.dialect
        assert make_url(entry.connection_url().reveal()).drivername == engine.dialect
    assert db(engine="mysql", driver="pymysql").drivername == "mysql+pymysql"
    assert db(engine="postgres").engine == "postgresql"


def test_ipv6_host_is_bracketed():
    url = db(host="::1").connection_url().reveal()
    assert "@[::1]:5432/" in url
    assert make_url(url).host == "::1"


def test_repr_str_and_masked_url_hide_the_password():
    entry = db()
    for text in (repr(entry), str(entry), entry.masked_url(), repr(entry.connection_url())):
        assert PASSWORD not in text and "p%40ss" not in text
    api = ApiSecret(
        "https://api.example.com", BearerToken("tok-abcdef"), headers={"X-Tenant": "tenant-secret"}
    )
    assert "tok-abcdef" not in repr(api) and "tenant-secret" not in repr(api)


def test_every_bad_field_is_named_at_once():
    with pytest.raises(ValidationFailed) as caught:
        DatabaseSecret(engine="db2", host="", port=70000, username="")
    assert set(caught.value.fields) == {"engine", "host", "port", "username"}
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"port": 0}, "port"),
        ({"port": "abc"}, "port"),
        ({"port": True}, "port"),
        ({"host": "db:5432"}, "host"),
        ({"host": "user@db"}, "host"),
        ({"host": " db"}, "db"),
        ({"options": {"bad key": "x"}}, "options"),
        ({"options": {"sslmode": ""}}, "options.sslmode"),
        ({"description": "x" * 501}, "description"),
        ({"password": "x\x00y"}, "password"),
        ({"driver": "psycopg; drop"}, "driver"),
    ],
)
def test_invalid_database_fields(changes, field):
    if field == "db":  # surrounding spaces are trimmed, not refused
        assert db(**changes).host == "db"
        return
    with pytest.raises(ValidationFailed) as caught:
        db(**changes)
    assert field in caught.value.fields


def test_port_given_as_text_is_accepted():
    assert db(port="6543").port == 6543


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "required"),
        ("ftp://x.example", "http"),
        ("https://", "host"),
        ("https://user:pw@x.example", "credentials"),
        ("https://x.example/#frag", "fragment"),
        ("https://x.example:99999", "valid URL"),
        ("https://x .example", "spaces"),
    ],
)
def test_malformed_base_url_is_refused(url, problem):
    with pytest.raises(ValidationFailed) as caught:
        ApiSecret(url)
    assert problem in caught.value.fields["base_url"]


def test_api_auth_schemes():
    assert ApiKey("X-API-Key", "k-123", "query").location == "query"
    with pytest.raises(ValidationFailed, match=r"auth\.location"):
        ApiKey("X-API-Key", "k", "cookie")
    with pytest.raises(ValidationFailed, match=r"auth\.name"):
        ApiKey("bad name", "k")
    with pytest.raises(ValidationFailed, match=r"auth\.username"):
        BasicAuth("a:b", "pw")
    oauth = OAuth2ClientCredentials("https://idp.example/token", "cid", "cs-secret", "read write")
    assert oauth.scopes == ("read", "write")
    with pytest.raises(ValidationFailed, match=r"auth\.token_url"):
        OAuth2ClientCredentials("not a url", "cid", "cs")
    with pytest.raises(ValidationFailed, match=r"auth\.type"):
        auth_from_fields("kerberos", {})
    with pytest.raises(ValidationFailed, match=r"auth\.token"):
        auth_from_fields("bearer", {})


def test_api_entry_round_trips_through_its_vault_document():
    entry = ApiSecret(
        "https://api.example.com/v1",
        OAuth2ClientCredentials("https://idp.example/token", "cid", "cs-secret", ("a", "b")),
        headers={"X-Tenant": "t-1"},
        description="payments",
    )
    again = ApiSecret.from_vault(entry.to_vault())
    assert again == entry
    assert again.auth.client_secret.reveal() == "cs-secret"
    assert entry.descriptors() == {
        "kind": "api",
        "base_url": "https://api.example.com/v1",
        "auth": "oauth2_client_credentials",
        "description": "payments",
    }


def test_stored_data_that_does_not_fit_names_the_key_not_the_value():
    with pytest.raises(EntryInvalid) as caught:
        secret_from_vault(
            EntryKind.DATABASE,
            {"engine": "postgresql", "password": "leak-me-123"},
            where="catalog/default/db/x",
        )
    assert "'host'" in str(caught.value) and "leak-me-123" not in str(caught.value)
    with pytest.raises(EntryInvalid) as caught:
        secret_from_vault(
            EntryKind.DATABASE,
            {"engine": "postgresql", "host": "h", "port": 99999, "username": "u", "password": "leak-me-123"},
            where="catalog/default/db/x",
        )
    assert "port" in str(caught.value) and "leak-me-123" not in str(caught.value)


# --- properties -----------------------------------------------------------------------

_any_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=60
)


@settings(max_examples=300, deadline=None)
@given(
    password=_any_text,
    username=_any_text.filter(
        lambda u: u.strip() == u and not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in u)
    ),
    database=st.text(min_size=0, max_size=20).filter(lambda d: "\x00" not in d),
)
def test_any_password_round_trips_through_the_url(password, username, database):
    entry = DatabaseSecret(
        engine="postgresql", host="h.example", username=username, password=password, database=database
    )
    url = entry.connection_url().reveal()
    assert make_url(url).password == password  # SQLAlchemy's parser, as dlt uses it
    assert make_url(url).username == username
    assert unquote(urlsplit(url).password or "") == password
    assert DatabaseSecret.from_url(url) == entry


_name_chars = string.ascii_letters + string.digits + "-_."


@given(st.text(_name_chars, min_size=1, max_size=128).filter(lambda n: n not in (".", "..")))
def test_valid_names_are_accepted(name):
    assert validate_name(name) == name


@given(
    st.one_of(
        st.just(""),
        st.just("."),
        st.just(".."),
        st.text(_name_chars, min_size=129, max_size=300),
        st.text(min_size=1, max_size=40).filter(lambda n: any(c not in _name_chars for c in n)),
    )
)
def test_invalid_names_are_refused_naming_the_field(name):
    with pytest.raises(ValidationFailed) as caught:
        validate_name(name)
    assert "name" in caught.value.fields


@given(st.one_of(st.integers(max_value=0), st.integers(min_value=65536)))
def test_out_of_range_ports_are_refused(port):
    with pytest.raises(ValidationFailed) as caught:
        db(port=port)
    assert "port" in caught.value.fields


@given(st.sampled_from(["", " ", "a b", "a/b", "a@b", "a?b", "a#b", "a\nb", "a\\b", "x:1"]))
def test_bad_hosts_are_refused(host):
    with pytest.raises(ValidationFailed) as caught:
        db(host=host)
    assert "host" in caught.value.fields


def test_secret_fields_are_declared():
    assert DatabaseSecret.secret_fields == ("password",)
    api = ApiSecret("https://x.example", BasicAuth("u", "p"), headers={"X-K": "v"})
    assert api.secret_fields == ("auth.password", "headers.X-K")
    assert isinstance(api.headers["X-K"], Secret)


def test_what_a_request_to_an_api_carries():
    bearer = ApiSecret("https://x.example", BearerToken("t1"), headers={"X-Tenant": "acme"})
    assert bearer.request_headers() == {"X-Tenant": "acme", "Authorization": "Bearer t1"}
    header_key = ApiSecret("https://x.example", ApiKey("X-Key", "k1"))
    assert (header_key.request_headers(), header_key.request_params()) == ({"X-Key": "k1"}, {})
    query_key = ApiSecret("https://x.example", ApiKey("appid", "k2", "query"))
    assert (query_key.request_headers(), query_key.request_params()) == ({}, {"appid": "k2"})
    assert ApiSecret("https://x.example", BasicAuth("u", "p")).request_headers() == {}
