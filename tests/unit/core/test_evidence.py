"""How much of a window the data covers (commands.core.evidence), over a scripted port."""

from __future__ import annotations

from collections.abc import Sequence

from commands.core.evidence import History, duration_text, first_seen_query, read_histories
from commands.core.ports import Sample

NOW = 1_800_000_000.0


class FirstSeen:
    """Answers a first-seen query as Prometheus would for series that began at `began`
    (per namespace): the first step of the query at or after it, within its range."""

    def __init__(self, began: dict[str, float]) -> None:
        self.began = began
        self.queries: list[str] = []

    def query(self, promql: str, *, at: float | None = None) -> Sequence[Sample]:
        self.queries.append(promql)
        assert at is not None
        span, step = promql.rsplit("[", 1)[1].rstrip("])").split(":")
        span_s, step_s = float(span.rstrip("s")), float(step.rstrip("s"))
        found = []
        for ns, began in self.began.items():
            first = max(began, at - span_s)
            first_step = -(-first // step_s) * step_s  # steps are aligned to the clock
            if first_step <= at:
                found.append(Sample({"ns": ns}, first_step))
        return found

    def describe(self) -> str:
        return "scripted"


def test_the_query_reaches_one_step_before_the_window() -> None:
    assert first_seen_query('x{a="b"}', 3600, ("ns",)) == (
        'min_over_time(timestamp(count by (ns) (x{a="b"}))[3615s:15s])'
    )
    assert first_seen_query("x", 10) == "min_over_time(timestamp(count(x))[11s:1s])"


def test_data_older_than_the_window_covers_it_and_fresh_data_says_how_much() -> None:
    metrics = FirstSeen({"old": NOW - 7200, "fresh": NOW - 12, "half": NOW - 1800})
    found = read_histories(metrics, "x", 3600, NOW, ("ns",))  # type: ignore[arg-type]
    assert found[("old",)].complete
    assert not found[("fresh",)].complete and 11 <= (found[("fresh",)].covered_s or 0) <= 12
    assert not found[("half",)].complete and 1785 <= (found[("half",)].covered_s or 0) <= 1800
    assert found.keys() == {("old",), ("fresh",), ("half",)}
    assert len(metrics.queries) == 2  # the window, then its recent part at a finer step


def test_shortfall_and_durations_read_as_a_user_would_say_them() -> None:
    assert History(3600, 12.4).shortfall() == (
        "not enough history: data covers 12 s of the 1 h window"
    )
    assert History(600, None).shortfall() == "not enough history: no data in the 10 min window"
    assert [duration_text(s) for s in (5400, 3600, 600, 90, 12.4, 4.96)] == [
        "1.5 h",
        "1 h",
        "10 min",
        "1.5 min",
        "12 s",
        "4.9 s",
    ]
