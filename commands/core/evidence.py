"""How much of a window the metrics actually cover: a gate needs the whole window.

`increase(x[1h])` answers from whatever samples exist: in a Prometheus started 12 s ago
it is 12 s of traffic, and "no plaintext in the last hour" would be a lie. So every
gate and every baseline asks first how far back its series go. The query counts the
series (grouped as the caller needs) at steps of a subquery that reaches one step
before the window's start, and takes the earliest step at which any existed:

    min_over_time(timestamp(count by (ns) (SELECTOR))[3615s:15s])

`timestamp()` of an aggregate is its evaluation time, so the answer is a step time.
Data present at (or before) the window's start gives a step at or before it: covered.
Data that began inside the window gives its first step: "12 s of 1 h" (to within a
step; a second, finer query sharpens recent starts). Each query answers for every group.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from commands.core.ports import Metrics, Sample

STEPS = 240


def duration_text(seconds: float) -> str:
    """`3600` → `1 h`, `600` → `10 min`, `12.4` → `12 s`, `4.96` → `4.9 s`: rounded
    down, so evidence is never shown as more than it is."""

    def tenths(value: float) -> str:
        return f"{math.floor(value * 10) / 10:g}"

    if seconds >= 3600:
        return f"{tenths(seconds / 3600)} h"
    if seconds >= 60:
        return f"{tenths(seconds / 60)} min"
    if seconds >= 10:
        return f"{math.floor(seconds)} s"
    return f"{tenths(max(0.0, seconds))} s"


@dataclass(frozen=True)
class History:
    """How many seconds before `at` the data of one group reaches, for a window."""

    window_s: float
    covered_s: float | None  # None: no sample at all in the window

    @property
    def complete(self) -> bool:
        return self.covered_s is not None and self.covered_s >= self.window_s

    def shortfall(self) -> str:
        """What is missing, e.g. `not enough history: data covers 12 s of the 1 h window`."""
        window = duration_text(self.window_s)
        if self.covered_s is None:
            return f"not enough history: no data in the {window} window"
        return (
            f"not enough history: data covers {duration_text(self.covered_s)} "
            f"of the {window} window"
        )


def step_s(window_s: float) -> int:
    return max(1, math.ceil(window_s / STEPS))


def first_seen_query(selector: str, window_s: float, by: Sequence[str] = ()) -> str:
    """The earliest step (within the window and one step before it) at which any series
    of `selector` existed, per `by` group."""
    step = step_s(window_s)
    grouped = f"count by ({', '.join(by)}) ({selector})" if by else f"count({selector})"
    return f"min_over_time(timestamp({grouped})[{math.ceil(window_s) + step}s:{step}s])"


def histories(
    samples: Sequence[Sample], window_s: float, at: float, by: Sequence[str] = ()
) -> Mapping[tuple[str, ...], History]:
    """The answer of `first_seen_query`, evaluated at `at`, per group (label values in
    the order of `by`; the empty tuple without `by`)."""
    found: dict[tuple[str, ...], History] = {}
    for sample in samples:
        if math.isnan(sample.value):
            continue
        key = tuple(sample.labels.get(label, "") for label in by)
        found[key] = History(window_s, max(0.0, at - sample.value))
    return found


def read_histories(
    metrics: Metrics, selector: str, window_s: float, at: float, by: Sequence[str] = ()
) -> Mapping[tuple[str, ...], History]:
    """Ask `metrics` how far back `selector` goes, per group; a group absent from the
    answer has no data in the window (`History(window_s, None)` is what to assume).

    Two queries: the window at its own resolution (a 240th of it), then the most recent
    start again at a finer step (and with it any group so new that no coarse step saw
    it), so a fresh Prometheus says "12 s", not "0 s" or "no data"."""
    coarse = histories(
        metrics.query(first_seen_query(selector, window_s, by), at=at), window_s, at, by
    )
    recent = min((h.covered_s or 0.0 for h in coarse.values() if not h.complete), default=0.0)
    span = min(window_s, recent + step_s(window_s))
    fine = histories(metrics.query(first_seen_query(selector, span, by), at=at), window_s, at, by)
    merged = dict(coarse)
    for key, history in fine.items():
        began_inside = history.covered_s is not None and history.covered_s < span
        if key not in merged or (began_inside and not merged[key].complete):
            merged[key] = history
    return merged
