"""Step 1 of a watcher cycle: every subject's reading from Prometheus, or why it is blind.

Why this exists: the cost of watching must grow as little as possible with the mesh, so
a cycle never sends a query per service: ONE for every service's request rate, the p99
screened from two buckets per service with the exact p99 measured only for the services
screening cannot clear and those with an open alert (commands.watch.screening), ONE for
every node's steal; then it turns the answers into readings the rules judge. An
unreachable Prometheus, or answers with no data at all, make the cluster *blind*: the
cycle then decides no alert (never a false one) and says so once (commands.watch.blind).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from commands.core.errors import MetricsUnavailable
from commands.core.ports import Metrics
from commands.watch.alerts import fingerprint
from commands.watch.commands import LatencyPolicy, StealPolicy, WatchPolicy
from commands.watch.queries import (
    ServiceLatency,
    latency_query,
    parse_latency,
    parse_steal,
    rate_expr,
    steal_query,
    tagged,
)
from commands.watch.recording import recorded_latency_query
from commands.watch.rules import Reading, RuleSpec, latency_reading, steal_reading
from commands.watch.screening import (
    MAX_MEASURED,
    Layout,
    bounds_of,
    buckets_query,
    layout_query,
    parse_buckets,
    parse_layout,
    screen,
)

NO_DATA = "Prometheus answered, but with no data for any service or node"
RECORDED_HINT = (
    "; watchers.latency.recorded is on: is the rule file of `/mesh watch rules` loaded "
    "into this Prometheus?"
)


@dataclass(frozen=True)
class Subject:
    """One thing a rule judges this cycle: a service's p99 or a node's steal."""

    rule: str
    name: str
    reading: Reading
    unit: str
    spec: RuleSpec


@dataclass(frozen=True)
class Answer:
    subjects: list[Subject]
    answered: bool  # Prometheus returned at least one series


def read(
    policy: WatchPolicy, metrics: Metrics, open_alerts: Collection[str] = ()
) -> tuple[list[Subject], str | None]:
    """Every subject's reading, or why the cluster is blind. `open_alerts`: fingerprints
    of the unfinished alerts, whose services are always measured exactly."""
    subjects: list[Subject] = []
    answered = False
    try:
        latency_answer = latency(
            policy.latency,
            metrics,
            lambda host: fingerprint(policy.cluster, "latency", host) in open_alerts,
        )
        for answer in (latency_answer, steal(policy.steal, metrics)):
            subjects += answer.subjects
            answered |= answer.answered
    except MetricsUnavailable as exc:
        return [], str(exc)
    if not answered:
        if policy.latency is not None and policy.latency.recorded:
            return [], NO_DATA + RECORDED_HINT
        return [], NO_DATA
    return subjects, None


def latency(
    lat: LatencyPolicy | None, metrics: Metrics, followed: Callable[[str], bool] = lambda h: False
) -> Answer:
    """p99 and rate (and the baseline, when configured) of every service: screened
    (commands.watch.screening) unless the policy reads recorded series or turns it off."""
    if lat is None:
        return Answer([], False)
    if lat.recorded or not lat.screen:
        query = recorded_latency_query if lat.recorded else latency_query
        rows = metrics.query(query(lat.window, lat.baseline))
        return Answer(_subjects(lat, parse_latency(rows)), bool(rows))
    rates = parse_latency(metrics.query(tagged(rate_expr(lat.window), "rps")))
    if not rates:
        return Answer([], False)
    keep = {host for host in rates if followed(host)}
    busy = [h for h, s in rates.items() if s.rps is not None and s.rps >= lat.min_rps]
    layout = _layout(metrics, busy, rates)
    bounds = bounds_of(busy, lat.static_for, layout)
    labels = {bound[1] for bound in bounds.values() if bound is not None}
    buckets = parse_buckets(metrics.query(buckets_query(labels, lat.window))) if labels else {}
    screened = screen(bounds, buckets, keep)
    measure = screened.measure | keep
    measured: dict[str, ServiceLatency] = {}
    if measure:
        hosts = () if len(measure) > MAX_MEASURED else measure
        measured = parse_latency(metrics.query(latency_query(lat.window, lat.baseline, hosts)))
    found = {
        host: measured.get(host)
        or ServiceLatency(host, screened.cleared.get(host), numbers.rps, None)
        for host, numbers in rates.items()
    }
    return Answer(_subjects(lat, found), True)


def _layout(metrics: Metrics, busy: list[str], rates: dict[str, ServiceLatency]) -> Layout:
    """The bucket bounds of the busiest service, as Prometheus stores their labels."""
    if not busy:
        return []
    sample_host = max(busy, key=lambda h: rates[h].rps or 0.0)
    return parse_layout(metrics.query(layout_query(sample_host)))


def _subjects(lat: LatencyPolicy, found: dict[str, ServiceLatency]) -> list[Subject]:
    subjects = []
    for host, s in found.items():
        reading = latency_reading(
            p99_ms=s.p99_ms,
            rps=s.rps,
            min_rps=lat.min_rps,
            static_ms=lat.static_for(host),
            baseline_ms=s.baseline_ms,
            factor=lat.factor,
        )
        subjects.append(Subject("latency", host, reading, "ms", lat.spec))
    return subjects


def steal(st: StealPolicy | None, metrics: Metrics) -> Answer:
    """CPU steal of every node, in one query."""
    if st is None:
        return Answer([], False)
    rows = metrics.query(steal_query(st.window, st.node_label))
    subjects = [
        Subject(
            "steal",
            node,
            steal_reading(steal_pct=value, warn_pct=st.warn_pct, critical_pct=st.critical_pct),
            "%",
            st.spec,
        )
        for node, value in parse_steal(rows, st.node_label, dict(st.instance_to_node)).items()
    ]
    return Answer(subjects, bool(rows))
