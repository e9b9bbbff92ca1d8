"""Step 1 of a watcher cycle: every subject's reading from Prometheus, or why it is blind.

Why this exists: the cost of watching must not grow with the mesh, so a cycle sends
ONE query for every service's p99 and rate and ONE for every node's steal, then turns
the answers into readings the rules judge. An unreachable Prometheus, or answers with
no data at all, make the cluster *blind*: the cycle then decides no alert (never a
false one) and says so once (commands.watch.blind).
"""

from __future__ import annotations

from dataclasses import dataclass

from commands.core.errors import MetricsUnavailable
from commands.core.ports import Metrics
from commands.watch.commands import LatencyPolicy, StealPolicy, WatchPolicy
from commands.watch.queries import latency_query, parse_latency, parse_steal, steal_query
from commands.watch.recording import recorded_latency_query
from commands.watch.rules import Reading, RuleSpec, latency_reading, steal_reading

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


def read(policy: WatchPolicy, metrics: Metrics) -> tuple[list[Subject], str | None]:
    """Every subject's reading, or why the cluster is blind."""
    subjects: list[Subject] = []
    answered = False
    try:
        for answer in (latency(policy.latency, metrics), steal(policy.steal, metrics)):
            subjects += answer.subjects
            answered |= answer.answered
    except MetricsUnavailable as exc:
        return [], str(exc)
    if not answered:
        if policy.latency is not None and policy.latency.recorded:
            return [], NO_DATA + RECORDED_HINT
        return [], NO_DATA
    return subjects, None


def latency(lat: LatencyPolicy | None, metrics: Metrics) -> Answer:
    """p99 and rate (and the baseline, when configured) of every service, in one query."""
    if lat is None:
        return Answer([], False)
    query = recorded_latency_query if lat.recorded else latency_query
    rows = metrics.query(query(lat.window, lat.baseline))
    subjects = []
    for host, s in parse_latency(rows).items():
        reading = latency_reading(
            p99_ms=s.p99_ms,
            rps=s.rps,
            min_rps=lat.min_rps,
            static_ms=lat.static_for(host),
            baseline_ms=s.baseline_ms,
            factor=lat.factor,
        )
        subjects.append(Subject("latency", host, reading, "ms", lat.spec))
    return Answer(subjects, bool(rows))


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
