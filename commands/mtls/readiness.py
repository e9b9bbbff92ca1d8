"""Readiness facts from traffic, and the gates they make: the evidence behind "ready".

"No plaintext in the last hour" is only true if there is an hour of data: a fresh
Prometheus has seconds, and `increase(…[1h])` quietly answers over what exists. So
besides the inbound totals and the plaintext edges (four queries for every namespace at
once) we ask how far back each namespace's inbound series go (commands.core.evidence),
and a namespace whose data does not cover the whole readiness window is not ready:
"not enough history: data covers 12 s of the 1 h window". Plaintext seen is a failure
whatever the history: evidence of plaintext needs no full window.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from commands.changes.model import Gate, GateStatus
from commands.core.errors import MetricsUnavailable
from commands.core.evidence import History, duration_text, read_histories
from commands.core.ports import Metrics
from commands.core.wording import count, listing, number
from commands.mtls.model import MtlsSettings, NamespaceMtls, PeerAuth, PlaintextEdge, Traffic
from commands.mtls.policy import coverage, effective_mode
from commands.mtls.queries import (
    inbound_connections,
    inbound_requests,
    inbound_selector,
    plaintext_connections,
    plaintext_requests,
)

JSON = Any
PLAINTEXT_EPSILON = 0.5  # increase() extrapolates; under half a request is no request
NAMESPACE_LABEL = "destination_workload_namespace"


def empty_traffic(traffic: dict[str, Traffic]) -> Traffic:
    """A namespace no series mentions: no traffic (or the error every namespace shares)."""
    error = next((t.error for t in traffic.values() if t.error), None)
    return Traffic(None if error else 0.0, (), error)


def read_traffic(
    metrics: Metrics | None, settings: MtlsSettings, namespace: str | None, now: float
) -> dict[str, Traffic]:
    """Per destination namespace: inbound requests + connections, plaintext edges, and
    how much of the readiness window its data covers."""
    if metrics is None:
        return {"": Traffic(None, (), "no Prometheus is configured for this cluster")}
    window = settings.readiness_window_s
    try:
        totals: dict[str, float] = {}
        for query in (inbound_requests(window, namespace), inbound_connections(window, namespace)):
            for s in metrics.query(query):
                ns = s.labels.get(NAMESPACE_LABEL, "")
                totals[ns] = totals.get(ns, 0.0) + s.value
        edges: dict[tuple[str, str], list[float]] = {}
        for index, query in enumerate(
            (plaintext_requests(window, namespace), plaintext_connections(window, namespace))
        ):
            for s in metrics.query(query):
                if s.value < PLAINTEXT_EPSILON:
                    continue
                src_ns = s.labels.get("source_workload_namespace", "unknown")
                src = s.labels.get("source_workload", "unknown")
                source = "outside the mesh" if src == "unknown" else f"{src_ns}/{src}"
                dest = (
                    f"{s.labels.get(NAMESPACE_LABEL, '?')}/"
                    f"{s.labels.get('destination_workload', '?')}"
                )
                edges.setdefault((source, dest), [0.0, 0.0])[index] += s.value
        histories = read_histories(
            metrics, inbound_selector(namespace), window, now, by=(NAMESPACE_LABEL,)
        )
    except MetricsUnavailable as exc:
        return {"": Traffic(None, (), str(exc))}
    result: dict[str, Traffic] = {}
    for ns in set(totals) | {d.split("/")[0] for _, d in edges}:
        plain = tuple(
            PlaintextEdge(src, dest, counts[0], counts[1])
            for (src, dest), counts in sorted(edges.items())
            if dest.split("/")[0] == ns
        )
        history = histories.get((ns,), History(window, None))
        result[ns] = Traffic(totals.get(ns, 0.0), plain, history=history)
    return result


def namespace_report(
    namespace: str,
    policies: Sequence[PeerAuth],
    pods: Sequence[JSON],
    traffic: Traffic,
    settings: MtlsSettings,
) -> NamespaceMtls:
    effective = effective_mode(policies, namespace, settings.root_namespace)
    cover = coverage(pods)
    return NamespaceMtls(
        namespace, effective, cover, traffic, gates(effective, cover, traffic, settings)
    )


def gates(effective: Any, cover: Any, traffic: Traffic, settings: MtlsSettings) -> tuple[Gate, ...]:
    window = duration_text(settings.readiness_window_s)
    if effective.conflicts:
        policy = Gate("policy", GateStatus.FAIL, "; ".join(effective.conflicts))
    else:
        policy = Gate("policy", GateStatus.PASS, f"{effective.mode} from {effective.source}")
    missing = len(cover.without_sidecar)
    if missing:
        verb = "has" if missing == 1 else "have"
        sidecars = Gate(
            "sidecars",
            GateStatus.FAIL,
            f"{missing} of {count(cover.pods, 'pod')} {verb} no istio-proxy: "
            f"{listing(cover.without_sidecar, shown=5)}",
        )
    elif cover.pods == 0:
        sidecars = Gate("sidecars", GateStatus.PASS, "no pods yet")
    else:
        every = "its only pod has" if cover.pods == 1 else f"all {count(cover.pods, 'pod')} have"
        sidecars = Gate("sidecars", GateStatus.PASS, f"{every} istio-proxy")
    return (policy, sidecars, plaintext_gate(traffic, settings, window))


def plaintext_gate(traffic: Traffic, settings: MtlsSettings, window: str) -> Gate:
    if traffic.error or traffic.total is None:
        return Gate("plaintext", GateStatus.UNKNOWN, traffic.error or "no traffic data")
    if traffic.plaintext:
        requests = number(round(sum(e.requests for e in traffic.plaintext)))
        conns = number(round(sum(e.connections for e in traffic.plaintext)))
        worst = ", ".join(f"{e.source} → {e.destination}" for e in traffic.plaintext[:5])
        return Gate(
            "plaintext",
            GateStatus.FAIL,
            f"{requests} plaintext requests and {conns} connections in the last {window}: {worst}",
        )
    seen = number(round(traffic.total))
    history = traffic.history
    if traffic.total > 0 and history is not None and not history.complete:
        return Gate(
            "plaintext",
            GateStatus.UNKNOWN,
            f"{history.shortfall()} ({seen} requests and connections seen, none in plaintext)",
        )
    if traffic.total < settings.min_requests:
        return Gate(
            "plaintext",
            GateStatus.UNKNOWN,
            f"not enough traffic to judge: {seen} requests and connections in the last "
            f"{window}, need at least {number(round(settings.min_requests))}",
        )
    return Gate(
        "plaintext",
        GateStatus.PASS,
        f"no plaintext among {seen} requests and connections in the last {window}",
    )
