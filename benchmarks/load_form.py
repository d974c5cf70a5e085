"""Load on the registration form: N signed-in people creating and updating entries.

Starts a dev OpenBao and the form (``dlt-vault form``, its own process) on loopback, signs
in N userpass users, and for ``--seconds`` each user creates entries and updates them with
check-and-set (each edit page gives the version it is based on). Then every write the app
acknowledged (a redirect saying "Saved version N") is looked up in Vault: it must be there,
at that version, with the values sent. Bounded in users, time and requests; loopback only.

    python benchmarks/load_form.py [--users 50] [--seconds 60]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the form client lives in tests/

from dlt_vault_provider import CatalogStore, EntryRef, VaultSession, VaultSettings
from dlt_vault_provider.devservers import OpenBaoServer, clean_environ, free_port
from tests.form_client import csrf_token, sign_in

VERSION = re.compile(r'name="version" value="(\d+)"')
SAVED = re.compile(r"Saved%20version%20(\d+)")


@dataclass
class Worker:
    index: int
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    acknowledged: list[tuple[str, int, str]] = field(default_factory=list)  # name, version, host


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-requests", type=int, default=200_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="load-form-"))
    with OpenBaoServer(work / "bao") as bao:
        root = VaultSettings(url=bao.address, token=bao.root_token, renew=False)
        with VaultSession(root) as admin:
            admin.request("POST", "sys/mounts/catalog", json={"type": "kv", "options": {"version": "2"}})
            admin.request("POST", "sys/auth/userpass", json={"type": "userpass"})
            admin.request(
                "PUT",
                "sys/policies/acl/editor",
                json={"policy": ('path "catalog/*" { capabilities = ["create", "read", "update", "list"] }')},
            )
            for i in range(args.users):
                admin.request(
                    "POST",
                    f"auth/userpass/users/user{i}",
                    json={"password": f"load-pw-{i}", "token_policies": ["editor"]},
                )
        port = free_port()
        form = subprocess.Popen(
            [str(Path(sys.executable).with_name("dlt-vault")), "form", "--port", str(port)],
            env=clean_environ(VAULT_ADDR=bao.address),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(base)
            workers = [Worker(i) for i in range(args.users)]
            budget = threading.Semaphore(args.max_requests)
            deadline = time.monotonic() + args.seconds
            threads = [threading.Thread(target=run_user, args=(w, base, deadline, budget)) for w in workers]
            started = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join(args.seconds + 60)
            elapsed = time.monotonic() - started
        finally:
            form.terminate()
            form.wait(10)
        with VaultSession(root) as admin:
            missing = verify(CatalogStore(admin), workers)
    report(workers, elapsed, missing, args.users)
    return 0 if not missing else 1


def wait_for(base: str) -> None:
    for _ in range(200):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit("the form did not start")


def run_user(worker: Worker, base: str, deadline: float, budget: threading.Semaphore) -> None:
    with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as client:
        sign_in(client, method="userpass", username=f"user{worker.index}", password=f"load-pw-{worker.index}")
        csrf = csrf_token(client.get("/entries/new/db").text)
        names: list[str] = []
        step = 0
        while time.monotonic() < deadline and budget.acquire(blocking=False):
            step += 1
            host = f"h{worker.index}-{step}.internal"
            if not names or step % 3 == 0:
                name = f"u{worker.index}_e{len(names)}"
                path, version = "/entries/new/db", 0
            else:
                name = names[step % len(names)]
                edit = timed(worker, lambda n=name: client.get(f"/entries/db/{n}/edit"))
                found = VERSION.search(edit.text) if edit is not None else None
                if found is None:
                    continue
                path, version = f"/entries/db/{name}/edit", int(found.group(1))
            data = {
                "csrf_token": csrf,
                "name": name,
                "version": str(version),
                "action": "save",
                "engine": "postgresql",
                "host": host,
                "port": "5432",
                "username": "loader",
                "password": f"pw-{worker.index}-{step}",
            }
            response = timed(worker, lambda p=path, d=data: client.post(p, data=d))
            if response is None:
                continue
            saved = SAVED.search(response.headers.get("location", ""))
            if response.status_code == 303 and saved:
                worker.acknowledged.append((name, int(saved.group(1)), host))
                if version == 0:
                    names.append(name)
            else:
                worker.errors.append(f"HTTP {response.status_code}")


def timed(worker: Worker, call):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    try:
        response = call()
    except httpx.HTTPError as exc:
        worker.errors.append(type(exc).__name__)
        return None
    worker.latencies.append((time.perf_counter() - started) * 1000)
    return response


def verify(store: CatalogStore, workers: list[Worker]) -> list[str]:
    missing = []
    for worker in workers:
        for name, version, host in worker.acknowledged:
            try:
                entry = store.get(EntryRef("db", name), version)
            except Exception as exc:
                missing.append(f"{name} v{version}: {type(exc).__name__}")
                continue
            if entry.secret.host != host:
                missing.append(f"{name} v{version}: host differs")
    return missing


def report(workers: list[Worker], elapsed: float, missing: list[str], users: int) -> None:
    latencies = sorted(x for w in workers for x in w.latencies)
    writes = sum(len(w.acknowledged) for w in workers)
    errors = [e for w in workers for e in w.errors]
    p95 = latencies[int(len(latencies) * 0.95)] if latencies else 0.0
    print(
        f"\n{users} signed-in users for {elapsed:.0f}s against the form (its own process), "
        "OpenBao dev server, loopback\n"
    )
    print(f"{'requests':<34} {len(latencies)}")
    print(f"{'throughput':<34} {len(latencies) / elapsed:.1f} requests/s")
    print(f"{'acknowledged writes':<34} {writes} ({writes / elapsed:.1f}/s)")
    print(
        f"{'latency p50 / p95':<34} {statistics.median(latencies) if latencies else 0:.1f} ms / {p95:.1f} ms"
    )
    print(f"{'errors':<34} {len(errors)} {sorted(set(errors))[:5]}")
    print(f"{'acknowledged writes not in Vault':<34} {len(missing)} {missing[:5]}")


if __name__ == "__main__":
    raise SystemExit(main())
