"""Scenario files: what the simulated mesh and its nodes look like, and what happens when.

A scenario is the single input of the simulator, the live exporter and the history
writer, so a test, a benchmark and the demo all describe a situation once, in YAML,
and get the same numbers from each. Loading validates everything up front (unknown
keys, unknown services in events, impossible percentages) so a typo fails loudly
instead of producing a quiet, healthy-looking mesh.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.sandbox.metrics.latency import LatencyDist

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}

SERVICE_EVENT_KEYS = frozenset(
    {
        "p99_factor",
        "p50_factor",
        "latency_factor",
        "p50_ms",
        "p99_ms",
        "error_ratio",
        "plaintext",
        "rps",
        "rps_factor",
        "no_data",
    }
)
NODE_EVENT_KEYS = frozenset({"steal", "user", "system", "iowait", "no_data"})
PROTOCOLS = frozenset({"http", "grpc", "tcp"})
UNKNOWN = "unknown"


def parse_duration(value: Any) -> float:
    """Seconds from ``90``, ``"90s"``, ``"1.5m"``, ``"2h"`` or ``"500ms"``."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30, '30s', '5m', '2h')")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def _check_keys(where: str, data: dict[str, Any], allowed: set[str] | frozenset[str]) -> None:
    unknown = set(data) - set(allowed)
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")


def _fraction(where: str, value: Any) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{where}: must be between 0 and 1, got {value!r}")
    return number


def _percent(where: str, value: Any) -> float:
    number = float(value)
    if not 0.0 <= number <= 100.0:
        raise ValueError(f"{where}: must be a percentage 0..100, got {value!r}")
    return number


@dataclass(frozen=True)
class Caller:
    """One call-graph edge into a service: who calls it, with which share of its traffic."""

    workload: str
    namespace: str
    share: float
    service: str | None = None  # set when the caller is a service of the scenario
    plaintext: float | None = None  # per-edge plaintext share; None = the service's

    @property
    def in_mesh(self) -> bool:
        return self.workload != UNKNOWN

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.workload}"


@dataclass(frozen=True)
class Service:
    name: str
    namespace: str
    workload: str
    app: str
    version: str
    protocol: str
    rps: float
    latency: LatencyDist
    error_ratio: float
    plaintext: float
    callers: tuple[Caller, ...]
    revision: str | None = None  # the Istio revision its pods' proxies run (see Scenario)

    @property
    def host(self) -> str:
        return f"{self.name}.{self.namespace}.svc.cluster.local"


@dataclass(frozen=True)
class Node:
    name: str
    instance: str
    cpus: int
    steal: float  # percent
    user: float
    system: float
    iowait: float
    flags: tuple[str, ...] | None  # None = the node exposes no cpu flag info
    hypervisor: bool
    kernel: str
    arch: str


@dataclass(frozen=True)
class Event:
    """A change at ``at`` seconds: for one service (optionally one caller edge) or one node."""

    at: float
    changes: dict[str, Any]
    service: str | None = None
    node: str | None = None
    caller: str | None = None  # caller workload (or service) name, for per-edge plaintext
    # With service changes: they hold for every service while its pods run this revision.
    revision: str | None = None
    # With {"revision": R}: the namespace's services move to revision R (a restarted wave).
    namespace: str | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    services: tuple[Service, ...]
    nodes: tuple[Node, ...]
    events: tuple[Event, ...] = ()
    reporters: tuple[str, ...] = ("destination", "source")
    description: str = ""
    duration: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Istio revision -> proxy version (istio_build's tag), e.g. {default: 1.29.6}.
    revisions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path_or_text: str | Path) -> Scenario:
        """Load from a file path, or from YAML text (anything containing a newline or colon)."""
        text = str(path_or_text)
        if isinstance(path_or_text, Path) or ("\n" not in text and Path(text).is_file()):
            text = Path(text).read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        if not isinstance(data, dict):
            raise ValueError("a scenario is a YAML mapping with services, nodes and events")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scenario:
        _check_keys(
            "scenario",
            data,
            {
                "name",
                "description",
                "duration",
                "reporters",
                "services",
                "nodes",
                "events",
                "revisions",
            },
        )
        revisions = {str(k): str(v) for k, v in (data.get("revisions") or {}).items()}
        raw_services = data.get("services") or []
        services = tuple(_with_revision(_service(s), revisions) for s in raw_services)
        names = [s.name for s in services]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate service names in {names}")
        services = tuple(_link_callers(s, services) for s in services)
        nodes = tuple(_node(n) for n in data.get("nodes") or [])
        if len({n.name for n in nodes}) != len(nodes):
            raise ValueError("duplicate node names")
        if len({n.instance for n in nodes}) != len(nodes):
            raise ValueError("duplicate node instances")
        events = tuple(
            sorted(
                (_event(e, services, nodes, revisions) for e in data.get("events") or []),
                key=lambda e: e.at,
            )
        )
        reporters = tuple(data.get("reporters") or ("destination", "source"))
        if not set(reporters) <= {"destination", "source"} or not reporters:
            raise ValueError(f"reporters must be destination and/or source, got {reporters}")
        duration = data.get("duration")
        return cls(
            name=str(data.get("name", "scenario")),
            description=str(data.get("description", "")),
            duration=None if duration is None else parse_duration(duration),
            reporters=reporters,
            services=services,
            nodes=nodes,
            events=events,
            revisions=revisions,
        )

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def with_event(self, event: Event) -> Scenario:
        """A copy with one more event (validated like the loaded ones)."""
        raw: dict[str, Any] = {"at": event.at, **event.changes}
        for key in ("service", "node", "caller", "revision", "namespace"):
            if getattr(event, key) is not None:
                raw[key] = getattr(event, key)
        checked = _event(raw, self.services, self.nodes, self.revisions)
        events = tuple(sorted((*self.events, checked), key=lambda e: e.at))
        return dataclasses.replace(self, events=events)


_SERVICE_KEYS = {
    "name",
    "namespace",
    "workload",
    "app",
    "version",
    "protocol",
    "rps",
    "latency",
    "error_ratio",
    "plaintext",
    "callers",
    "revision",
}


def _latency(where: str, raw: Any) -> LatencyDist:
    raw = raw or {"p50_ms": 10, "p99_ms": 50}
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: latency is a mapping (p50_ms/p99_ms or mu/sigma)")
    _check_keys(f"{where}.latency", raw, {"p50_ms", "p99_ms", "mu", "sigma"})
    if "mu" in raw or "sigma" in raw:
        if float(raw.get("sigma", 0)) <= 0:
            raise ValueError(f"{where}: lognormal latency needs mu and sigma > 0")
        return LatencyDist(mu=float(raw["mu"]), sigma=float(raw["sigma"]))
    return LatencyDist.from_percentiles(float(raw["p50_ms"]), float(raw["p99_ms"]))


def _service(raw: dict[str, Any]) -> Service:
    if "name" not in raw:
        raise ValueError(f"a service needs a name: {raw!r}")
    where = f"service {raw['name']}"
    _check_keys(where, raw, _SERVICE_KEYS)
    protocol = str(raw.get("protocol", "http"))
    if protocol not in PROTOCOLS:
        raise ValueError(f"{where}: protocol must be one of {sorted(PROTOCOLS)}")
    rps = float(raw.get("rps", 10))
    if rps < 0:
        raise ValueError(f"{where}: rps must be >= 0")
    namespace = str(raw.get("namespace", "default"))
    callers: list[Caller] = []
    for item in raw.get("callers") or []:
        _check_keys(
            f"{where}.callers", item, {"service", "workload", "namespace", "share", "plaintext"}
        )
        plaintext = item.get("plaintext")
        callers.append(
            Caller(
                workload=str(item.get("workload") or item.get("service") or UNKNOWN),
                namespace=str(item.get("namespace", namespace)),
                share=_fraction(f"{where}.callers.share", item.get("share", 1.0)),
                service=item.get("service"),
                plaintext=None if plaintext is None else _fraction(f"{where}.plaintext", plaintext),
            )
        )
    total = sum(c.share for c in callers)
    if total > 1.0 + 1e-9:
        raise ValueError(f"{where}: caller shares add up to {total:.3f} > 1")
    callers = [
        dataclasses.replace(c, namespace=UNKNOWN) if c.workload == UNKNOWN else c for c in callers
    ]
    if total < 1.0 - 1e-9:  # the rest comes from outside the mesh
        callers.append(Caller(workload=UNKNOWN, namespace=UNKNOWN, share=1.0 - total))
    if len({c.key for c in callers}) != len(callers):
        raise ValueError(f"{where}: the same caller is listed twice")
    return Service(
        name=str(raw["name"]),
        namespace=namespace,
        workload=str(raw.get("workload", raw["name"])),
        app=str(raw.get("app", raw["name"])),
        version=str(raw.get("version", "v1")),
        protocol=protocol,
        rps=rps,
        latency=_latency(where, raw.get("latency")),
        error_ratio=_fraction(f"{where}.error_ratio", raw.get("error_ratio", 0.0)),
        plaintext=_fraction(f"{where}.plaintext", raw.get("plaintext", 0.0)),
        callers=tuple(callers),
        revision=None if raw.get("revision") is None else str(raw["revision"]),
    )


def _with_revision(service: Service, revisions: dict[str, str]) -> Service:
    """Services run the ``default`` revision unless they say otherwise (when any are known)."""
    if not revisions:
        if service.revision is not None:
            raise ValueError(f"service {service.name}: revision given but no 'revisions' map")
        return service
    revision = service.revision or "default"
    if revision not in revisions:
        raise ValueError(f"service {service.name}: unknown revision {revision!r}")
    return dataclasses.replace(service, revision=revision)


def _link_callers(service: Service, services: tuple[Service, ...]) -> Service:
    """Resolve ``service:`` callers to that service's workload and namespace."""
    by_name = {s.name: s for s in services}
    linked = []
    for caller in service.callers:
        if caller.service is not None:
            if caller.service not in by_name:
                raise ValueError(f"service {service.name}: unknown caller service {caller.service}")
            source = by_name[caller.service]
            caller = Caller(
                workload=source.workload,
                namespace=source.namespace,
                share=caller.share,
                service=caller.service,
                plaintext=caller.plaintext,
            )
        linked.append(caller)
    return dataclasses.replace(service, callers=tuple(linked))


def _node(raw: dict[str, Any]) -> Node:
    if "name" not in raw:
        raise ValueError(f"a node needs a name: {raw!r}")
    where = f"node {raw['name']}"
    _check_keys(
        where,
        raw,
        {
            "name",
            "instance",
            "cpus",
            "steal",
            "user",
            "system",
            "iowait",
            "flags",
            "hypervisor",
            "kernel",
            "arch",
        },
    )
    node = Node(
        name=str(raw["name"]),
        instance=str(raw.get("instance", f"{raw['name']}:9100")),
        cpus=int(raw.get("cpus", 4)),
        steal=_percent(f"{where}.steal", raw.get("steal", 0.0)),
        user=_percent(f"{where}.user", raw.get("user", 20.0)),
        system=_percent(f"{where}.system", raw.get("system", 5.0)),
        iowait=_percent(f"{where}.iowait", raw.get("iowait", 0.5)),
        flags=None if raw.get("flags") is None else tuple(str(f) for f in raw["flags"]),
        hypervisor=bool(raw.get("hypervisor", False)),
        kernel=str(raw.get("kernel", "6.1.0-21-amd64")),
        arch=str(raw.get("arch", "x86_64")),
    )
    if node.cpus < 1:
        raise ValueError(f"{where}: cpus must be >= 1")
    _check_busy(where, node.steal, node.user, node.system, node.iowait)
    return node


def _check_busy(where: str, *percents: float) -> None:
    if sum(percents) + 2.0 > 100.0:  # irq, softirq and nice take about 2 %
        raise ValueError(f"{where}: steal+user+system+iowait leave no idle time")


def _revision_event(at: float, raw: dict[str, Any], revisions: dict[str, str]) -> Event:
    """``{namespace: N, revision: R}`` moves N to R; ``{revision: R, p99_factor: …}`` is a
    regression of every service while it runs R."""
    revision = str(raw["revision"])
    if revision not in revisions:
        raise ValueError(f"event at {at}s: unknown revision {revision!r} (see 'revisions')")
    changes = {k: v for k, v in raw.items() if k not in {"at", "revision", "namespace"}}
    if "namespace" in raw:
        if changes:
            raise ValueError(f"event at {at}s: a namespace move changes only the revision")
        return Event(at=at, changes={"revision": revision}, namespace=str(raw["namespace"]))
    if not changes:
        raise ValueError(f"an event changes something: {raw!r}")
    _check_keys(f"event at {at}s for revision {revision}", changes, SERVICE_EVENT_KEYS)
    _validate_service_changes(f"event at {at}s for revision {revision}", changes)
    return Event(at=at, changes=changes, revision=revision)


def _event(
    raw: dict[str, Any],
    services: tuple[Service, ...],
    nodes: tuple[Node, ...],
    revisions: dict[str, str] | None = None,
) -> Event:
    if "at" not in raw:
        raise ValueError(f"an event needs 'at': {raw!r}")
    at = parse_duration(raw["at"])
    if "revision" in raw and "service" not in raw and "node" not in raw:
        return _revision_event(at, raw, revisions or {})
    changes = {k: v for k, v in raw.items() if k not in {"at", "service", "node", "caller"}}
    if ("service" in raw) == ("node" in raw):
        raise ValueError(f"an event names exactly one service, node or revision: {raw!r}")
    if not changes:
        raise ValueError(f"an event changes something: {raw!r}")
    if "service" in raw:
        name = str(raw["service"])
        matching = [s for s in services if s.name == name]
        if not matching:
            raise ValueError(f"event at {at}s: unknown service {name}")
        _check_keys(f"event at {at}s for {name}", changes, SERVICE_EVENT_KEYS)
        caller = raw.get("caller")
        if caller is not None:
            names = {c.workload for c in matching[0].callers} | {
                c.service for c in matching[0].callers if c.service
            }
            if str(caller) not in names or set(changes) != {"plaintext"}:
                raise ValueError(
                    f"event at {at}s: a 'caller' event changes only plaintext of a known caller"
                )
        _validate_service_changes(f"event at {at}s for {name}", changes)
        return Event(
            at=at, changes=changes, service=name, caller=None if caller is None else str(caller)
        )
    name = str(raw["node"])
    if name not in {n.name for n in nodes}:
        raise ValueError(f"event at {at}s: unknown node {name}")
    _check_keys(f"event at {at}s for {name}", changes, NODE_EVENT_KEYS)
    for key in ("steal", "user", "system", "iowait"):
        if key in changes:
            _percent(f"event at {at}s: {key}", changes[key])
    return Event(at=at, changes=changes, node=name)


def _validate_service_changes(where: str, changes: dict[str, Any]) -> None:
    for key in ("error_ratio", "plaintext"):
        if key in changes:
            _fraction(f"{where}: {key}", changes[key])
    for key in ("p99_factor", "p50_factor", "latency_factor", "p50_ms", "p99_ms", "rps_factor"):
        if key in changes and float(changes[key]) <= 0:
            raise ValueError(f"{where}: {key} must be > 0")
    if "rps" in changes and float(changes["rps"]) < 0:
        raise ValueError(f"{where}: rps must be >= 0")
