"""The series a scenario produces, and their values at any simulated second.

Each *group* is one source of samples that share a lifecycle: an edge of the call
graph as seen by one reporter, or one node. For every timeline segment a group has
a vector of rates (one per sample); the value at time t is the prefix sum of
earlier segments plus the current rate times the time spent in the current one.
Counts are floored to whole requests (CPU seconds to 1/100 s, node_exporter's
resolution) so counters look like real ones and stay monotone.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass

from bot.sandbox.metrics.exposition import Family, format_labels, format_le
from bot.sandbox.metrics.latency import ISTIO_DURATION_BUCKETS_MS
from bot.sandbox.metrics.scenario import Caller, Node, Scenario, Service
from bot.sandbox.metrics.timeline import NodeState, Segment, ServiceState, segments

REQUESTS = Family("istio_requests_total", "istio_requests", "counter", "Total requests.")
DURATION = Family(
    "istio_request_duration_milliseconds",
    "istio_request_duration_milliseconds",
    "histogram",
    "Request duration in milliseconds.",
)
TCP_OPENED = Family(
    "istio_tcp_connections_opened_total",
    "istio_tcp_connections_opened",
    "counter",
    "Total TCP connections opened.",
)
NODE_CPU = Family(
    "node_cpu_seconds_total",
    "node_cpu_seconds",
    "counter",
    "Seconds the CPUs spent in each mode.",
)
NODE_UNAME = Family(
    "node_uname_info",
    "node_uname_info",
    "gauge",
    "Labeled system information as provided by the uname system call.",
)
NODE_CPU_FLAG = Family(
    "node_cpu_flag_info", "node_cpu_flag_info", "gauge", "The `flags` field of /proc/cpuinfo."
)
BUILD = Family("istio_build", "istio_build", "gauge", "Istio component build info")
FAMILIES: tuple[Family, ...] = (
    REQUESTS,
    DURATION,
    TCP_OPENED,
    NODE_CPU,
    NODE_UNAME,
    NODE_CPU_FLAG,
    BUILD,
)

CPU_MODES = ("idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user")
NODE_UPTIME_S = 3 * 86400.0  # counters of a node booted three days before the scenario starts
REQUEST = 1.0
CENTISECOND = 0.01


@dataclass(frozen=True)
class Unit:
    """One metric series (or one histogram series with its buckets, sum and count)."""

    family: Family
    names: tuple[str, ...]  # preformatted ``name{labels}`` per sample
    slots: tuple[int, ...]  # indices into the group's value vector
    presence_slot: int | None  # series exists once this count reaches 1; None = always


@dataclass
class Group:
    """Samples from one source whose rates change only at segment boundaries."""

    units: list[Unit]
    starts: list[float]
    rates: list[list[float]]  # per segment, per slot
    present: list[bool]  # per segment: the source emits at all
    prefix: list[list[float]]  # value at each segment start
    quantum: list[float]  # per slot; 0 = no rounding

    def values_at(self, t: float) -> list[float] | None:
        """Every slot's value at ``t`` seconds, or None while the source emits nothing."""
        t = max(0.0, t)
        index = bisect.bisect_right(self.starts, t) - 1
        if not self.present[index]:
            return None
        elapsed = t - self.starts[index]
        values = []
        for base, rate, step in zip(
            self.prefix[index], self.rates[index], self.quantum, strict=True
        ):
            value = base + rate * elapsed
            values.append(math.floor(value / step + 1e-9) * step if step else value)
        return values

    def lines_by_family(self, values: list[float]) -> dict[Family, list[tuple[Unit, list[float]]]]:
        result: dict[Family, list[tuple[Unit, list[float]]]] = {}
        for unit in self.units:
            if unit.presence_slot is not None and values[unit.presence_slot] < 1:
                continue
            result.setdefault(unit.family, []).append((unit, [values[s] for s in unit.slots]))
        return result


class _Builder:
    """Collects units and their per-segment rate functions, then integrates them."""

    def __init__(self) -> None:
        self.units: list[Unit] = []
        self.rate_fns: list[Callable[[Segment], float]] = []
        self.quantum: list[float] = []
        self.initial: list[float] = []

    def slot(self, rate: Callable[[Segment], float], quantum: float, initial: float = 0.0) -> int:
        self.rate_fns.append(rate)
        self.quantum.append(quantum)
        self.initial.append(initial)
        return len(self.rate_fns) - 1

    def build(self, segs: list[Segment], present: Callable[[Segment], bool]) -> Group:
        rates = [[fn(seg) if present(seg) else 0.0 for fn in self.rate_fns] for seg in segs]
        prefix = [list(self.initial)]
        for seg, seg_rates in zip(segs[:-1], rates[:-1], strict=True):
            length = seg.end - seg.start
            prefix.append([p + r * length for p, r in zip(prefix[-1], seg_rates, strict=True)])
        return Group(
            units=self.units,
            starts=[s.start for s in segs],
            rates=rates,
            present=[present(s) for s in segs],
            prefix=prefix,
            quantum=self.quantum,
        )


def _principal(namespace: str, workload: str) -> str:
    return f"spiffe://cluster.local/ns/{namespace}/sa/{workload}"


def _source_labels(caller: Caller, scenario: Scenario) -> dict[str, str]:
    if not caller.in_mesh:
        return dict.fromkeys(
            (
                "source_workload",
                "source_canonical_service",
                "source_canonical_revision",
                "source_workload_namespace",
                "source_principal",
                "source_app",
                "source_version",
                "source_cluster",
            ),
            "unknown",
        )
    linked = scenario.service(caller.service) if caller.service else None
    app = linked.app if linked else caller.workload
    version = linked.version if linked else "unknown"
    return {
        "source_workload": caller.workload,
        "source_canonical_service": app,
        "source_canonical_revision": version if linked else "latest",
        "source_workload_namespace": caller.namespace,
        "source_principal": _principal(caller.namespace, caller.workload),
        "source_app": app,
        "source_version": version,
        "source_cluster": "Kubernetes",
    }


def _edge_labels(
    scenario: Scenario, service: Service, caller: Caller, reporter: str, secure: bool
) -> dict[str, str]:
    """Istio's standard label set, in the order Envoy writes it (codes added later)."""
    source = _source_labels(caller, scenario)
    if not secure:
        source["source_principal"] = "unknown"
    if reporter == "source" and caller.in_mesh:
        source["source_principal"] = _principal(caller.namespace, caller.workload)
    return {
        "reporter": reporter,
        **source,
        "destination_workload": service.workload,
        "destination_workload_namespace": service.namespace,
        "destination_principal": _principal(service.namespace, service.workload)
        if secure
        else "unknown",
        "destination_app": service.app,
        "destination_version": service.version,
        "destination_service": service.host,
        "destination_canonical_service": service.app,
        "destination_canonical_revision": service.version,
        "destination_service_name": service.name,
        "destination_service_namespace": service.namespace,
        "destination_cluster": "Kubernetes",
        "request_protocol": service.protocol,
    }


def _edge_group(
    scenario: Scenario, service: Service, index: int, reporter: str, segs: list[Segment]
) -> Group:
    caller = service.callers[index]
    builder = _Builder()

    def state(seg: Segment) -> ServiceState:
        return seg.services[service.name]

    def share(secure: bool, code_ok: bool | None) -> Callable[[Segment], float]:
        def rate(seg: Segment) -> float:
            st = state(seg)
            plain = st.edge_plaintext[index]
            value = st.rps * caller.share * (plain if not secure else 1.0 - plain)
            if code_ok is not None:
                value *= 1.0 - st.error_ratio if code_ok else st.error_ratio
            return value

        return rate

    for secure in (True, False):
        labels = _edge_labels(scenario, service, caller, reporter, secure)
        policy = ("mutual_tls" if secure else "none") if reporter == "destination" else "unknown"
        if service.protocol == "tcp":
            tcp = {**labels, "response_flags": "-", "connection_security_policy": policy}
            slot = builder.slot(share(secure, None), REQUEST)
            name = TCP_OPENED.name + format_labels(tcp.items())
            builder.units.append(Unit(TCP_OPENED, (name,), (slot,), slot))
            continue
        for code_ok in (True, False):
            _request_units(builder, service, labels, policy, code_ok, share(secure, code_ok))
    return builder.build(segs, lambda seg: not state(seg).no_data)


def _request_units(
    builder: _Builder,
    service: Service,
    labels: dict[str, str],
    policy: str,
    code_ok: bool,
    rate: Callable[[Segment], float],
) -> None:
    full = {**labels, "response_code": "200" if code_ok else "503"}
    if service.protocol == "grpc":
        full["grpc_response_status"] = "0" if code_ok else "14"
    full["response_flags"] = "-"
    full["connection_security_policy"] = policy
    items = list(full.items())
    count = builder.slot(rate, REQUEST)
    builder.units.append(Unit(REQUESTS, (REQUESTS.name + format_labels(items),), (count,), count))

    def bucket_rate(bound: float) -> Callable[[Segment], float]:
        return lambda seg: rate(seg) * seg.services[service.name].latency.cdf(bound)

    names, slots = [], []
    for bound in (*ISTIO_DURATION_BUCKETS_MS, math.inf):
        le = [*items, ("le", format_le(bound))]
        names.append(f"{DURATION.name}_bucket{format_labels(le)}")
        slots.append(builder.slot(bucket_rate(bound), REQUEST))
    names.append(f"{DURATION.name}_sum{format_labels(items)}")
    slots.append(builder.slot(lambda seg: rate(seg) * seg.services[service.name].latency.mean, 0.0))
    names.append(f"{DURATION.name}_count{format_labels(items)}")
    slots.append(builder.slot(rate, REQUEST))
    builder.units.append(Unit(DURATION, tuple(names), tuple(slots), slots[-1]))


def _mode_rate(node: str, mode: str) -> Callable[[Segment], float]:
    return lambda seg: seg.nodes[node].mode_fractions()[mode]


def _node_group(node: Node, segs: list[Segment]) -> Group:
    builder = _Builder()

    def state(seg: Segment) -> NodeState:
        return seg.nodes[node.name]

    first = state(segs[0]).mode_fractions()
    for cpu in range(node.cpus):
        for mode in CPU_MODES:
            labels = (
                ("cpu", str(cpu)),
                ("instance", node.instance),
                ("mode", mode),
                ("node", node.name),
            )
            slot = builder.slot(
                _mode_rate(node.name, mode),
                CENTISECOND,
                initial=NODE_UPTIME_S * first[mode],
            )
            builder.units.append(
                Unit(NODE_CPU, (NODE_CPU.name + format_labels(labels),), (slot,), None)
            )
    uname = (
        ("domainname", "(none)"),
        ("instance", node.instance),
        ("machine", node.arch),
        ("node", node.name),
        ("nodename", node.name),
        ("release", node.kernel),
        ("sysname", "Linux"),
        ("version", "#1 SMP PREEMPT_DYNAMIC Debian"),
    )
    slot = builder.slot(lambda seg: 0.0, 0.0, initial=1.0)
    builder.units.append(Unit(NODE_UNAME, (NODE_UNAME.name + format_labels(uname),), (slot,), None))
    if node.flags is not None:
        flags = sorted(set(node.flags) | ({"hypervisor"} if node.hypervisor else set()))
        for flag in flags:
            flag_labels = (("flag", flag), ("instance", node.instance), ("node", node.name))
            name = NODE_CPU_FLAG.name + format_labels(flag_labels)
            builder.units.append(Unit(NODE_CPU_FLAG, (name,), (slot,), None))
    return builder.build(segs, lambda seg: not state(seg).no_data)


def build_groups(scenario: Scenario) -> list[Group]:
    """All sample groups of a scenario, integrated over its timeline."""
    segs = segments(scenario)
    groups = []
    for service in scenario.services:
        for index, caller in enumerate(service.callers):
            for reporter in scenario.reporters:
                if reporter == "source" and not caller.in_mesh:
                    continue  # a client without a sidecar reports nothing
                groups.append(_edge_group(scenario, service, index, reporter, segs))
    groups.extend(_node_group(node, segs) for node in scenario.nodes)
    for service in scenario.services:
        for revision in sorted(scenario.revisions) if service.revision is not None else ():
            groups.append(_build_group(scenario, service, revision, segs))
    return groups


def _build_group(scenario: Scenario, service: Service, revision: str, segs: list[Segment]) -> Group:
    """istio_build{component="proxy"} as the service's proxies report it while on ``revision``
    (Envoy emits it per proxy; Prometheus adds the pod's namespace and app labels)."""
    builder = _Builder()
    labels = (
        ("app", service.app),
        ("component", "proxy"),
        ("namespace", service.namespace),
        ("pod", f"{service.workload}-0"),
        ("tag", scenario.revisions[revision]),
    )
    slot = builder.slot(lambda seg: 0.0, 0.0, initial=1.0)
    builder.units.append(Unit(BUILD, (BUILD.name + format_labels(labels),), (slot,), None))
    return builder.build(
        segs,
        lambda seg: (
            seg.revisions[service.name] == revision and not seg.services[service.name].no_data
        ),
    )
