"""Screening: which services could be past their p99 threshold, told from two buckets each.

Why this exists: `histogram_quantile` over every service's buckets is nearly all of a
cycle's cost, and Prometheus pays it per series selected — at 5,000 services with
Istio's 20 buckets, 100,000 series a cycle. Most services are far below their threshold,
and that can be proved from two of their buckets: histogram_quantile puts the p99 in the
first bucket whose cumulative count reaches 99 % of the total (`le="+Inf"`), so when the
bucket `le=b` — b the largest bound at or below the threshold T — already holds 99 % of
the requests, the p99 is at most b, hence at most T: exactly what the full query would
have concluded. Only the services this cannot clear, and those with an unfinished alert
(whose exact value the resolve hysteresis compares), are asked for their exact p99, in a
second query restricted to them. Nothing is estimated: a service is either proved under
its threshold or measured exactly.

The `le` values are matched as Prometheus stores them (Prometheus 3 writes "250.0" where
Envoy wrote "250"): the bucket layout is read from one service's series each cycle. A
service whose buckets do not include the chosen bound (custom
`sidecar.istio.io/statsHistogramBuckets`) is simply not cleared, and measured.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from commands.core.ports import Sample
from commands.watch.queries import SERVICE_LABEL, escape, services_matcher

QUANTILE = 0.99
INFINITY = "+Inf"
# Proved clear only with room beyond float rounding: a service this close is measured.
MARGIN = 1e-9
# Past this many services to measure, one query for all of them costs less than a regex.
MAX_MEASURED = 500

BUCKET = "istio_request_duration_milliseconds_bucket"

Bound = tuple[float, str]  # a bucket's upper bound, and its `le` label as stored
Layout = list[Bound]  # a histogram's finite bucket bounds, ascending


def layout_query(host: str) -> str:
    """The `le` label values of one service's buckets, as this Prometheus stores them."""
    return f'count by (le) ({BUCKET}{{reporter="destination"{services_matcher([host])}}})'


def parse_layout(samples: Iterable[Sample]) -> Layout:
    """`layout_query`'s answer → the finite bucket bounds, ascending, with their label text."""
    bounds = []
    for sample in samples:
        text = sample.labels.get("le")
        if text is None:
            continue
        try:
            bound = float(text)
        except ValueError:
            continue
        if math.isfinite(bound):
            bounds.append((bound, text))
    return sorted(bounds)


def bound_at_or_below(layout: Layout, threshold: float) -> Bound | None:
    """The largest bucket bound not above `threshold`, or None when every bound is above it
    (or `threshold` is not a number)."""
    below = [entry for entry in layout if entry[0] <= threshold]
    return below[-1] if below else None


def buckets_query(labels: Collection[str], window: str) -> str:
    """Every service's request rate in the buckets `labels` and in `+Inf`."""
    alternatives = "|".join(re.escape(text) for text in sorted({*labels, INFINITY}))
    return (
        "sum by (le, destination_service) "
        f'(rate({BUCKET}{{reporter="destination",le=~"{escape(alternatives)}"}}[{window}]))'
    )


def parse_buckets(samples: Iterable[Sample]) -> dict[str, dict[str, float]]:
    """`buckets_query`'s answer → host → le label → rate."""
    found: dict[str, dict[str, float]] = {}
    for sample in samples:
        host, le = sample.labels.get(SERVICE_LABEL), sample.labels.get("le")
        if host and le is not None:
            found.setdefault(host, {})[le] = sample.value
    return found


def proved_under(rates: Mapping[str, float] | None, bound_label: str) -> bool:
    """True when at least 99 % of the requests fell at or below `bound_label`'s bucket."""
    if not rates or bound_label not in rates or INFINITY not in rates:
        return False
    total, below = rates[INFINITY], rates[bound_label]
    if not (math.isfinite(total) and math.isfinite(below)) or total <= 0:
        return False
    return below >= QUANTILE * total * (1 + MARGIN)


def bounds_of(
    hosts: Iterable[str], threshold_of: Callable[[str], float | None], layout: Layout
) -> dict[str, Bound | None]:
    """Each host's bucket bound at or below its threshold (None: no threshold, or every
    bound above it — that host can only be measured)."""
    bounds: dict[str, Bound | None] = {}
    for host in hosts:
        threshold = threshold_of(host)
        bounds[host] = None if threshold is None else bound_at_or_below(layout, threshold)
    return bounds


@dataclass(frozen=True)
class Screen:
    """What screening decided: hosts proved under their threshold (with the bound their p99
    is at most), and the hosts whose p99 must be measured."""

    cleared: dict[str, float]
    measure: set[str]


def screen(
    bounds: Mapping[str, Bound | None],
    rates: Mapping[str, Mapping[str, float]],
    keep: Collection[str] = (),
) -> Screen:
    """Clear every host of `bounds` that two buckets prove under its bound; the rest, and
    every host in `keep`, are to be measured."""
    cleared: dict[str, float] = {}
    measure: set[str] = set()
    for host, bound in bounds.items():
        if host not in keep and bound is not None and proved_under(rates.get(host), bound[1]):
            cleared[host] = bound[0]
        else:
            measure.add(host)
    return Screen(cleared, measure)
