"""An outage drill: every consumer (core resolver, dlt provider, Airflow backend, form)
behind its own fault proxy, called as fast as a busy pipeline would, while Vault is cut
off. Each proxy counts the connections that would have reached Vault.

Used by ``tests/integration/test_faults_consumers.py`` and ``benchmarks/outage_drill.py``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from dlt_vault_provider import (
    CatalogResolver,
    CatalogStore,
    DatabaseSecret,
    Secret,
    VaultCatalogProvider,
    VaultSession,
    VaultSettings,
)
from dlt_vault_provider.store import EntryRef
from tests.faultproxy import FaultProxy
from tests.form_client import sign_in

ENTRY = DatabaseSecret(engine="postgresql", host="db.internal", username="drill", password="drill-pw-4711")

# Bounds a consumer would configure; small so the drill is quick. No stale serving: every
# call must ask Vault, the worst case for a dead Vault.
TRANSPORT = {
    "connect_timeout": 1.0,
    "read_timeout": 2.0,
    "deadline": 3.0,
    "max_attempts": 3,
    "backoff": 0.05,
    "max_backoff": 0.2,
}
CACHE = {"ttl": 0.05, "stale_ttl": 0.0}


@dataclass
class Consumer:
    """One consumer's single call (a lookup of ``orders``); raises when it cannot answer."""

    name: str
    proxy: FaultProxy
    call: Callable[[], object]


@dataclass
class DrillResult:
    name: str
    calls: int = 0
    failures: int = 0
    slowest: float = 0.0
    reached_vault: int = 0
    errors: set[str] = field(default_factory=set)
    recovered_after: float | None = None


def settings_for(proxy: FaultProxy, token: Secret) -> VaultSettings:
    return VaultSettings(url=proxy.address, token=token, renew=False, **TRANSPORT)  # type: ignore[arg-type]


def core_consumer(stack: ExitStack, proxy: FaultProxy, token: Secret, workspace: str) -> Consumer:
    session = stack.enter_context(VaultSession(settings_for(proxy, token)))
    resolver = CatalogResolver(CatalogStore(session, workspace=workspace, kv_version=2), **CACHE)
    return Consumer("core resolver", proxy, lambda: resolver.get(EntryRef("db", "orders")))


def dlt_consumer(stack: ExitStack, proxy: FaultProxy, token: Secret, workspace: str) -> Consumer:
    session = stack.enter_context(VaultSession(settings_for(proxy, token)))
    provider = VaultCatalogProvider(CatalogResolver(CatalogStore(session, workspace=workspace), **CACHE))

    def call() -> object:
        value, _ = provider.get_value("credentials", object, None, "sources", "orders")
        if value is None:
            raise LookupError("the dlt provider did not find sources.orders.credentials")
        return value

    return Consumer("dlt provider", proxy, call)


def airflow_consumer(stack: ExitStack, proxy: FaultProxy, token: Secret, workspace: str) -> Consumer:
    from airflow.sdk.definitions.connection import Connection

    from airflow_backend import VaultCatalogBackend

    backend = VaultCatalogBackend(
        url=proxy.address,
        token=token.reveal(),
        workspace=workspace,
        **{key: str(value) for key, value in {**TRANSPORT, **CACHE}.items()},
    )
    backend._set_connection_class(Connection)
    stack.callback(backend.session.close)

    def call() -> object:
        conn = backend.get_connection("orders")
        if conn is None:
            raise LookupError("the Airflow backend found no connection orders")
        return conn

    return Consumer("Airflow backend", proxy, call)


def form_consumer(stack: ExitStack, proxy: FaultProxy, token: Secret, workspace: str) -> Consumer:
    from starlette.testclient import TestClient

    from dlt_vault_provider.form import create_app

    app = create_app(VaultSettings(url=proxy.address, **TRANSPORT), workspace=workspace)  # type: ignore[arg-type]
    client = stack.enter_context(TestClient(app, base_url="http://testserver"))
    signed = sign_in(client, method="token", token=token.reveal())
    assert signed.status_code == 303, signed.text

    def call() -> object:
        page = client.get("/entries/db/orders")
        if page.status_code != 200:
            raise RuntimeError(f"the form answered {page.status_code}")
        return page

    return Consumer("form", proxy, call)


@contextmanager
def consumers(
    vault_port: int, token: Secret, workspace: str, names: tuple[str, ...]
) -> Iterator[list[Consumer]]:
    """The named consumers, each behind its own proxy to the real OpenBao."""
    makers = {"core": core_consumer, "dlt": dlt_consumer, "airflow": airflow_consumer, "form": form_consumer}
    with ExitStack() as stack:
        made = []
        for name in names:
            proxy = stack.enter_context(FaultProxy(vault_port))
            made.append(makers[name](stack, proxy, token, workspace))
        yield made


def drill(
    consumer: Consumer, outage: float, mode: str = "down", every: float = 0.02, recover_within: float = 45.0
) -> DrillResult:
    """Call once to warm up, cut Vault off, let the cached value expire, call every
    ``every`` seconds for ``outage`` seconds, then restore Vault and time the first
    successful call."""
    result = DrillResult(consumer.name)
    consumer.call()
    consumer.proxy.mode = mode
    time.sleep(CACHE["ttl"])  # past the warm-up value's TTL: from here every call needs Vault
    reached_before = consumer.proxy.connections[mode]
    ends = time.monotonic() + outage
    while time.monotonic() < ends:
        started = time.monotonic()
        try:
            consumer.call()
        except Exception as exc:  # every consumer's own error type; the drill only counts
            result.failures += 1
            result.errors.add(type(exc).__name__)
        result.calls += 1
        result.slowest = max(result.slowest, time.monotonic() - started)
        time.sleep(every)
    result.reached_vault = consumer.proxy.connections[mode] - reached_before
    consumer.proxy.mode = "pass"
    back = time.monotonic()
    while time.monotonic() - back < recover_within:
        try:
            consumer.call()
            result.recovered_after = time.monotonic() - back
            break
        except Exception:
            time.sleep(0.1)
    return result


def drill_all(consumers_: list[Consumer], outage: float, mode: str = "down") -> list[DrillResult]:
    """All consumers at once, one thread each (as in one busy host)."""
    results: list[DrillResult | None] = [None] * len(consumers_)

    def run(i: int) -> None:
        results[i] = drill(consumers_[i], outage, mode)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(consumers_))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r for r in results if r is not None]


def table(results: list[DrillResult], outage: float, mode: str) -> str:
    header = ("consumer", "calls", "failed", "reached Vault", "slowest call", "recovered")
    lines = [
        f"Vault {mode} for {outage:.0f} s; a call every 20 ms per consumer; "
        f"deadline {TRANSPORT['deadline']} s, {TRANSPORT['max_attempts']} attempts per call",
        "{:<16} {:>7} {:>7} {:>14} {:>13} {:>10}".format(*header),
    ]
    for r in results:
        recovered = "never" if r.recovered_after is None else f"{r.recovered_after:.1f} s"
        slowest = f"{r.slowest:.2f} s"
        lines.append(
            f"{r.name:<16} {r.calls:>7} {r.failures:>7} {r.reached_vault:>14} {slowest:>13} {recovered:>10}"
        )
    return "\n".join(lines)
