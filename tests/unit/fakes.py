"""Small in-memory fakes of the ports, for unit tests of the pure core."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from commands.core.errors import ClusterUnavailable, MetricsUnavailable, StoreUnavailable
from commands.core.ports import AuditEntry, Sample, Services


@dataclass
class MemoryStore:
    values: dict[tuple[str | None, str], Any] = field(default_factory=dict)
    audit: dict[str, list[AuditEntry]] = field(default_factory=dict)
    leases: dict[str, str] = field(default_factory=dict)
    down: bool = False

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable("Redis is unreachable (fake)")

    def describe(self) -> str:
        return "memory"

    def ping(self) -> None:
        self._check()

    def get(self, key: str, *, cluster: str | None = None) -> Any:
        self._check()
        return self.values.get((cluster, key))

    def put(
        self, key: str, value: Any, *, cluster: str | None = None, ttl_s: float | None = None
    ) -> None:
        self._check()
        self.values[(cluster, key)] = value

    def delete(self, key: str, *, cluster: str | None = None) -> bool:
        self._check()
        return self.values.pop((cluster, key), None) is not None

    def ttl(self, key: str, *, cluster: str | None = None) -> float | None:
        return None

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
        if self.values.get((cluster, key)) != expected:
            return False
        self.values[(cluster, key)] = new
        return True

    def update(
        self,
        key: str,
        change: Callable[[Any], Any],
        *,
        cluster: str | None = None,
        ttl_s: float | None = None,
    ) -> tuple[bool, Any]:
        self._check()
        new = change(self.values.get((cluster, key)))
        if new is None:
            return False, self.values.get((cluster, key))
        self.values[(cluster, key)] = new
        return True, new

    def append_audit(self, cluster: str, entry: Mapping[str, str]) -> str:
        self._check()
        entries = self.audit.setdefault(cluster, [])
        entry_id = f"{len(entries) + 1}-0"
        entries.append(AuditEntry(entry_id, dict(entry)))
        return entry_id

    def read_audit(
        self, cluster: str, *, count: int = 100, after: str | None = None
    ) -> Sequence[AuditEntry]:
        self._check()
        entries = self.audit.get(cluster, [])
        if after is not None:
            entries = [e for e in entries if int(e.id.split("-")[0]) > int(after.split("-")[0])]
        return entries[:count]

    def holder(self, name: str) -> str | None:
        self._check()
        return self.leases.get(name)

    def acquire(self, name: str, holder: str, ttl_s: float) -> bool:
        self._check()
        if self.leases.get(name, holder) != holder:
            return False
        self.leases[name] = holder
        return True

    def release(self, name: str, holder: str) -> bool:
        if self.leases.get(name) == holder:
            del self.leases[name]
            return True
        return False


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


class FixedClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.value = now

    def now(self) -> float:
        return self.value


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
