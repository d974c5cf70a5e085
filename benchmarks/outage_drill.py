"""A Vault outage seen by every consumer at once: the core resolver, the dlt provider, the
Airflow backend and the form, each behind its own fault proxy to a local OpenBao, each
calling every 20 ms while Vault is down (or hanging), then Vault comes back.

Prints, per consumer: calls made, calls failed, connections that would have reached
Vault (counted by the proxy: a dead Vault has no audit log), the slowest call, and how
long after Vault's return the first call succeeded.

    python benchmarks/outage_drill.py [--seconds 30] [--mode down|stall|reset|http503]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the fault proxy lives in tests/

from dlt_vault_provider import CatalogStore, VaultSession, VaultSettings
from dlt_vault_provider.devservers import OpenBaoServer
from tests.outage_drill import ENTRY, consumers, drill_all, table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the outage")
    parser.add_argument("--mode", default="down", choices=["down", "stall", "reset", "http503", "http429"])
    args = parser.parse_args()
    with OpenBaoServer(Path(tempfile.mkdtemp(prefix="drill-bao-"))) as server:
        settings = VaultSettings(url=server.address, token=server.root_token, renew=False)
        with VaultSession(settings) as admin:
            admin.request("POST", "sys/mounts/catalog", json={"type": "kv", "options": {"version": "2"}})
            CatalogStore(admin, workspace="drill").put("orders", ENTRY, expected_version=0)
        port = int(server.address.rsplit(":", 1)[1])
        with consumers(port, server.root_token, "drill", ("core", "dlt", "airflow", "form")) as made:
            results = drill_all(made, outage=args.seconds, mode=args.mode)
    print(table(results, args.seconds, args.mode))
    return 0 if all(r.recovered_after is not None for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
