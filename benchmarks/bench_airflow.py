"""Airflow connection lookups: the hashicorp provider's VaultBackend against
VaultCatalogBackend, side by side on the same OpenBao, requests from the audit log.

1,000 ``get_connection`` calls over 10 conn_ids, as a long task or a busy DAG processor
makes them. Needs Airflow and the hashicorp provider:

    pip install apache-airflow-providers-hashicorp
    python benchmarks/bench_airflow.py [--lookups 1000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from dlt_vault_provider import CatalogStore, DatabaseSecret, VaultSession, VaultSettings
from dlt_vault_provider.devservers import OpenBaoServer

CONN_IDS = [f"conn_{i}" for i in range(10)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lookups", type=int, default=1000)
    args = parser.parse_args()
    try:
        from airflow.providers.hashicorp.secrets.vault import VaultBackend
        from airflow.sdk.definitions.connection import Connection

        from airflow_backend import VaultCatalogBackend
    except ImportError as exc:
        print(f"needs apache-airflow and apache-airflow-providers-hashicorp ({exc})")
        return 2
    with OpenBaoServer(Path(tempfile.mkdtemp(prefix="bench-af-"))) as bao:
        token = bao.root_token.reveal()
        with VaultSession(VaultSettings(url=bao.address, token=bao.root_token)) as session:
            session.request("POST", "sys/mounts/catalog", json={"type": "kv", "options": {"version": "2"}})
            store = CatalogStore(session)
            for conn_id in CONN_IDS:
                entry = DatabaseSecret(
                    engine="postgresql",
                    host=f"{conn_id}.internal",
                    database="db",
                    username="u",
                    password="pw-" + conn_id,
                )
                store.put(conn_id, entry, expected_version=0)
                # the same connection in the hashicorp provider's own layout
                session.request(
                    "POST",
                    f"catalog/data/airflow/connections/{conn_id}",
                    json={
                        "data": {
                            "conn_type": "postgres",
                            "host": entry.host,
                            "port": 5432,
                            "schema": "db",
                            "login": "u",
                            "password": "pw-" + conn_id,
                        }
                    },
                )
        anchor = VaultBackend(
            url=bao.address,
            token=token,
            mount_point="catalog",
            connections_path="airflow/connections",
            kv_engine_version=2,
        )
        anchor._set_connection_class(Connection)
        ours = VaultCatalogBackend(url=bao.address, token=token)
        ours._set_connection_class(Connection)
        rows = [
            ("hashicorp VaultBackend 4.x (anchor)", *measure(bao, anchor, args.lookups)),
            ("VaultCatalogBackend", *measure(bao, ours, args.lookups)),
        ]
    print(f"\n{args.lookups} get_connection calls over {len(CONN_IDS)} conn_ids, OpenBao on loopback\n")
    header = f"{'backend':<38} {'total ms':>9} {'median us':>10} {'p99 us':>9} {'Vault requests':>15}"
    print(header)
    print("-" * len(header))
    for name, total, median, p99, requests in rows:
        print(f"{name:<38} {total:>9.0f} {median:>10.1f} {p99:>9.1f} {requests:>15}")
    return 0


def measure(bao: OpenBaoServer, backend: object, lookups: int) -> tuple[float, float, float, int]:
    get: Callable[[str], object] = backend.get_connection  # type: ignore[attr-defined]
    mark = bao.audit_mark()
    times = []
    started = time.perf_counter()
    for i in range(lookups):
        t = time.perf_counter()
        connection = get(CONN_IDS[i % len(CONN_IDS)])
        times.append((time.perf_counter() - t) * 1e6)
        assert connection is not None
    total = (time.perf_counter() - started) * 1000
    times.sort()
    return total, statistics.median(times), times[int(len(times) * 0.99)], len(bao.audit_requests(mark))


if __name__ == "__main__":
    raise SystemExit(main())
