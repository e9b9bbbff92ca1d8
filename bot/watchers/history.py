"""The last hour of one series, for an alert's chart, through the Metrics port.

Why this exists: the Metrics port answers instant queries only (that is all a cycle
needs), so a chart samples the series at a fixed step. When an adapter grows a
`query_range`, it is used instead (one request). Failures give an empty chart, never
a failed alert: the chart is a detail in the thread, the alert is the message.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from commands.errors import PortError
from commands.ports import Metrics

log = logging.getLogger(__name__)
SPAN_S = 3600.0
POINTS = 30


def last_hour(
    metrics: Metrics, promql: str, end: float, span_s: float = SPAN_S, points: int = POINTS
) -> Sequence[tuple[float, float]]:
    step = span_s / points
    ranged = getattr(metrics, "query_range", None)
    try:
        if callable(ranged):
            return [(float(t), float(v)) for t, v in ranged(promql, end - span_s, end, step)]
        found: list[tuple[float, float]] = []
        for i in range(points + 1):
            at = end - span_s + i * step
            for sample in metrics.query(promql, at=at)[:1]:
                if sample.value == sample.value:  # not NaN
                    found.append((at, sample.value))
        return found
    except PortError as exc:
        log.warning("no chart data for %s: %s", promql[:80], exc)
        return []
