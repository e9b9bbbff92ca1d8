"""In-memory fakes for the change pipeline and mTLS unit tests: a cluster that keeps
objects with resourceVersions (409 on stale writes, injectable failures), scripted
metrics, a clock the test moves, and a notifier that records events."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from commands.changes.hooks import ChangeEvent, ChangeHooks, ChangesKit, PipelineSettings
from commands.changes.model import ObjectConflict, ObjectInvalid, ObjectMissing, ObjectRef
from commands.core.errors import ClusterUnavailable, MetricsUnavailable
from commands.core.ports import Sample, Services
from commands.core.wiring import Kits
from tests.unit.fakes import MemoryStore, MovingClock

Key = tuple[str, str, str, str]  # group, plural, namespace, name


def _key(api_version: str, plural: str, namespace: str | None, name: str) -> Key:
    return (api_version.rpartition("/")[0], plural, namespace or "", name)


@dataclass
class ObjectCluster:
    """A FakeCluster with the ClusterObjects port."""

    name: str = "prod"
    objects: dict[Key, dict[str, Any]] = field(default_factory=dict)
    served: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {"security.istio.io": ("v1", "v1beta1")}
    )
    # method name -> list of exceptions to raise on the next calls (non-dry-run writes)
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    invalid: Callable[[dict[str, Any]], str | None] = lambda obj: None
    writes: list[str] = field(default_factory=list)
    # every write: (what, object, the object before, the object after; None: absent)
    log: list[tuple[str, str, Any, Any]] = field(default_factory=list)
    _rv: itertools.count[int] = field(default_factory=lambda: itertools.count(100))

    def server_version(self) -> str:
        return "v1.33.2"

    def served_versions(self, group: str) -> tuple[str, ...]:
        return ("v1",) if not group else self.served.get(group, ())

    def add(self, obj: dict[str, Any], plural: str) -> dict[str, Any]:
        stored = copy.deepcopy(obj)
        meta = stored.setdefault("metadata", {})
        meta["resourceVersion"] = str(next(self._rv))
        meta.setdefault("uid", f"uid-{meta['name']}")
        self.objects[_key(stored["apiVersion"], plural, meta.get("namespace"), meta["name"])] = (
            stored
        )
        return stored

    def live(self, ref: ObjectRef) -> dict[str, Any] | None:
        return self.objects.get(_key(ref.api_version, ref.plural, ref.namespace, ref.name))

    def edit(self, ref: ObjectRef, change: Callable[[dict[str, Any]], None]) -> None:
        """Someone else edits the object (kubectl edit): content and resourceVersion move."""
        obj = self.live(ref)
        assert obj is not None
        change(obj)
        obj["metadata"]["resourceVersion"] = str(next(self._rv))

    def get_object(self, ref: ObjectRef) -> dict[str, Any] | None:
        self._maybe_fail("get_object")
        found = self.live(ref)
        return copy.deepcopy(found) if found is not None else None

    def list_objects(
        self,
        api_version: str,
        plural: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> Sequence[dict[str, Any]]:
        group = api_version.rpartition("/")[0]
        return [
            copy.deepcopy(o)
            for (g, p, ns, _), o in sorted(self.objects.items())
            if g == group and p == plural and (namespace is None or ns == namespace)
        ]

    def create_object(self, ref: ObjectRef, body: Any, *, dry_run: bool = False) -> Any:
        self._check(body)
        if self.live(ref) is not None:
            raise ObjectConflict(f"{ref.label} already exists (409)")
        if dry_run:
            return copy.deepcopy(body)
        self._maybe_fail("create_object")
        self.writes.append(f"create {ref.label}")
        created = self.add(body, ref.plural)
        self.log.append(("create", ref.label, None, copy.deepcopy(created)))
        return copy.deepcopy(created)

    def replace_object(self, ref: ObjectRef, body: Any, *, dry_run: bool = False) -> Any:
        self._check(body)
        live = self.live(ref)
        if live is None:
            raise ObjectMissing(f"{ref.label} not found")
        if body["metadata"].get("resourceVersion") != live["metadata"]["resourceVersion"]:
            raise ObjectConflict(f"{ref.label} was changed (409 Conflict)")
        if dry_run:
            return copy.deepcopy(body)
        self._maybe_fail("replace_object")
        self.writes.append(f"replace {ref.label}")
        new = copy.deepcopy(body)
        new["metadata"]["uid"] = live["metadata"].get("uid")
        replaced = self.add(new, ref.plural)
        self.log.append(("replace", ref.label, copy.deepcopy(live), copy.deepcopy(replaced)))
        return copy.deepcopy(replaced)

    def patch_object(self, ref: ObjectRef, patch: Any, *, dry_run: bool = False) -> Any:
        raise NotImplementedError

    def delete_object(
        self, ref: ObjectRef, *, resource_version: str | None = None, dry_run: bool = False
    ) -> None:
        live = self.live(ref)
        if live is None:
            raise ObjectMissing(f"{ref.label} not found")
        if resource_version and resource_version != live["metadata"]["resourceVersion"]:
            raise ObjectConflict(f"{ref.label} was changed (409 Conflict)")
        if dry_run:
            return
        self._maybe_fail("delete_object")
        self.writes.append(f"delete {ref.label}")
        self.log.append(("delete", ref.label, copy.deepcopy(live), None))
        del self.objects[_key(ref.api_version, ref.plural, ref.namespace, ref.name)]

    def _check(self, body: Any) -> None:
        problem = self.invalid(body)
        if problem:
            raise ObjectInvalid(f"invalid (422): {problem}", (problem,))

    def _maybe_fail(self, method: str) -> None:
        pending = self.failures.get(method)
        if pending:
            raise pending.pop(0)


def api_500(what: str = "replace") -> ClusterUnavailable:
    return ClusterUnavailable(f"cluster prod: {what}: API server answered 500 boom")


@dataclass
class ScriptedMetrics:
    """Answers by the first rule whose text is in the query: rule(at) -> samples."""

    rules: list[tuple[str, Callable[[float | None], list[Sample]]]] = field(default_factory=list)
    down: bool = False
    queries: list[tuple[str, float | None]] = field(default_factory=list)

    def on(self, fragment: str, answer: Callable[[float | None], list[Sample]]) -> None:
        self.rules.insert(0, (fragment, answer))

    def describe(self) -> str:
        return "scripted"

    def ping(self) -> str:
        return "2.42.0"

    def query(self, promql: str, *, at: float | None = None) -> Sequence[Sample]:
        if self.down:
            raise MetricsUnavailable("Prometheus at http://prom:9090 is unreachable")
        self.queries.append((promql, at))
        for fragment, answer in self.rules:
            if fragment in promql:
                return answer(at)
        return []


@dataclass
class RecordingNotifier:
    events: list[ChangeEvent] = field(default_factory=list)

    def change_event(self, event: ChangeEvent) -> None:
        self.events.append(event)

    def names(self) -> list[str]:
        return [e.event for e in self.events]


def change_services(
    cluster: ObjectCluster | None = None,
    *,
    store: MemoryStore | None = None,
    metrics: ScriptedMetrics | None = None,
    clock: MovingClock | None = None,
    settings: PipelineSettings | None = None,
    hooks: ChangeHooks | None = None,
    kits: Sequence[object] = (),
    replica_id: str = "replica-1",
) -> Services:
    cluster = cluster or ObjectCluster()
    memory = store or MemoryStore()
    kit = ChangesKit(settings=settings or PipelineSettings(), hooks=hooks or ChangeHooks())
    return Services(
        store=memory,
        lease=memory,
        clusters={cluster.name: cluster},  # type: ignore[dict-item]
        metrics={cluster.name: metrics} if metrics is not None else {},
        clock=clock or MovingClock(),
        version="0.1.0",
        replica_id=replica_id,
        kits=Kits([kit, *kits]),
    )


class ReplicaKilled(BaseException):
    """A replica stopped dead (SIGKILL): nothing after it runs, nothing is cleaned up —
    not even its work lease, which is left to expire."""


WRITES = ("create_object", "replace_object", "delete_object")


class KillAt:
    """A port (cluster or store) of a replica that is killed at its `at`-th counted call:
    before the call reaches the port, or (`landed`) right after it did. Calls counted:
    those to `methods`, dry runs excluded."""

    def __init__(
        self, inner: Any, at: int, methods: Sequence[str] = WRITES, landed: bool = False
    ) -> None:
        self.inner = inner
        self.at = at
        self.methods = tuple(methods)
        self.landed = landed
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name not in self.methods:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if kwargs.get("dry_run"):
                return attr(*args, **kwargs)
            self.calls += 1
            if self.calls == self.at and not self.landed:
                raise ReplicaKilled(f"killed before {name}")
            result = attr(*args, **kwargs)
            if self.calls == self.at:
                raise ReplicaKilled(f"killed after {name}")
            return result

        return call
