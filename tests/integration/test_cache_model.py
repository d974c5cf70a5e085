"""The resolver's cache against a model, on the real OpenBao (hypothesis stateful tests).

The machine writes, deletes and reads entries, moves a fake clock, cuts Vault off behind
a fault proxy and reads from many threads at once. The model is the cache's contract
written out plainly: what Vault holds, and per key the slot the cache should hold. Every
read must answer exactly what the model predicts, so a value for the wrong entry, the
wrong version, past its TTL, past its stale window or stale without saying so fails.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from dlt_vault_provider import (
    CatalogResolver,
    CatalogStore,
    DatabaseSecret,
    EntryNotFound,
    EntryRef,
    VaultSession,
    VaultSettings,
    VaultUnavailable,
)
from tests.faultproxy import FaultProxy

pytestmark = pytest.mark.integration

TTL, MISS_TTL, STALE_TTL = 10.0, 3.0, 20.0
NAMES = ("alpha", "beta")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Version:
    password: str
    deleted: bool = False


@dataclass
class Slot:
    """What the cache should hold for one key: a value (version, password) or a miss."""

    answer: tuple[int, str] | None
    fetched_at: float
    expires_at: float
    stale_until: float = 0.0
    stale: bool = False


@dataclass
class Model:
    vault: dict[str, list[Version]] = field(default_factory=dict)
    slots: dict[tuple[str, int | None], Slot] = field(default_factory=dict)

    def truth(self, name: str, pin: int | None) -> tuple[int, str] | None:
        versions = self.vault.get(name, [])
        number = pin if pin is not None else len(versions)
        if not 1 <= number <= len(versions) or versions[number - 1].deleted:
            return None
        return number, versions[number - 1].password

    def read(self, name: str, pin: int | None, now: float, vault_up: bool) -> tuple:
        """The answer a read at ``now`` must give: ("ok", version, password, stale),
        ("not found",) or ("unavailable",); and the slot it leaves behind."""
        key = (name, pin)
        slot = self.slots.get(key)
        if slot is not None and now < slot.expires_at:
            return ("not found",) if slot.answer is None else ("ok", *slot.answer, slot.stale)
        if not vault_up:
            if slot is None or slot.answer is None or now >= slot.stale_until:
                return ("unavailable",)
            slot.expires_at, slot.stale = min(now + min(MISS_TTL, 5.0), slot.stale_until), True
            return ("ok", *slot.answer, True)
        answer = self.truth(name, pin)
        if answer is None:
            self.slots[key] = Slot(None, now, now + MISS_TTL)
            return ("not found",)
        self.slots[key] = Slot(answer, now, now + TTL, now + TTL + STALE_TTL)
        return ("ok", *answer, False)


def observe(resolver: CatalogResolver, name: str, pin: int | None) -> tuple:
    try:
        entry = resolver.get(EntryRef("db", name), pin)
    except EntryNotFound:
        return ("not found",)
    except VaultUnavailable:
        return ("unavailable",)
    assert entry.ref == EntryRef("db", name), f"asked for {name}, got {entry.ref}"
    return ("ok", entry.version, entry.secret.password.reveal(), entry.stale)


@pytest.fixture
def parts(bao, admin):
    port = int(bao.address.rsplit(":", 1)[1])
    with FaultProxy(port) as proxy:
        reader_settings = VaultSettings(
            url=proxy.address,
            token=bao.root_token,
            renew=False,
            connect_timeout=1,
            read_timeout=2,
            deadline=3,
            max_attempts=1,
            breaker_threshold=1_000_000,  # the breaker has its own tests; here every read asks
        )
        with VaultSession(reader_settings) as reader:
            yield proxy, reader


def test_the_cache_answers_exactly_what_the_model_predicts(parts, admin):
    proxy, reader = parts

    class CacheMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            workspace = "model-" + uuid.uuid4().hex[:10]
            proxy.mode = "pass"
            self.writer = CatalogStore(admin, workspace=workspace)
            self.clock = FakeClock()
            self.resolver = CatalogResolver(
                CatalogStore(reader, workspace=workspace, kv_version=2),
                ttl=TTL,
                miss_ttl=MISS_TTL,
                stale_ttl=STALE_TTL,
                clock=self.clock,
            )
            self.model = Model()

        @property
        def vault_up(self) -> bool:
            return proxy.mode == "pass"

        @rule(name=st.sampled_from(NAMES))
        def write(self, name: str) -> None:
            versions = self.model.vault.setdefault(name, [])
            password = f"{name}-{len(versions) + 1}-{uuid.uuid4().hex[:8]}"
            secret = DatabaseSecret(engine="postgresql", host="db.internal", username=name, password=password)
            number = self.writer.put(name, secret, expected_version=len(versions))
            versions.append(Version(password))
            assert number == len(versions)

        @precondition(lambda self: any(v and not v[-1].deleted for v in self.model.vault.values()))
        @rule(data=st.data())
        def delete_latest(self, data: st.DataObject) -> None:
            live = sorted(n for n, v in self.model.vault.items() if v and not v[-1].deleted)
            name = data.draw(st.sampled_from(live))
            self.writer.delete(EntryRef("db", name))
            self.model.vault[name][-1].deleted = True

        @rule(seconds=st.sampled_from([0.5, MISS_TTL, TTL - 0.5, TTL, TTL + 0.5, TTL + STALE_TTL]))
        def time_passes(self, seconds: float) -> None:
            self.clock.now += seconds

        @rule(up=st.booleans())
        def vault_reachable(self, up: bool) -> None:
            proxy.mode = "pass" if up else "down"

        @rule(name=st.sampled_from(NAMES), pin=st.one_of(st.none(), st.integers(1, 3)))
        def read(self, name: str, pin: int | None) -> None:
            expected = self.model.read(name, pin, self.clock.now, self.vault_up)
            assert observe(self.resolver, name, pin) == expected, (name, pin, self.clock.now)

        @rule(pins=st.lists(st.one_of(st.none(), st.integers(1, 3)), min_size=1, max_size=3))
        def many_threads_read_at_once(self, pins: list[int | None]) -> None:
            keys = [(name, pin) for name in NAMES for pin in pins]
            barrier = threading.Barrier(8)

            def reader(offset: int) -> list[tuple]:
                barrier.wait()
                order = keys[offset % len(keys) :] + keys[: offset % len(keys)]
                return [(key, observe(self.resolver, *key)) for key in order * 3]

            with ThreadPoolExecutor(8) as pool:
                seen = [pair for result in pool.map(reader, range(8)) for pair in result]
            # Reads at one instant with no write in between: each key answers like one read.
            expected = {key: self.model.read(*key, self.clock.now, self.vault_up) for key in set(keys)}
            for key, answer in seen:
                assert answer == expected[key], (key, self.clock.now)

        @invariant()
        def cached_values_are_the_models(self) -> None:
            for (name, pin), slot in self.model.slots.items():
                if slot.answer is not None and self.clock.now < slot.expires_at:
                    cached = self.resolver._entries.peek((EntryRef("db", name), pin))
                    assert cached is not None and (cached.version, cached.secret.password.reveal()) == (
                        slot.answer
                    )

        def teardown(self) -> None:
            proxy.mode = "pass"

    run_state_machine_as_test(
        CacheMachine,
        settings=settings(
            max_examples=50,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )


def test_concurrent_readers_and_a_writer_never_see_a_wrong_entry_or_version(bao, admin, workspace):
    """Real time, a real writer: every answer belongs to the entry asked for, carries the
    password written for the version it claims, and a pinned read is that version."""
    names = [f"e{i}" for i in range(8)]
    written: dict[tuple[str, int], str] = {}
    lock = threading.Lock()
    writer = CatalogStore(admin, workspace=workspace)
    for name in names:
        password = f"{name}-1-{uuid.uuid4().hex[:6]}"
        writer.put(
            name,
            DatabaseSecret(engine="postgresql", host="h", username=name, password=password),
            expected_version=0,
        )
        written[(name, 1)] = password
    with VaultSession(VaultSettings(url=bao.address, token=bao.root_token, renew=False)) as session:
        resolver = CatalogResolver(CatalogStore(session, workspace=workspace), ttl=0.05, miss_ttl=0.05)
        stop = threading.Event()
        failures: list[str] = []

        def write_loop() -> None:
            version = {name: 1 for name in names}
            while not stop.is_set():
                for name in names:
                    password = f"{name}-{version[name] + 1}-{uuid.uuid4().hex[:6]}"
                    with lock:
                        written[(name, version[name] + 1)] = password
                    secret = DatabaseSecret(engine="postgresql", host="h", username=name, password=password)
                    version[name] = writer.put(name, secret, expected_version=version[name])

        def read_loop(seed: int) -> int:
            reads, seen = 0, {}
            while not stop.is_set():
                name = names[(seed + reads) % len(names)]
                pin = seen.get(name) if reads % 5 == 0 else None  # a version known to exist
                reads += 1
                try:
                    entry = resolver.get(EntryRef("db", name), pin)
                except EntryNotFound:
                    with lock:  # KV keeps the last 10 versions: an older pin may be gone
                        newest = max(v for (n, v) in written if n == name)
                    if pin is None or newest - pin < 10:
                        failures.append(f"{name}: version {pin} not found, newest {newest}")
                    continue
                seen[name] = entry.version
                with lock:
                    expected = written.get((name, entry.version))
                if entry.ref.name != name or entry.secret.password.reveal() != expected:
                    failures.append(f"{name}: got {entry.ref} version {entry.version}")
                if pin is not None and entry.version != pin:
                    failures.append(f"{name}: pinned {pin}, got version {entry.version}")
            return reads

        with ThreadPoolExecutor(17) as pool:
            writing = pool.submit(write_loop)
            readers = [pool.submit(read_loop, seed) for seed in range(16)]
            stop.wait(6)
            stop.set()
            total = sum(r.result() for r in readers)
            writing.result()
    versions = max(v for (_, v) in written)
    print(f"{total} concurrent reads while {versions - 1} versions per entry were written")
    assert not failures, failures[:5]
    assert total > 1000 and versions > 3
