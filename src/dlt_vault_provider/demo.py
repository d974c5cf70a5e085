"""The main job on embedded defaults: what a new user sees first.

It starts a dev OpenBao and an embedded PostgreSQL on loopback, sets up the catalog the
way a platform team would (a KV mount, an editor policy for people, a read-only AppRole
for pipelines), registers the database as a catalog entry in a person's name, then, as
the pipeline, resolves that entry and queries the database with it. Every secret is
generated here and none is printed; the audit log tells how many requests reached Vault.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .catalog import ApiSecret, BearerToken, DatabaseSecret, masked_document
from .devservers import EmbeddedPostgres, OpenBaoServer, clean_environ, free_port
from .resolver import CatalogResolver
from .secret import Secret
from .settings import VaultSettings
from .store import CatalogStore, EntryRef
from .vault.auth import AppRoleAuth, UserpassAuth
from .vault.session import VaultSession

EDITOR_POLICY = """
path "catalog/data/default/*"              { capabilities = ["create", "read", "update", "delete"] }
path "catalog/metadata/default/*"          { capabilities = ["read", "list", "update", "delete"] }
path "catalog/detailed-metadata/default/*" { capabilities = ["list"] }
path "catalog/delete/default/*"            { capabilities = ["update"] }
path "catalog/undelete/default/*"          { capabilities = ["update"] }
"""
PIPELINE_POLICY = """
path "catalog/data/default/*"     { capabilities = ["read"] }
path "catalog/metadata/default/*" { capabilities = ["list"] }
path "database/creds/orders_reader" { capabilities = ["read"] }
path "sys/leases/renew"           { capabilities = ["update"] }
path "sys/leases/revoke"          { capabilities = ["update"] }
"""


def say(step: str, detail: str = "") -> None:
    print(f"  {step:<34} {detail}".rstrip(), flush=True)


def run_demo(keep_running: bool = False) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="dlt-vault-demo-"))
    print(f"dlt-vault demo (work folder {workdir})")
    started = time.monotonic()
    bao = OpenBaoServer(workdir / "openbao")
    pg = EmbeddedPostgres(workdir / "postgres")
    bao.start()
    say("started OpenBao (dev mode)", bao.address)
    try:
        pg.start()
        say("started PostgreSQL", f"127.0.0.1:{pg.port}")
        loader_password = Secret(os.urandom(16).hex() + "@:/?#%+ é")
        _prepare_database(pg, loader_password)
        say("created database 'orders'", "role 'loader' with a generated password")

        role_id, secret_id, editor_password = _configure_vault(bao)
        say("configured Vault", "KV v2 mount 'catalog', userpass 'alice', AppRole 'pipeline'")

        settings = VaultSettings(url=bao.address, revoke_on_close=True)
        with VaultSession(settings, UserpassAuth("alice", editor_password)) as alice:
            store = CatalogStore(alice)
            entry = DatabaseSecret(
                engine="postgresql",
                host=pg.host,
                port=pg.port,
                database="orders",
                username="loader",
                password=loader_password,
                options={"sslmode": "disable"},
                description="Orders database (demo)",
            )
            version = store.put("orders_pg", entry, expected_version=0)
            say("alice registered db/orders_pg", f"version {version}")
            store.put(
                "github",
                ApiSecret(
                    "https://api.github.com",
                    BearerToken(Secret(os.urandom(20).hex())),
                    description="GitHub API (demo)",
                ),
                expected_version=0,
            )
            say("alice registered api/github", "version 1")
            for summary in store.list():
                d = summary.descriptors
                say(
                    f"  catalog: {summary.ref}",
                    f"{d.get('engine') or d.get('base_url')} {d.get('host', '')} "
                    f"by {summary.changed_by}".rstrip(),
                )

        mark = bao.audit_mark()
        with VaultSession(settings, AppRoleAuth(role_id, secret_id)) as pipeline:
            resolver = CatalogResolver(CatalogStore(pipeline, kv_version=2), ttl=300)
            ref = EntryRef("db", "orders_pg")
            for _ in range(100):  # a pipeline asks many times; Vault is asked once
                resolved = resolver.get(ref)
            shown = masked_document(resolved.secret)
            say("pipeline resolved db/orders_pg", f"password {shown['password']}")
            say("  connection url", resolved.secret.masked_url())
            rows = _query(resolved.secret)
            say("pipeline queried PostgreSQL", f"{rows} rows in orders.public.orders")
        requests_seen = [r.path for r in bao.audit_requests(mark)]
        reads = [p for p in requests_seen if p.startswith("catalog/data/")]
        say(
            "Vault requests for 100 lookups",
            f"{len(requests_seen)} in all ({len(reads)} read of the entry, the rest login and logout)",
        )
        _run_dlt_pipeline(bao, workdir, role_id, secret_id)
        _dynamic_user(bao, pg, settings, editor_password, role_id, secret_id)
        form_url, stop_form = _serve_form(bao, editor_password)
        say("done", f"in {time.monotonic() - started:.1f}s; no secret was printed")
        try:
            if keep_running:
                _wait_for_interrupt(bao, form_url)
        finally:
            stop_form()
        return 0
    finally:
        pg.stop()
        bao.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _run_dlt_pipeline(bao: OpenBaoServer, workdir: Path, role_id: str, secret_id: Secret) -> None:
    """examples/sql_to_duckdb.py, a plain dlt pipeline, run as the pipeline's AppRole with
    nothing but the Vault address and login in its environment."""
    example = Path(__file__).resolve().parents[2] / "examples" / "sql_to_duckdb.py"
    if not example.is_file():
        say("dlt pipeline skipped", "examples/ is in the source checkout, not the wheel")
        return
    try:
        import dlt  # noqa: F401
    except ImportError:
        say("dlt pipeline skipped", "pip install 'dlt-vault-provider[demo]' to run it")
        return
    project = workdir / "pipeline"
    (project / ".dlt").mkdir(parents=True)
    (project / ".dlt" / "config.toml").write_text(
        '[vault.bindings]\n"sources.sql_database" = "db/orders_pg"\n', encoding="utf-8"
    )
    env = clean_environ(
        VAULT_ADDR=bao.address,
        VAULT_AUTH_METHOD="approle",
        VAULT_ROLE_ID=role_id,
        VAULT_SECRET_ID=secret_id.reveal(),
        DLT_DATA_DIR=str(project / "data"),
        HOME=str(project),
    )
    mark = bao.audit_mark()
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(example), "orders"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        say("dlt pipeline FAILED", f"exit {result.returncode}; its error follows")
        print(result.stderr[-4000:], file=sys.stderr)
        raise SystemExit(1)
    say(
        "dlt pipeline sql_database->duckdb",
        f"ran in {time.monotonic() - started:.1f}s, no credential in code or files",
    )
    for line in result.stdout.splitlines():
        if line.startswith("loaded "):
            say("  " + line)
        elif " from " in line and line.startswith(("sources.", "destination.")):
            key, where = line.split(" from ", 1)
            say("  " + key, "from " + where)
    traffic = [r.path for r in bao.audit_requests(mark)]
    reads = sorted(p.split("/", 3)[-1] for p in traffic if p.startswith("catalog/data/"))
    lists = [p for p in traffic if p.startswith("catalog/metadata/")]
    say(
        "Vault requests for the dlt run",
        f"{len(traffic)} in all: 1 login, {len(lists)} list(s), read {', '.join(reads)}",
    )


def _dynamic_user(
    bao: OpenBaoServer,
    pg: EmbeddedPostgres,
    settings: VaultSettings,
    editor_password: Secret,
    role_id: str,
    secret_id: Secret,
) -> None:
    """A database user that exists only while the pipeline runs."""
    from .vault.database_engine import configure_postgres, create_dynamic_role

    root = VaultSettings(url=bao.address, token=bao.root_token, renew=False)
    with VaultSession(root) as admin:
        configure_postgres(
            admin,
            connection="orders",
            host=pg.host,
            port=pg.port,
            database="orders",
            username="postgres",
            password=pg.password,
        )
        create_dynamic_role(admin, role="orders_reader", connection="orders", default_ttl="5m", max_ttl="1h")
    say("configured the database engine", "role orders_reader: a new PostgreSQL user per lease")
    with VaultSession(settings, UserpassAuth("alice", editor_password)) as alice:
        CatalogStore(alice).put(
            "orders_dynamic",
            DatabaseSecret(
                engine="postgresql",
                host=pg.host,
                port=pg.port,
                database="orders",
                credentials="dynamic",
                role="orders_reader",
                description="Orders, leased users",
            ),
            expected_version=0,
        )
    say("alice registered db/orders_dynamic", "credentials: dynamic role orders_reader")
    with VaultSession(settings, AppRoleAuth(role_id, secret_id)) as pipeline:
        resolver = CatalogResolver(CatalogStore(pipeline, kv_version=2))
        entry = resolver.get(EntryRef("db", "orders_dynamic")).secret
        say("pipeline leased a database user", f"{entry.username} (password ********)")
        say(
            "  it queried PostgreSQL",
            f"{_query(entry)} rows; user exists: {_role_exists(pg, entry.username)}",
        )
        resolver.close()
        say("run ended: lease revoked", f"user exists: {_role_exists(pg, entry.username)}")


def _role_exists(pg: EmbeddedPostgres, name: str) -> bool:
    import psycopg

    with psycopg.connect(pg.url().reveal()) as conn:
        return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is not None


def _prepare_database(pg: EmbeddedPostgres, loader_password: Secret) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(pg.url().reveal(), autocommit=True) as admin:
        admin.execute("CREATE DATABASE orders")
        admin.execute(
            sql.SQL("CREATE ROLE loader LOGIN PASSWORD {}").format(sql.Literal(loader_password.reveal()))
        )
    with psycopg.connect(pg.url("orders").reveal(), autocommit=True) as orders:
        orders.execute("CREATE TABLE orders (id int PRIMARY KEY, amount numeric)")
        orders.execute("INSERT INTO orders SELECT g, g * 10 FROM generate_series(1, 5) g")
        orders.execute("GRANT SELECT ON orders TO loader")
        orders.execute("GRANT SELECT ON orders TO PUBLIC")  # leased users read it too


def _configure_vault(bao: OpenBaoServer) -> tuple[str, Secret, Secret]:
    root = VaultSettings(url=bao.address, token=bao.root_token, renew=False)
    editor_password = Secret(os.urandom(16).hex())
    with VaultSession(root) as admin:
        admin.request("POST", "sys/mounts/catalog", json={"type": "kv", "options": {"version": "2"}})
        admin.request("PUT", "sys/policies/acl/catalog-editor", json={"policy": EDITOR_POLICY})
        admin.request("PUT", "sys/policies/acl/pipeline-reader", json={"policy": PIPELINE_POLICY})
        admin.request("POST", "sys/auth/userpass", json={"type": "userpass"})
        admin.request(
            "POST",
            "auth/userpass/users/alice",
            json={
                "password": editor_password.reveal(),
                "token_policies": ["catalog-editor"],
                "token_ttl": "1h",
            },
        )
        admin.request("POST", "sys/auth/approle", json={"type": "approle"})
        admin.request(
            "POST",
            "auth/approle/role/pipeline",
            json={"token_policies": ["pipeline-reader"], "token_ttl": "15m", "token_max_ttl": "1h"},
        )
        role_id = admin.request("GET", "auth/approle/role/pipeline/role-id")["data"]["role_id"]
        secret_id = admin.request("POST", "auth/approle/role/pipeline/secret-id")["data"]["secret_id"]
    return role_id, Secret(secret_id), editor_password


def _query(entry: DatabaseSecret) -> int:
    import psycopg

    with psycopg.connect(entry.connection_url().reveal()) as connection:
        return int(connection.execute("SELECT count(*) FROM orders").fetchone()[0])


def _serve_form(bao: OpenBaoServer, editor_password: Secret) -> tuple[str, Callable[[], None]]:
    """Serve the registration form on loopback and sign in to it as alice, over HTTP."""
    try:
        import httpx
        import uvicorn

        from .form import create_app
    except ImportError:
        say("form skipped", "pip install 'dlt-vault-provider[demo]' to serve it")
        return "", lambda: None
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(VaultSettings(url=bao.address)), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    while not server.started and thread.is_alive():
        time.sleep(0.05)
    with httpx.Client(base_url=url, follow_redirects=True, timeout=10) as client:
        page = client.get("/login")
        nonce = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        catalog = client.post(
            "/login",
            data={
                "csrf_token": nonce,
                "method": "userpass",
                "username": "alice",
                "password": editor_password.reveal(),
            },
        )
        rows = catalog.text.count('<tr class="')
    say("registration form served", f"{url} (alice signed in, sees {rows} entries)")

    def stop() -> None:
        server.should_exit = True
        thread.join(10)

    return url, stop


def _wait_for_interrupt(bao: OpenBaoServer, form_url: str) -> None:
    token_file = bao.workdir / "root-token"
    token_file.touch(mode=0o600)
    token_file.write_text(bao.root_token.reveal(), encoding="utf-8")
    print("\nThe servers keep running until Ctrl-C. In another shell, try:")
    print(f"  export VAULT_ADDR={bao.address} VAULT_TOKEN_FILE={token_file}")
    print("  dlt-vault ls && dlt-vault get orders_pg && dlt-vault doctor")
    if form_url:
        print(f"  open {form_url} and sign in with a Vault token (the root token is in {token_file})")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
