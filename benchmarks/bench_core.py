"""Core latency and Vault requests per operation, against a local OpenBao, side by side
with a plain hvac KV v2 read (what a naive client, and the hashicorp provider's
VaultBackend, do for every lookup).

Requests are counted from OpenBao's audit log, not from our own counters.

    python benchmarks/bench_core.py [--cold 300] [--cached 20000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import hvac

from dlt_vault_provider import (
    CatalogResolver,
    CatalogStore,
    DatabaseSecret,
    EntryRef,
    VaultSession,
    VaultSettings,
)
from dlt_vault_provider.devservers import OpenBaoServer

ENTRY = DatabaseSecret(
    engine="postgresql", host="db.internal", database="orders", username="loader", password="bench-password-1"
)


def measure(server: OpenBaoServer, n: int, op: Callable[[], object]) -> tuple[float, float, float]:
    """Median and p99 in microseconds, and audit-log requests per operation."""
    op()  # warm: connection pool, login, mount version
    mark = server.audit_mark()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        op()
        times.append((time.perf_counter() - start) * 1e6)
    requests = len(server.audit_requests(mark))
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return statistics.median(times), p99, requests / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold", type=int, default=300, help="cold gets to time")
    parser.add_argument("--cached", type=int, default=20000, help="cached gets to time")
    args = parser.parse_args()

    with OpenBaoServer(Path(tempfile.mkdtemp(prefix="bench-bao-"))) as server:
        root = server.root_token
        settings = VaultSettings(url=server.address, token=root, renew=False)
        with VaultSession(settings) as session:
            session.request("POST", "sys/mounts/catalog", json={"type": "kv", "options": {"version": "2"}})
            store = CatalogStore(session)
            store.put("orders", ENTRY, expected_version=0)
            ref = EntryRef("db", "orders")
            resolver = CatalogResolver(store, ttl=300)
            rows = []

            client = hvac.Client(url=server.address, token=root.reveal())
            rows.append(
                (
                    "anchor: hvac kv v2 read (naive client)",
                    args.cold,
                    *measure(
                        server,
                        args.cold,
                        lambda: client.secrets.kv.v2.read_secret_version(
                            path="default/db/orders", mount_point="catalog", raise_on_deleted_version=True
                        ),
                    ),
                )
            )
            backend = _hashicorp_backend(server)
            if backend is not None:
                rows.append(
                    (
                        "anchor: hashicorp VaultBackend.get_connection",
                        args.cold,
                        *measure(server, args.cold, lambda: backend.get_connection("x")),
                    )
                )

            rows.append(
                ("store.get (cold, no cache)", args.cold, *measure(server, args.cold, lambda: store.get(ref)))
            )

            def cold_resolve() -> None:
                resolver.invalidate(ref)
                resolver.get(ref)

            rows.append(("resolver.get, cache miss", args.cold, *measure(server, args.cold, cold_resolve)))
            rows.append(
                (
                    "resolver.get, cached",
                    args.cached,
                    *measure(server, args.cached, lambda: resolver.get(ref)),
                )
            )
            version = [1]

            def put() -> None:
                version[0] = store.put("orders", ENTRY, expected_version=version[0])

            rows.append(("store.put (check-and-set)", 100, *measure(server, 100, put)))
            rows.append(("store.list (metadata only, 1 entry)", 100, *measure(server, 100, store.list)))
            flight = _fifty_threads(server, store, ref)

    print(f"\nOpenBao {server.address} (loopback), Python {sys.version.split()[0]}\n")
    header = f"{'operation':<48} {'n':>6} {'median us':>10} {'p99 us':>9} {'Vault req/op':>13}"
    print(header)
    print("-" * len(header))
    for name, n, median, p99, per_op in rows:
        print(f"{name:<48} {n:>6} {median:>10.1f} {p99:>9.1f} {per_op:>13.3f}")
    print(f"\n50 threads missing the same entry at once: {flight} Vault read(s) in the audit log")
    return 0


def _fifty_threads(server: OpenBaoServer, store: CatalogStore, ref: EntryRef) -> int:
    resolver = CatalogResolver(store, ttl=300)
    barrier = threading.Barrier(50)
    mark = server.audit_mark()

    def worker() -> None:
        barrier.wait()
        resolver.get(ref)

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(server.audit_requests(mark, "catalog/data/"))


def _hashicorp_backend(server: OpenBaoServer) -> object | None:
    """The hashicorp provider's VaultBackend, when Airflow and the provider are installed."""
    try:
        from airflow.providers.hashicorp.secrets.vault import VaultBackend
    except ImportError:
        print("(apache-airflow-providers-hashicorp not installed: VaultBackend row skipped)")
        return None
    return VaultBackend(
        url=server.address,
        token=server.root_token.reveal(),
        mount_point="catalog",
        connections_path="default/db",
        kv_engine_version=2,
    )


if __name__ == "__main__":
    raise SystemExit(main())
