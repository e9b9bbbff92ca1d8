"""Protocols the core talks to; adapters in `bot.adapters` implement them.

A command receives these in its `Context` and never imports the technology behind them.
Every method may raise a `commands.errors.PortError` subclass; nothing else escapes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

JSON = Any


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


@dataclass(frozen=True)
class AuditEntry:
    id: str
    fields: Mapping[str, str]


class Store(Protocol):
    """Durable JSON state, keyed per cluster, with atomic updates and an audit log."""

    def describe(self) -> str:
        """Which backend this is (e.g. `redis://host:6379/0`), with secrets removed."""
        ...

    def ping(self) -> None: ...

    def get(self, key: str, *, cluster: str | None = None) -> JSON | None: ...

    def put(
        self, key: str, value: JSON, *, cluster: str | None = None, ttl_s: float | None = None
    ) -> None: ...

    def delete(self, key: str, *, cluster: str | None = None) -> bool: ...

    def ttl(self, key: str, *, cluster: str | None = None) -> float | None:
        """Seconds left, or None when the key has no expiry or does not exist."""
        ...

    def compare_and_set(
        self,
        key: str,
        expected: JSON | None,
        new: JSON,
        *,
        cluster: str | None = None,
        ttl_s: float | None = None,
    ) -> bool:
        """Write `new` only if the stored value equals `expected` (None: absent). Atomic."""
        ...

    def update(
        self,
        key: str,
        change: Callable[[JSON | None], JSON | None],
        *,
        cluster: str | None = None,
        ttl_s: float | None = None,
    ) -> tuple[bool, JSON | None]:
        """Atomically replace the value with `change(current)`.

        `change` returning None leaves the value alone. Returns (written, value now).
        `change` may run more than once under contention, so it must be pure.
        """
        ...

    def append_audit(self, cluster: str, entry: Mapping[str, str]) -> str: ...

    def read_audit(
        self, cluster: str, *, count: int = 100, after: str | None = None
    ) -> Sequence[AuditEntry]:
        """Oldest first, strictly after `after` when given."""
        ...


class Lease(Protocol):
    """A named lease in the store: at most one holder at a time."""

    def holder(self, name: str) -> str | None: ...

    def acquire(self, name: str, holder: str, ttl_s: float) -> bool:
        """Take the lease if free, or renew it if `holder` has it."""
        ...

    def release(self, name: str, holder: str) -> bool: ...


class ClusterInventory(Protocol):
    """Cluster reads the preflight checks need (nodes, pods, namespaces, …)."""


class ClusterObjects(Protocol):
    """Generic object reads and guarded writes for the change pipeline."""


class Cluster(ClusterInventory, ClusterObjects, Protocol):
    """One Kubernetes cluster, by its configured name."""

    name: str

    def server_version(self) -> str: ...


class Metrics(Protocol):
    """A Prometheus-compatible query API: run a query, say if online."""

    def describe(self) -> str: ...

    def ping(self) -> str:
        """The server's version; raises MetricsUnavailable when it is not answering."""
        ...

    def query(self, promql: str, *, at: float | None = None) -> Sequence[Sample]: ...


@dataclass(frozen=True)
class Sample:
    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True)
class Services:
    """The ports of one runtime, handed to every command in its context."""

    store: Store
    lease: Lease
    clusters: Mapping[str, Cluster]
    metrics: Mapping[str, Metrics]
    clock: Clock
    version: str
    replica_id: str
    watcher_lease: str = "watchers"
    # Per-capability settings and ports, built by bot.runtime from the config file.
    preflight: Any = None
    changes: Any = None
    watch: Any = None
