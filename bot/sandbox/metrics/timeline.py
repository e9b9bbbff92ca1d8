"""The scenario's events resolved into segments of constant state.

Counters are integrals of rates. Between two events every rate is constant, so the
integral is a sum over segments — exact, cheap and the same no matter when or how
often someone scrapes. This module turns the event list into those segments.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.sandbox.metrics.latency import LatencyDist
from bot.sandbox.metrics.scenario import Event, Node, Scenario, Service


@dataclass(frozen=True)
class ServiceState:
    rps: float
    latency: LatencyDist
    error_ratio: float
    edge_plaintext: tuple[float, ...]  # one per caller, in Service.callers order
    no_data: bool = False


@dataclass(frozen=True)
class NodeState:
    steal: float
    user: float
    system: float
    iowait: float
    no_data: bool = False

    def mode_fractions(self) -> dict[str, float]:
        """Share of each second a CPU spends per mode (sums to 1), as node_exporter counts."""
        busy = {
            "user": self.user / 100,
            "system": self.system / 100,
            "iowait": self.iowait / 100,
            "steal": self.steal / 100,
            "nice": 0.002,
            "irq": 0.003,
            "softirq": 0.005,
        }
        busy["idle"] = max(0.0, 1.0 - sum(busy.values()))
        return busy


@dataclass(frozen=True)
class Segment:
    start: float
    end: float  # math.inf for the last one
    services: dict[str, ServiceState]
    nodes: dict[str, NodeState]
    revisions: dict[str, str | None]  # service -> the Istio revision its proxies run


def initial_service_state(service: Service) -> ServiceState:
    return ServiceState(
        rps=service.rps,
        latency=service.latency,
        error_ratio=service.error_ratio,
        edge_plaintext=tuple(
            service.plaintext if c.plaintext is None else c.plaintext for c in service.callers
        ),
    )


def initial_node_state(node: Node) -> NodeState:
    return NodeState(steal=node.steal, user=node.user, system=node.system, iowait=node.iowait)


def apply_service_event(service: Service, state: ServiceState, event: Event) -> ServiceState:
    changes = event.changes
    base = service.latency
    p50, p99 = state.latency.p50, state.latency.p99
    if "latency_factor" in changes:
        factor = float(changes["latency_factor"])
        p50, p99 = base.p50 * factor, base.p99 * factor
    if "p50_factor" in changes:
        p50 = base.p50 * float(changes["p50_factor"])
    if "p99_factor" in changes:
        p99 = base.p99 * float(changes["p99_factor"])
    p50 = float(changes.get("p50_ms", p50))
    p99 = float(changes.get("p99_ms", p99))
    latency = state.latency
    if (p50, p99) != (state.latency.p50, state.latency.p99):
        latency = LatencyDist.from_percentiles(p50, max(p99, p50 * 1.01))
    rps = state.rps
    if "rps_factor" in changes:
        rps = service.rps * float(changes["rps_factor"])
    rps = float(changes.get("rps", rps))
    plaintext = state.edge_plaintext
    if "plaintext" in changes:
        value = float(changes["plaintext"])
        if event.caller is None:
            plaintext = tuple(value for _ in service.callers)
        else:
            plaintext = tuple(
                value if event.caller in (c.workload, c.service) else old
                for c, old in zip(service.callers, plaintext, strict=True)
            )
    return ServiceState(
        rps=rps,
        latency=latency,
        error_ratio=float(changes.get("error_ratio", state.error_ratio)),
        edge_plaintext=plaintext,
        no_data=bool(changes.get("no_data", state.no_data)),
    )


def apply_node_event(state: NodeState, event: Event) -> NodeState:
    changes = event.changes
    return NodeState(
        steal=float(changes.get("steal", state.steal)),
        user=float(changes.get("user", state.user)),
        system=float(changes.get("system", state.system)),
        iowait=float(changes.get("iowait", state.iowait)),
        no_data=bool(changes.get("no_data", state.no_data)),
    )


def segments(scenario: Scenario) -> list[Segment]:
    """Segments covering [0, inf); events at or before 0 shape the first one."""
    services = {s.name: initial_service_state(s) for s in scenario.services}
    nodes = {n.name: initial_node_state(n) for n in scenario.nodes}
    by_name = {s.name: s for s in scenario.services}
    revision_of = {s.name: s.revision for s in scenario.services}
    regressions: dict[str, dict[str, object]] = {}  # revision -> changes while on it
    starts = sorted({0.0, *(e.at for e in scenario.events if e.at > 0)})
    result: list[Segment] = []
    pending = list(scenario.events)  # already sorted by time
    for index, start in enumerate(starts):
        while pending and pending[0].at <= start:
            event = pending.pop(0)
            if event.service is not None:
                service = by_name[event.service]
                services[event.service] = apply_service_event(
                    service, services[event.service], event
                )
            elif event.node is not None:
                nodes[event.node] = apply_node_event(nodes[event.node], event)
            elif event.namespace is not None:
                for name, service in by_name.items():
                    if service.namespace == event.namespace and revision_of[name] is not None:
                        revision_of[name] = str(event.changes["revision"])
            elif event.revision is not None:
                regressions[event.revision] = {
                    **regressions.get(event.revision, {}),
                    **event.changes,
                }
        end = starts[index + 1] if index + 1 < len(starts) else float("inf")
        effective = {
            name: _on_revision(by_name[name], state, regressions.get(revision_of[name] or ""))
            for name, state in services.items()
        }
        result.append(
            Segment(
                start=start,
                end=end,
                services=effective,
                nodes=dict(nodes),
                revisions=dict(revision_of),
            )
        )
    return result


def _on_revision(
    service: Service, state: ServiceState, regression: dict[str, object] | None
) -> ServiceState:
    """A revision's regression applies on top of the service's own state while it runs it."""
    if not regression:
        return state
    return apply_service_event(service, state, Event(at=0.0, changes=dict(regression)))
