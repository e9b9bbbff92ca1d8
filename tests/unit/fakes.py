"""Small in-memory fakes of the ports, for unit tests of the pure core."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from commands.core.errors import ClusterUnavailable, MetricsUnavailable, StoreUnavailable
from commands.core.ports import AuditEntry, Clock, Sample, Services


class FixedClock:
    """A clock that stands still until the test moves it."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.value = now

    def now(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds


MovingClock = FixedClock  # the name the change tests use for the same clock

Key = tuple[str | None, str]


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass
class MemoryStore:
    """The Store and Lease ports in memory, held to RedisStore's contract
    (tests/integration/adapters/test_store_contract.py runs on both): values are JSON
    (kept as canonical text, handed out as copies), every update is atomic, and TTLs
    and leases expire on `clock`, which the test moves instead of sleeping."""

    clock: Clock = field(default_factory=FixedClock)
    values: dict[Key, str] = field(default_factory=dict)
    expires: dict[Key, float] = field(default_factory=dict)
    audit: dict[str, list[AuditEntry]] = field(default_factory=dict)
    leases: dict[str, str] = field(default_factory=dict)
    lease_expires: dict[str, float] = field(default_factory=dict)
    down: bool = False
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable("Redis is unreachable (fake)")

    def _live(self, key: Key) -> str | None:
        """The stored text, after dropping it if its TTL has run out."""
        if key in self.expires and self.clock.now() >= self.expires[key]:
            del self.expires[key]
            self.values.pop(key, None)
        return self.values.get(key)

    def _set(self, key: Key, text: str, ttl_s: float | None) -> None:
        self.values[key] = text
        if ttl_s is None:
            self.expires.pop(key, None)  # like SET without PX: no expiry any more
        else:
            self.expires[key] = self.clock.now() + ttl_s

    def describe(self) -> str:
        return "memory"

    def ping(self) -> None:
        self._check()

    def get(self, key: str, *, cluster: str | None = None) -> Any:
        self._check()
        with self._lock:
            text = self._live((cluster, key))
        return None if text is None else json.loads(text)

    def get_many(self, keys: Sequence[str], *, cluster: str | None = None) -> list[Any]:
        return [self.get(key, cluster=cluster) for key in keys]

    def put(
        self, key: str, value: Any, *, cluster: str | None = None, ttl_s: float | None = None
    ) -> None:
        self._check()
        with self._lock:
            self._set((cluster, key), _dumps(value), ttl_s)

    def delete(self, key: str, *, cluster: str | None = None) -> bool:
        self._check()
        with self._lock:
            found = self._live((cluster, key)) is not None
            self.values.pop((cluster, key), None)
            self.expires.pop((cluster, key), None)
        return found

    def ttl(self, key: str, *, cluster: str | None = None) -> float | None:
        self._check()
        with self._lock:
            if self._live((cluster, key)) is None or (cluster, key) not in self.expires:
                return None
            return self.expires[(cluster, key)] - self.clock.now()

    def compare_and_set(
        self,
        key: str,
        expected: Any,
        new: Any,
        *,
        cluster: str | None = None,
        ttl_s: float | None = None,
    ) -> bool:
        self._check()
        with self._lock:
            current = self._live((cluster, key))
            if current != (None if expected is None else _dumps(expected)):
                return False
            self._set((cluster, key), _dumps(new), ttl_s)
            return True

    def update(
        self,
        key: str,
        change: Callable[[Any], Any],
        *,
        cluster: str | None = None,
        ttl_s: float | None = None,
        audit: Callable[[Any], Sequence[Mapping[str, str]]] | None = None,
    ) -> tuple[bool, Any]:
        self._check()
        with self._lock:
            text = self._live((cluster, key))
            current = None if text is None else json.loads(text)
            new = change(current)
            if new is None:
                return False, current
            written = _dumps(new)
            self._set((cluster, key), written, ttl_s)
            for entry in audit(json.loads(written)) if audit is not None else ():
                self.append_audit(cluster or "global", entry)
            return True, json.loads(written)

    def append_audit(self, cluster: str, entry: Mapping[str, str]) -> str:
        self._check()
        with self._lock:
            entries = self.audit.setdefault(cluster, [])
            entry_id = f"{len(entries) + 1}-0"
            entries.append(AuditEntry(entry_id, {k: str(v) for k, v in entry.items()}))
        return entry_id

    def read_audit(
        self, cluster: str, *, count: int = 100, after: str | None = None
    ) -> Sequence[AuditEntry]:
        self._check()
        entries = self.audit.get(cluster, [])
        if after is not None:
            entries = [e for e in entries if int(e.id.split("-")[0]) > int(after.split("-")[0])]
        return entries[:count]

    def _holder(self, name: str) -> str | None:
        if name in self.lease_expires and self.clock.now() >= self.lease_expires[name]:
            del self.lease_expires[name]
            self.leases.pop(name, None)
        return self.leases.get(name)

    def holder(self, name: str) -> str | None:
        self._check()
        with self._lock:
            return self._holder(name)

    def acquire(self, name: str, holder: str, ttl_s: float) -> bool:
        """Take the lease if free, or renew it for `ttl_s` if `holder` has it."""
        self._check()
        with self._lock:
            if self._holder(name) not in (None, holder):
                return False
            self.leases[name] = holder
            self.lease_expires[name] = self.clock.now() + ttl_s
            return True

    def release(self, name: str, holder: str) -> bool:
        self._check()
        with self._lock:
            if self._holder(name) != holder:
                return False
            del self.leases[name]
            self.lease_expires.pop(name, None)
            return True


@dataclass
class FakeCluster:
    name: str
    version: str = "v1.33.2"
    down: bool = False

    def server_version(self) -> str:
        if self.down:
            raise ClusterUnavailable(f"cluster {self.name}: API server unreachable (fake)")
        return self.version


@dataclass
class FakeMetrics:
    url: str = "http://prometheus.fake:9090"
    down: bool = False
    samples: dict[str, list[Sample]] = field(default_factory=dict)

    def describe(self) -> str:
        return self.url

    def ping(self) -> str:
        if self.down:
            raise MetricsUnavailable(f"Prometheus at {self.url} is unreachable (fake)")
        return "2.42.0"

    def query(self, promql: str, *, at: float | None = None) -> Sequence[Sample]:
        if self.down:
            raise MetricsUnavailable("down")
        return self.samples.get(promql, [])

    def query_range(
        self, promql: str, start: float, end: float, step_s: float
    ) -> Sequence[tuple[float, float]]:
        if self.down:
            raise MetricsUnavailable("down")
        return [(start, s.value) for s in self.samples.get(promql, [])[:1]]


def services(
    store: MemoryStore | None = None,
    clusters: Mapping[str, FakeCluster] | None = None,
    metrics: Mapping[str, FakeMetrics] | None = None,
    replica_id: str = "replica-1",
) -> Services:
    memory = store or MemoryStore()
    return Services(
        store=memory,
        lease=memory,
        clusters=dict(clusters or {}),
        metrics=dict(metrics or {}),
        clock=FixedClock(),
        version="0.1.0",
        replica_id=replica_id,
    )
