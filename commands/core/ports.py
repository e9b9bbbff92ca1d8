"""Protocols the core talks to; adapters in `bot.adapters` implement them.

A command receives these in its `Context` and never imports the technology behind them.
Every method may raise a `commands.core.errors.PortError` subclass; nothing else escapes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from commands.core.wiring import Kits

JSON = Any
T = TypeVar("T")


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

    def get_many(self, keys: Sequence[str], *, cluster: str | None = None) -> list[JSON | None]:
        """The values of `keys` in order (None where absent), read in one round trip."""
        ...

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
        audit: Callable[[JSON], Sequence[Mapping[str, str]]] | None = None,
    ) -> tuple[bool, JSON | None]:
        """Atomically replace the value with `change(current)`.

        `change` returning None leaves the value alone. Returns (written, value now).
        `change` may run more than once under contention, so it must be pure.
        `audit(new value)` gives entries appended to `cluster`'s audit stream in the same
        transaction as the write (so a crash never leaves one without the other).
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


class ClusterObjects(Protocol):
    """Generic object reads and guarded writes for the change pipeline.

    Objects are plain JSON dicts; `ref` is a `commands.changes.model.ObjectRef` (typed Any
    here to keep this module free of capability imports). Writes with `dry_run=True` go
    to the server with `dryRun=All`. A write carrying `metadata.resourceVersion` (or
    `resource_version` on delete) is refused with `ObjectConflict` if the object moved;
    422 raises `ObjectInvalid`, a missing object on write `ObjectMissing`, 5xx and network
    errors `ClusterUnavailable` (all in commands.changes.model / commands.core.errors).
    """

    def served_versions(self, group: str) -> Sequence[str]:
        """Versions the API group serves, preferred first; empty when it is not served."""
        ...

    def get_object(self, ref: Any) -> JSON | None:
        """The live object, or None when it does not exist."""
        ...

    def list_objects(
        self,
        api_version: str,
        plural: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> Sequence[JSON]:
        """Every object of a kind (all pages), in one namespace or all of them."""
        ...

    def create_object(self, ref: Any, body: JSON, *, dry_run: bool = False) -> JSON: ...

    def replace_object(self, ref: Any, body: JSON, *, dry_run: bool = False) -> JSON: ...

    def patch_object(self, ref: Any, patch: JSON, *, dry_run: bool = False) -> JSON:
        """JSON merge patch (RFC 7386)."""
        ...

    def delete_object(
        self, ref: Any, *, resource_version: str | None = None, dry_run: bool = False
    ) -> None: ...


class Cluster(ClusterObjects, Protocol):
    """One Kubernetes cluster, by its configured name.

    Capabilities that need more than generic objects declare their own protocol
    (commands.preflight.ports.ClusterInventory, commands.timeouts.ports.VirtualServices,
    commands.watch.ports.MeshedPods); the registry checks at start that every
    configured cluster provides them.
    """

    name: str

    def server_version(self) -> str: ...


class Metrics(Protocol):
    """A Prometheus-compatible query API: run a query, say if online."""

    def describe(self) -> str: ...

    def ping(self) -> str:
        """The server's version; raises MetricsUnavailable when it is not answering."""
        ...

    def query(self, promql: str, *, at: float | None = None) -> Sequence[Sample]: ...

    def query_range(
        self, promql: str, start: float, end: float, step_s: float
    ) -> Sequence[tuple[float, float]]:
        """The first series of a range query as (time, value) points, oldest first."""
        ...


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
    # Slack channels allowed to run commands per cluster; a cluster not listed: any channel.
    cluster_channels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Per-capability settings and ports, by type (commands.core.wiring).
    kits: Kits = field(default_factory=Kits)

    def kit(self, kind: type[T]) -> T:
        """This runtime's `kind` (e.g. PreflightSettings); MissingWiring when absent."""
        return self.kits.get(kind)
