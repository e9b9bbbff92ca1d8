"""The clock-driven steps: expire stale proposals, judge changes whose bake window ended,
take over the work of a replica that stopped (commands.changes.takeover).

Why this exists: proposals expire and bake windows end whether or not anyone clicks, so
the runtime's sweeper (bot.changes.sweeper) calls `run_due` every few seconds on every
replica. The due time is on the change record and a due check is claimed for a lease
(`verify_lease_s`) by one atomic move, so several replicas judge a change once, and a
replica that died mid-check leaves it to the next one after the lease. A verifier that
cannot judge (no data, metrics down) holds the change — never a pass — and looks again
later, until `max_hold_s`; then it stays held until someone decides.
"""

from __future__ import annotations

from dataclasses import replace

from commands.changes.deciding import expire
from commands.changes.hooks import Verdict, VerdictOutcome
from commands.changes.ledger import Ledger
from commands.changes.machine import claim_verify, fail, hold, verified
from commands.changes.model import ACTIVE_STATES, Change, ChangeState
from commands.changes.takeover import take_over_if_abandoned
from commands.core.errors import PortError
from commands.core.model import Refusal


def run_due(ledger: Ledger) -> int:
    """Expire stale proposals and run due bake checks in every cluster; returns how many
    changes moved."""
    moved = 0
    for cluster in sorted(ledger.services.clusters):
        for change in ledger.records.active(cluster):
            now = ledger.clock.now()
            if change.state is ChangeState.PROPOSED:
                moved += expire(ledger, change, now) is not None
            elif change.state is ChangeState.VERIFYING:
                moved += verify_if_due(ledger, change, now)
            elif change.state in ACTIVE_STATES:  # approved, applying, rolling back
                moved += take_over_if_abandoned(ledger, change, now)
            else:  # ended, but a replica stopped before taking it off the active list
                ledger.records.retire(change)
    return moved


def verify_if_due(ledger: Ledger, change: Change, now: float) -> bool:
    """Claim a due bake check and record its verdict; False when not due or taken."""
    lease = ledger.kit.settings.verify_lease_s
    claimed = ledger.move(change, lambda c: claim_verify(c, now, lease), announce=False)
    if isinstance(claimed, Refusal):
        return False
    change = claimed.after
    verdict = judge(ledger, change, now)
    if verdict.outcome is VerdictOutcome.PASS:
        ledger.move(change, lambda c: verified(c, verdict.lines, now))
    elif verdict.outcome is VerdictOutcome.BREACH:
        reason = f"{verdict.failure}: " + "; ".join(verdict.lines)
        ledger.move(change, lambda c: fail(c, reason, now, event="breach"))
    else:
        hold_on(ledger, change, verdict, now)
    return True


def judge(ledger: Ledger, change: Change, now: float) -> Verdict:
    """The kind's verifier's verdict; a verifier that cannot read its data holds."""
    verifier = ledger.kit.hooks.verifiers.get(change.kind)
    if verifier is None:
        return Verdict(VerdictOutcome.PASS, ("no verifier for this kind",))
    try:
        return verifier.verify(change, ledger.services, now)
    except PortError as exc:
        return Verdict(VerdictOutcome.HOLD, (f"cannot judge: {exc}",))


def hold_on(ledger: Ledger, change: Change, verdict: Verdict, now: float) -> None:
    """Say once that the change is held, then look again every `hold_retry_s`."""
    settings = ledger.kit.settings
    started = change.applied_at or now
    retry_at: float | None = now + settings.hold_retry_s
    if now - started >= settings.max_hold_s:
        retry_at = None  # give up looking; stays held until someone decides
    last = change.timeline[-1] if change.timeline else None
    said = last is not None and last.event == "hold"
    if said and retry_at is not None and change.held_for_data == verdict.acceptable:
        # already said we are holding, and why; look again later without repeating ourselves
        ledger.move(change, lambda c: replace(c, verify_at=retry_at), announce=False)
        return
    ledger.move(change, lambda c: hold(c, verdict.lines, now, retry_at, verdict.acceptable))
