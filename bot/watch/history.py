"""The last hour of one series, for an alert's chart, through the Metrics port.

Why this exists: a chart needs the series over an hour, one range query at a fixed
step. Failures give an empty chart, never a failed alert: the chart is a detail in the
thread, the alert is the message.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from commands.core.errors import PortError
from commands.core.ports import Metrics

log = logging.getLogger(__name__)
SPAN_S = 3600.0
POINTS = 30


def last_hour(
    metrics: Metrics, promql: str, end: float, span_s: float = SPAN_S, points: int = POINTS
) -> Sequence[tuple[float, float]]:
    step = span_s / points
    try:
        return list(metrics.query_range(promql, end - span_s, end, step))
    except PortError as exc:
        log.warning("no chart data for %s: %s", promql[:80], exc)
        return []
