"""``dlt-vault``: register, read, list, retire and check catalog entries from a shell.

A thin adapter: it parses arguments, builds one session and one store, calls them, and
prints. Secret fields are masked unless ``--reveal``; secrets are read from stdin or a
prompt rather than from flags, which land in shell history and ``ps``.

Exit codes: 0 done, 1 Vault refused or failed, 2 bad input, 3 check-and-set conflict,
4 doctor found a problem.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from .catalog import EntryKind, masked_document, secret_from_input
from .errors import DltVaultError, EntryNotFound, ValidationFailed, WriteConflict
from .secret import Secret
from .settings import VaultSettings
from .store import CatalogStore, EntryRef
from .vault.auth import auth_from_config
from .vault.session import VaultSession

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

EXIT_VAULT, EXIT_INPUT, EXIT_CONFLICT, EXIT_DOCTOR = 1, 2, 3, 4


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    parser = build_parser(env)
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_INPUT
    try:
        return int(args.run(args, env) or 0)
    except ValidationFailed as exc:
        _error(str(exc))
        return EXIT_INPUT
    except WriteConflict as exc:
        _error(str(exc))
        return EXIT_CONFLICT
    except DltVaultError as exc:
        _error(str(exc))
        return EXIT_VAULT
    except KeyboardInterrupt:
        return 130


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


# --- arguments --------------------------------------------------------------------------


def build_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dlt-vault",
        description="Manage the credentials catalog in Vault / OpenBao.",
    )
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("where (defaults from VAULT_* / DLT_VAULT_* variables)")
    where.add_argument("--addr", help="Vault address (VAULT_ADDR)")
    where.add_argument("--namespace", help="Vault namespace (VAULT_NAMESPACE)")
    where.add_argument(
        "--mount",
        default=env.get("DLT_VAULT_MOUNT", "catalog"),
        help="KV mount of the catalog (default: %(default)s)",
    )
    where.add_argument(
        "--workspace",
        default=env.get("DLT_VAULT_WORKSPACE", "default"),
        help="workspace inside the mount (default: %(default)s)",
    )
    auth = common.add_argument_group("login (defaults: VAULT_TOKEN, ~/.vault-token)")
    auth.add_argument("--auth-method", help="token, approle, userpass, ldap, jwt, kubernetes, cert")
    auth.add_argument("--auth-mount", help="path the auth method is enabled at")
    auth.add_argument("--username", help="for userpass and ldap (password from VAULT_PASSWORD or a prompt)")
    auth.add_argument("--role", help="role for jwt, kubernetes, cert")
    auth.add_argument("--role-id", help="AppRole role id (secret id from VAULT_SECRET_ID)")

    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    put = commands.add_parser(
        "put",
        parents=[common],
        help="register or replace an entry",
        description="Register an entry from flags or from a JSON/TOML file. "
        "Replacing an existing entry needs --cas with the version you read.",
    )
    put.add_argument("kind", nargs="?", choices=["db", "api"], help="entry kind (omit with --file)")
    put.add_argument("name", nargs="?", help="entry name")
    put.add_argument("--file", type=Path, help="JSON or TOML file with name, kind and fields")
    put.add_argument(
        "--cas", type=int, default=0, help="the version this write replaces (0, the default: create only)"
    )
    put.add_argument("--description")
    db = put.add_argument_group("database entries")
    db.add_argument("--engine")
    db.add_argument("--host")
    db.add_argument("--port")
    db.add_argument("--database")
    db.add_argument("--db-user", dest="db_username", metavar="USERNAME", help="database user")
    db.add_argument("--driver", help="SQLAlchemy driver, e.g. psycopg")
    db.add_argument(
        "--credentials",
        choices=["stored", "dynamic", "static"],
        default="stored",
        help="where username and password come from (default: stored)",
    )
    db.add_argument("--db-role", help="dynamic/static: the database secrets engine role")
    db.add_argument(
        "--secrets-mount", default="database", help="dynamic/static: the engine's mount (default: database)"
    )
    db.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="connection option, e.g. sslmode=require (repeatable)",
    )
    api = put.add_argument_group("API entries")
    api.add_argument("--base-url")
    api.add_argument(
        "--auth",
        dest="auth_type",
        default="none",
        help="none, bearer, api_key, basic, oauth2_client_credentials",
    )
    api.add_argument("--key-name", help="api_key: header or query parameter name")
    api.add_argument("--key-location", default="header", help="api_key: header or query")
    api.add_argument("--api-user", help="basic: user name")
    api.add_argument("--token-url", help="oauth2: token endpoint")
    api.add_argument("--client-id", help="oauth2: client id")
    api.add_argument("--scope", action="append", default=[], help="oauth2: scope (repeatable)")
    secret = put.add_argument_group("the secret (password, token, key or client secret)")
    source = secret.add_mutually_exclusive_group()
    source.add_argument("--secret-stdin", action="store_true", help="read it from stdin")
    source.add_argument("--secret-prompt", action="store_true", help="prompt for it")
    source.add_argument("--secret-env", metavar="VAR", help="read it from this variable")
    put.set_defaults(run=cmd_put)

    get = commands.add_parser("get", parents=[common], help="show an entry (secrets masked)")
    get.add_argument("name")
    get.add_argument("--kind", choices=["db", "api"])
    get.add_argument("--version", type=int)
    get.add_argument("--reveal", action="store_true", help="print secret values too")
    get.add_argument("--json", action="store_true")
    get.set_defaults(run=cmd_get)

    ls = commands.add_parser("ls", parents=[common], help="list entries (metadata only)")
    ls.add_argument("--kind", choices=["db", "api"])
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(run=cmd_ls)

    rm = commands.add_parser("rm", parents=[common], help="delete an entry (soft by default)")
    rm.add_argument("name")
    rm.add_argument("--kind", choices=["db", "api"])
    rm.add_argument("--versions", help="comma-separated versions (default: the latest)")
    mode = rm.add_mutually_exclusive_group()
    mode.add_argument("--destroy", action="store_true", help="destroy --versions for good")
    mode.add_argument("--purge", action="store_true", help="remove every version and metadata")
    rm.set_defaults(run=cmd_rm)

    undelete = commands.add_parser("undelete", parents=[common], help="undo a soft delete")
    undelete.add_argument("name")
    undelete.add_argument("--kind", choices=["db", "api"])
    undelete.add_argument("--versions", help="comma-separated versions (default: the latest)")
    undelete.set_defaults(run=cmd_undelete)

    versions = commands.add_parser("versions", parents=[common], help="an entry's history")
    versions.add_argument("name")
    versions.add_argument("--kind", choices=["db", "api"])
    versions.add_argument("--json", action="store_true")
    versions.set_defaults(run=cmd_versions)

    doctor = commands.add_parser(
        "doctor", parents=[common], help="check address, seal, identity, token TTL and policy"
    )
    doctor.set_defaults(run=cmd_doctor)

    grant = commands.add_parser(
        "grant",
        parents=[common],
        help="mint a token that reads only these entries",
        description="Writes a read-only policy for exactly these entries (and the database "
        "roles they lease) and prints a token bound to it. Needs a token allowed to write "
        "policies and create tokens (sudo on auth/token/create).",
    )
    grant.add_argument("entries", nargs="+", metavar="ENTRY", help="db/<name> or api/<name>")
    grant.add_argument("--ttl", default="15m")
    grant.add_argument("--uses", type=int, help="the token works this many requests")
    grant.add_argument("--wrap", metavar="TTL", help="print a single-use wrapping token")
    grant.set_defaults(run=cmd_grant)

    revoke = commands.add_parser("revoke", parents=[common], help="end a grant")
    revoke.add_argument("accessor")
    revoke.add_argument("--policy", help="also delete the grant's policy")
    revoke.set_defaults(run=cmd_revoke)

    form = commands.add_parser(
        "form",
        help="serve the registration form (HTML)",
        description="People sign in with their own Vault identity.",
    )
    form.add_argument("--host", default="127.0.0.1")
    form.add_argument("--port", type=int, default=8080)
    form.add_argument("--addr", help="Vault address (VAULT_ADDR)")
    form.add_argument("--mount", default=env.get("DLT_VAULT_MOUNT", "catalog"))
    form.add_argument("--workspace", default=env.get("DLT_VAULT_WORKSPACE", "default"))
    form.add_argument(
        "--secure-cookies", action="store_true", help="mark cookies Secure (behind an HTTPS proxy)"
    )
    form.set_defaults(run=cmd_form)

    demo = commands.add_parser(
        "demo",
        help="the main job: start a dev OpenBao and PostgreSQL, "
        "register an entry, use it from a pipeline identity",
    )
    demo.add_argument(
        "--keep-running", action="store_true", help="leave the servers running and print how to reach them"
    )
    demo.set_defaults(run=cmd_demo)
    return parser


# --- session and store ----------------------------------------------------------------


def open_store(args: argparse.Namespace, env: Mapping[str, str]) -> CatalogStore:
    settings = VaultSettings.from_env(env, url=args.addr, namespace=args.namespace)
    if not settings.is_configured:
        raise ValidationFailed.one("addr", "is not set: pass --addr or set VAULT_ADDR", "Vault settings")
    config: dict[str, Any] = {
        "auth_method": args.auth_method,
        "auth_mount": args.auth_mount,
        "username": args.username,
        "role": args.role,
        "role_id": args.role_id,
        "token": settings.token,
        "token_file": settings.token_file,
    }
    method = (args.auth_method or env.get("VAULT_AUTH_METHOD") or "").lower()
    if method in ("userpass", "ldap") and not (env.get("VAULT_PASSWORD") or env.get("VAULT_PASSWORD_FILE")):
        config["password"] = Secret(getpass.getpass(f"Vault password for {args.username}: "))
    auth = auth_from_config({k: v for k, v in config.items() if v is not None}, env)
    session = VaultSession(settings, auth)
    return CatalogStore(session, mount=args.mount, workspace=args.workspace)


def _ref(store: CatalogStore, name: str, kind: str | None) -> EntryRef:
    if kind:
        return EntryRef(EntryKind.parse(kind), name)
    for candidate in EntryKind:
        ref = EntryRef(candidate, name)
        if store.current_version(ref):
            return ref
    raise EntryNotFound(
        f"no entry named {name!r} in {store.mount}/{store.workspace} on {store.session.address}",
        address=store.session.address,
        path=f"{store.mount}/{store.workspace}",
    )


def _versions(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValidationFailed.one("versions", "must be numbers separated by commas") from None


# --- commands -----------------------------------------------------------------------------


def cmd_put(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    if args.file:
        kind, name, fields = _fields_from_file(args.file)
        kind = args.kind or kind
        name = args.name or name
    else:
        if not args.kind or not args.name:
            raise ValidationFailed.one("kind", "give 'db NAME' or 'api NAME', or --file")
        kind, name = args.kind, args.name
        fields = _fields_from_flags(args, env)
    secret = secret_from_input(kind, fields)  # validated before any Vault call
    store = open_store(args, env)
    with store.session:
        version = store.put(name, secret, expected_version=args.cas)
    print(f"wrote {store.where(EntryRef(secret.kind, name))} version {version}")
    return 0


def _fields_from_file(path: Path) -> tuple[str | None, str | None, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationFailed.one("file", f"cannot be read: {exc.strerror}") from None
    try:
        document = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        where = f" (line {exc.lineno})" if hasattr(exc, "lineno") else ""
        raise ValidationFailed.one("file", f"is not valid {path.suffix[1:].upper()}{where}") from None
    if not isinstance(document, dict):
        raise ValidationFailed.one("file", "must hold one object with name, kind and fields")
    name = document.pop("name", None)
    kind = document.get("kind")
    return kind, name, document


def _fields_from_flags(args: argparse.Namespace, env: Mapping[str, str]) -> dict[str, Any]:
    secret = _read_secret(args, env)
    if args.kind == "db":
        fields: dict[str, Any] = {
            "engine": args.engine,
            "host": args.host,
            "port": args.port,
            "database": args.database or "",
            "username": args.db_username,
            "password": secret,
            "driver": args.driver or "",
            "credentials": args.credentials,
            "role": args.db_role or "",
            "secrets_mount": args.secrets_mount,
            "options": _options(args.option),
        }
    else:
        auth: dict[str, Any] = {"type": args.auth_type}
        secret_field = {
            "bearer": "token",
            "api_key": "key",
            "basic": "password",
            "oauth2_client_credentials": "client_secret",
        }.get(args.auth_type)
        if secret_field:
            auth[secret_field] = secret
        if args.auth_type == "api_key":
            auth.update(name=args.key_name, location=args.key_location)
        elif args.auth_type == "basic":
            auth["username"] = args.api_user
        elif args.auth_type == "oauth2_client_credentials":
            auth.update(token_url=args.token_url, client_id=args.client_id, scopes=args.scope)
        fields = {"base_url": args.base_url, "auth": {k: v for k, v in auth.items() if v is not None}}
    if args.description:
        fields["description"] = args.description
    return {k: v for k, v in fields.items() if v is not None}


def _options(pairs: list[str]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValidationFailed.one("option", f"{key!r} must look like KEY=VALUE")
        options[key.strip()] = value
    return options


def _read_secret(args: argparse.Namespace, env: Mapping[str, str]) -> Secret | None:
    if args.secret_stdin:
        return Secret(sys.stdin.readline().rstrip("\r\n"))
    if args.secret_prompt:
        return Secret(getpass.getpass("secret: "))
    if args.secret_env:
        if args.secret_env not in env:
            raise ValidationFailed.one("secret-env", f"variable {args.secret_env} is not set")
        return Secret(env[args.secret_env])
    return None


def cmd_get(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    store = open_store(args, env)
    with store.session:
        ref = _ref(store, args.name, args.kind)
        entry = store.get(ref, args.version)
    document = entry.secret.to_vault() if args.reveal else masked_document(entry.secret)
    header = {
        "entry": str(entry.ref),
        "path": entry.path,
        "version": entry.version,
        "changed_by": entry.changed_by,
        "created": entry.created_time,
    }
    if args.json:
        _print_json({**header, "fields": document})
        return 0
    for key, value in header.items():
        print(f"{key:<12} {value}")
    _print_fields(document)
    if ref.kind is EntryKind.DATABASE:
        url = entry.secret.connection_url().reveal() if args.reveal else entry.secret.masked_url()
        print(f"{'url':<12} {url}")
    return 0


def _print_fields(document: Mapping[str, Any], prefix: str = "", out: TextIO | None = None) -> None:
    for key, value in document.items():
        if isinstance(value, Mapping) and value:
            _print_fields(value, f"{prefix}{key}.", out)
        else:
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            print(f"{prefix + key:<12} {shown if shown not in (None, {}) else ''}", file=out)


def cmd_ls(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    store = open_store(args, env)
    with store.session:
        summaries = store.list(EntryKind.parse(args.kind) if args.kind else None)
    rows = [
        {
            "entry": str(s.ref),
            "version": s.version,
            "state": "deleted" if s.deleted else "active",
            "engine/url": s.descriptors.get("engine") or s.descriptors.get("base_url", ""),
            "host": s.descriptors.get("host", ""),
            "database": s.descriptors.get("database", ""),
            "changed_by": s.changed_by,
            "changed_at": s.changed_at,
            "description": s.descriptors.get("description", ""),
        }
        for s in summaries
    ]
    if args.json:
        _print_json(rows)
    elif not rows:
        print(f"no entries in {store.mount}/{store.workspace}")
    else:
        _print_table(rows)
    return 0


def cmd_rm(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    store = open_store(args, env)
    versions = _versions(args.versions)
    with store.session:
        ref = _ref(store, args.name, args.kind)
        if args.purge:
            store.purge(ref)
            print(f"purged {store.where(ref)}: every version and its metadata are gone")
        elif args.destroy:
            store.destroy(ref, versions or [])
            print(f"destroyed {store.where(ref)} versions {versions}")
        else:
            store.delete(ref, versions)
            print(
                f"deleted {store.where(ref)} {versions or 'latest version'} "
                f"(dlt-vault undelete {ref.name} brings it back)"
            )
    return 0


def cmd_undelete(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    store = open_store(args, env)
    with store.session:
        ref = _ref(store, args.name, args.kind)
        store.undelete(ref, _versions(args.versions))
    print(f"undeleted {store.where(ref)}")
    return 0


def cmd_versions(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    store = open_store(args, env)
    with store.session:
        ref = _ref(store, args.name, args.kind)
        history = store.versions(ref)
    rows = [
        {"version": v.version, "state": v.state, "created": v.created_time, "changed_by": v.changed_by}
        for v in history
    ]
    _print_json(rows) if args.json else _print_table(rows)
    return 0


def cmd_doctor(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from .doctor import run_checks

    store = open_store(args, env)
    with store.session:
        checks = run_checks(store)
    width = max(len(c.name) for c in checks)
    for check in checks:
        mark = "ok " if check.ok else "FAIL"
        print(f"[{mark}] {check.name:<{width}}  {check.detail}")
    return 0 if all(c.ok for c in checks) else EXIT_DOCTOR


def cmd_grant(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from .grants import issue_grant

    refs = [EntryRef.parse(text) for text in args.entries]  # refused before any Vault call
    store = open_store(args, env)
    with store.session:
        grant = issue_grant(store, refs, ttl=args.ttl, uses=args.uses, wrap=args.wrap)
    # the token is this command's output, as with `vault token create`
    _print_json(
        {
            "token": grant.token.reveal(),
            "wrapped": grant.wrapped,
            "accessor": grant.accessor,
            "policy": grant.policy,
            "ttl": grant.ttl,
            "entries": list(grant.entries),
        }
    )
    return 0


def cmd_revoke(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from .grants import revoke_grant

    store = open_store(args, env)
    with store.session:
        revoke_grant(store.session, args.accessor, args.policy)
    print(f"revoked the grant {args.accessor}" + (f" and its policy {args.policy}" if args.policy else ""))
    return 0


def cmd_form(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    try:
        import uvicorn

        from .form import create_app
    except ImportError:
        raise ValidationFailed.one(
            "form", "needs its extra: pip install 'dlt-vault-provider[form]'"
        ) from None
    settings = VaultSettings.from_env(env, url=args.addr)
    app = create_app(settings, mount=args.mount, workspace=args.workspace, secure_cookies=args.secure_cookies)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def cmd_demo(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from .demo import run_demo

    return run_demo(keep_running=args.keep_running)


# --- output -----------------------------------------------------------------------------


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _print_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns).rstrip())


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
