"""What every bake-window verifier shares: the frame around comparing now with before.

A verifier of any change kind waits its capability's bake window, needs the cluster's
Prometheus (none configured is a hold), and compares the window since apply with a
window of the same length ending at apply; then it ends the same way: any breach is a
breach, nothing comparable is a hold, else a pass. Only what is measured and how it is
judged differs per kind, so that is all a capability's verifier writes.

A baseline is only a baseline if the data covers all of its window: `baseline_coverage`
says, per group, how far back the series went at apply (commands.core.evidence); a
group whose data began inside the baseline window is not compared ("baseline: not
enough history: data covers 40 s of the 10 min window"), and nothing comparable holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Generic, Protocol, TypeVar

from commands.changes.hooks import Verdict, VerdictOutcome
from commands.changes.model import Change
from commands.core.evidence import History, read_histories
from commands.core.ports import Metrics, Services


class BakeSettings(Protocol):
    @property
    def bake_window_s(self) -> float: ...


S = TypeVar("S", bound=BakeSettings)


class BakeVerifier(Generic[S]):
    """A `Verifier` (commands.changes.hooks) whose subclass supplies only `compare`."""

    def __init__(self, settings: S) -> None:
        self.settings = settings

    def bake_seconds(self, change: Change) -> float:
        return self.settings.bake_window_s

    def verify(self, change: Change, services: Services, now: float) -> Verdict:
        metrics = services.metrics.get(change.cluster)
        if metrics is None:
            return Verdict(VerdictOutcome.HOLD, ("no Prometheus is configured for this cluster",))
        applied = change.applied_at or now
        return self.compare(change, metrics, applied, now, max(1.0, now - applied))

    def compare(
        self, change: Change, metrics: Metrics, applied: float, now: float, window_s: float
    ) -> Verdict:
        """Judge the `window_s` seconds ending at `now` against those ending at `applied`."""
        raise NotImplementedError


def conclude(
    breaches: list[str], judged: list[str], *, nothing_judged: str, passed: str
) -> Verdict:
    """Any breach is a breach; nothing comparable is a hold (never a pass); else a pass."""
    if breaches:
        return Verdict(VerdictOutcome.BREACH, tuple(breaches))
    if not judged:
        return Verdict(VerdictOutcome.HOLD, (nothing_judged,), acceptable=True)
    return Verdict(VerdictOutcome.PASS, (passed,))


def too_little_traffic(total: float, minimum: float, what: str) -> Verdict:
    """The hold when the bake window saw fewer than `minimum` requests (`what`: whose)."""
    return Verdict(
        VerdictOutcome.HOLD,
        (
            f"not enough traffic to judge: {total:.0f} {what} in the bake window, "
            f"need at least {minimum:.0f}",
        ),
        acceptable=True,
    )


def baseline_coverage(
    metrics: Metrics, selector: str, by: Sequence[str], applied: float, window_s: float
) -> dict[str, History]:
    """How far back each group's data went at `applied`, for a baseline of `window_s`,
    keyed by the group's label values joined with `/` (e.g. `shop/orders`)."""
    found = read_histories(metrics, selector, window_s, applied, by)
    return {"/".join(key): history for key, history in found.items()}


def short_baseline(
    coverage: Mapping[str, History] | None, group: str, window_s: float
) -> str | None:
    """Why `group` has no usable baseline (its data began inside the window), or None."""
    if coverage is None:
        return None
    history = coverage.get(group, History(window_s, None))
    return None if history.complete else f"{group}: baseline {history.shortfall()}"


def nothing_comparable(default: str, short: Sequence[str]) -> str:
    if not short:
        return default
    more = f" and {len(short) - 3} more" if len(short) > 3 else ""
    return f"{default}; " + "; ".join(short[:3]) + more
