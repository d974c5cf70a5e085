"""The same dlt pipeline, credentials from four places, side by side in one run.

sql_database (5 rows from an embedded PostgreSQL) into DuckDB, with the credentials in
(a) secrets.toml, (b) dlt's VaultDocProvider pattern over the same OpenBao (the defaults
of dlt's Google/AWS providers; and with every key looked up), (c) this package's provider.
Each run is a fresh process; Vault requests are counted from OpenBao's audit log.

    python benchmarks/bench_dlt.py [--runs 7]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

from dlt_vault_provider import CatalogStore, DatabaseSecret, VaultSession, VaultSettings
from dlt_vault_provider.devservers import EmbeddedPostgres, OpenBaoServer, clean_environ

CHILD = Path(__file__).with_name("dlt_bench_child.py")
VARIANTS = {
    "toml": "(a) secrets.toml",
    "docprovider": "(b) VaultDocProvider pattern (Google/AWS defaults)",
    "docprovider_all": "(b') VaultDocProvider pattern, every key",
    "catalog": "(c) dlt-vault-provider",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with bench_servers() as (work, bao, entry):
        results = run_variants(list(VARIANTS), args.runs, work, bao, entry)
    print(
        f"\nsql_database -> DuckDB, 5 rows, {args.runs} fresh-process runs per variant "
        f"(median wall time of pipeline.run)\n"
    )
    print_table(results, {v: VARIANTS[v] for v in VARIANTS}, base="toml")
    print("\n(c) makes: 1 token lookup, 1 LIST of db/, 1 LIST of dlt/, 1 read of db/sql_database")
    return 0


@contextlib.contextmanager
def bench_servers() -> Iterator[tuple[Path, OpenBaoServer, DatabaseSecret]]:
    """OpenBao with the entry (and the doc-provider fragment), PostgreSQL with 5 rows."""
    work = Path(tempfile.mkdtemp(prefix="bench-dlt-"))
    with OpenBaoServer(work / "bao") as bao, EmbeddedPostgres(work / "pg") as pg:
        with psycopg.connect(pg.url().reveal(), autocommit=True) as conn:
            conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
            conn.execute("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 5) g")
        entry = DatabaseSecret(
            engine="postgresql",
            host=pg.host,
            port=pg.port,
            database="postgres",
            username="postgres",
            password=pg.password,
        )
        settings = VaultSettings(url=bao.address, token=bao.root_token, renew=False)
        with VaultSession(settings) as session:
            session.request("POST", "sys/mounts/catalog", json={"type": "kv", "options": {"version": "2"}})
            CatalogStore(session).put("sql_database", entry, expected_version=0)
            fragment = f'credentials = "{entry.connection_url().reveal()}"\n'
            session.request(
                "POST", "catalog/data/bench/doc/sources-sql_database", json={"data": {"value": fragment}}
            )
        yield work, bao, entry


def run_variants(
    variants: list[str],
    runs: int,
    work: Path,
    bao: OpenBaoServer,
    entry: DatabaseSecret,
    extra_env: dict[str, dict[str, str]] | None = None,
) -> dict[str, list[tuple[float, int]]]:
    """Interleaved runs, so that drift on a shared machine hits every variant alike."""
    results: dict[str, list[tuple[float, int]]] = {}
    for variant in variants * runs:
        env = (extra_env or {}).get(variant, {})
        results.setdefault(variant, []).append(run_once(variant, work, bao, entry, env))
    return results


def print_table(results: dict[str, list[tuple[float, int]]], labels: dict[str, str], base: str) -> None:
    baseline = statistics.median(s for s, _ in results[base])
    header = f"{'credentials from':<56} {'wall ms':>8} {'ratio':>7} {'Vault req/run':>14}"
    print(header)
    print("-" * len(header))
    for variant, label in labels.items():
        median = statistics.median(s for s, _ in results[variant])
        requests = statistics.median(r for _, r in results[variant])
        print(f"{label:<56} {median * 1000:>8.0f} {median / baseline:>6.2f}x {requests:>14.0f}")


def run_once(
    variant: str,
    work: Path,
    bao: OpenBaoServer,
    entry: DatabaseSecret,
    extra_env: dict[str, str] | None = None,
) -> tuple[float, int]:
    run_dir = Path(tempfile.mkdtemp(dir=work, prefix=variant + "-"))
    env = clean_environ(HOME=str(run_dir), **(extra_env or {}))
    variant = variant.split(":")[0]
    if variant == "toml":
        (run_dir / ".dlt").mkdir()
        (run_dir / ".dlt" / "secrets.toml").write_text(
            f'[sources.sql_database]\ncredentials = "{entry.connection_url().reveal()}"\n'
        )
    elif variant.startswith("docprovider"):
        env.update(BENCH_VAULT_ADDR=bao.address, BENCH_VAULT_TOKEN=bao.root_token.reveal())
    else:
        env.update(VAULT_ADDR=bao.address, VAULT_TOKEN=bao.root_token.reveal())
    mark = bao.audit_mark()
    result = subprocess.run(
        [sys.executable, str(CHILD), variant, str(run_dir)],
        cwd=run_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise SystemExit(f"{variant} failed:\n{result.stderr[-3000:]}")
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["rows"] == 5, outcome
    return outcome["seconds"], len(bao.audit_requests(mark))


if __name__ == "__main__":
    raise SystemExit(main())
