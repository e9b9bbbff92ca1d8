"""The change state machine and the approval policy, as pure functions.

Every transition is a function `Change -> Change | Refusal` with no I/O, so the store
can run it inside an atomic update (Redis WATCH/MULTI may run it more than once) and
unit tests can walk every path with a fixed clock. Nothing here decides *how* a change
is applied; it only decides whether a move is allowed and what the record looks like
after it.

    proposed ─► approved ─► applying ─► applied ─► verifying ─► verified
       │                        │                      │            │
       ├─► rejected             └─► failed ◄───────────┘            │
       ├─► expired                    │                             │
       └─► superseded                 └──► rolling back ◄───────────┘
                                               └─► rolled back (or failed)
"""

from __future__ import annotations

import base64
import fnmatch
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace

from commands.changes.model import (
    Approval,
    ApprovalPolicy,
    Change,
    ChangeState,
    MessageRef,
    Snapshot,
)
from commands.core.model import ActionOutcome, Refusal, Role

S = ChangeState
ALLOWED: dict[ChangeState, frozenset[ChangeState]] = {
    S.PROPOSED: frozenset({S.APPROVED, S.REJECTED, S.EXPIRED, S.SUPERSEDED}),
    S.APPROVED: frozenset({S.APPLYING, S.FAILED}),
    S.APPLYING: frozenset({S.APPLIED, S.FAILED}),
    S.APPLIED: frozenset({S.VERIFYING, S.VERIFIED, S.ROLLING_BACK}),
    S.VERIFYING: frozenset({S.VERIFYING, S.VERIFIED, S.FAILED, S.ROLLING_BACK}),
    S.VERIFIED: frozenset({S.ROLLING_BACK}),
    S.FAILED: frozenset({S.ROLLING_BACK}),
    # back to where it was when a rollback is refused (drift), or on to its end
    S.ROLLING_BACK: frozenset({S.ROLLED_BACK, S.FAILED, S.APPLIED, S.VERIFYING, S.VERIFIED}),
    S.ROLLED_BACK: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
    S.SUPERSEDED: frozenset(),
}
ROLLBACK_FROM = frozenset({S.APPLIED, S.VERIFYING, S.VERIFIED, S.FAILED})
CHANGE_ID = re.compile(r"^chg-[a-z2-7]{8}$")


def new_change_id() -> str:
    """`chg-` and 8 base32 characters from 40 random bits: short, opaque, unguessable."""
    return "chg-" + base64.b32encode(secrets.token_bytes(5)).decode().lower()


def is_change_id(text: str) -> bool:
    return bool(CHANGE_ID.match(text))


def can_move(current: ChangeState, target: ChangeState) -> bool:
    return target in ALLOWED[current]


Step = Change | Refusal


# ---- approval policy ---------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyRule:
    """Applies `policy` to changes whose kind and cluster match the glob patterns."""

    kind: str
    cluster: str
    policy: ApprovalPolicy

    def matches(self, kind: str, cluster: str) -> bool:
        return fnmatch.fnmatchcase(kind, self.kind) and fnmatch.fnmatchcase(cluster, self.cluster)


def policy_for(
    rules: tuple[PolicyRule, ...], default: ApprovalPolicy, kind: str, cluster: str
) -> ApprovalPolicy:
    """The first matching rule's policy, in config order; the default otherwise."""
    return next((r.policy for r in rules if r.matches(kind, cluster)), default)


def is_listed(
    names: tuple[str, ...], user_id: str, members: Callable[[str], frozenset[str]]
) -> bool:
    """Whether a user is named directly or through a user group (`@handle` or `S…` id)."""
    for name in names:
        if name == user_id:
            return True
        if (name.startswith("@") or name.startswith("S")) and user_id in members(name):
            return True
    return False


def may_approve(
    policy: ApprovalPolicy,
    user_id: str,
    role: Role | None,
    members: Callable[[str], frozenset[str]],
) -> bool:
    """Approver role, and named by the policy when the policy names anyone."""
    if role is None or role.value < Role.APPROVER.value:
        return False
    return not policy.approvers or is_listed(policy.approvers, user_id, members)


# ---- transitions -------------------------------------------------------------------------


def expire_if_due(change: Change, now: float) -> Change | None:
    """The change moved to expired when its time is up and it is still waiting; else None."""
    if change.state is S.PROPOSED and now >= change.expires_at:
        return change.with_event(S.EXPIRED, "expired", "meshbot", now, "no approval in time")
    return None


def approve(
    change: Change, user_id: str, eligible: bool, now: float, override: str | None = None
) -> Step:
    if any(a.user_id == user_id for a in change.approvals):
        return Refusal(f"you already approved {change.id}", ActionOutcome.NOOP)
    if change.state is not S.PROPOSED:
        return Refusal(
            f"{change.id} is already {change.state.value}; nothing to approve", ActionOutcome.NOOP
        )
    if now >= change.expires_at:
        return Refusal(f"{change.id} expired; propose it again")
    if user_id == change.requester:
        return Refusal(f"you proposed {change.id}; someone else must approve it")
    if not eligible:
        return Refusal(f"you are not an approver for {change.kind} changes on {change.cluster}")
    reason = (override or "").strip() or None
    if change.blocked and reason is None:
        failed = ", ".join(f"{g.name} ({g.status.value})" for g in change.failed_gates)
        return Refusal(
            f"{change.id} is blocked by gates: {failed}. To approve anyway, give the reason: "
            f'`/mesh change approve {change.id} override="why it is safe"`'
        )
    if reason is not None and not change.failed_gates:
        reason = None  # nothing to override; do not record one
    approvals = (*change.approvals, Approval(user_id, now, override=reason))
    done = len(approvals) >= change.policy.approvals
    detail = f"{len(approvals)} of {change.policy.approvals}"
    if reason:
        detail += f"; overrode failed gates: {reason}"
    state = S.APPROVED if done else S.PROPOSED
    return change.with_event(state, "approved", user_id, now, detail, approvals=approvals)


def reject(change: Change, user_id: str, allowed: bool, now: float, reason: str = "") -> Step:
    if change.state is S.REJECTED:
        return Refusal(f"{change.id} is already rejected", ActionOutcome.NOOP)
    if change.state is not S.PROPOSED:
        return Refusal(f"{change.id} is {change.state.value}; it can no longer be rejected")
    if not allowed:
        return Refusal(f"you are not an approver for {change.kind} changes on {change.cluster}")
    rejection = Approval(user_id, now, note=reason.strip())
    return change.with_event(
        S.REJECTED, "rejected", user_id, now, reason.strip(), rejection=rejection
    )


def supersede(change: Change, newer_id: str, now: float) -> Change | None:
    if change.state is not S.PROPOSED:
        return None
    return change.with_event(S.SUPERSEDED, "superseded", "meshbot", now, f"by {newer_id}")


def claim_apply(change: Change, now: float) -> Step:
    """approved → applying, once: a second caller sees applying and stays out."""
    if change.state is not S.APPROVED:
        return Refusal(f"{change.id} is {change.state.value}", ActionOutcome.NOOP)
    return change.with_event(S.APPLYING, "applying", "meshbot", now)


def record_applied(
    change: Change, snapshots: tuple[Snapshot, ...], now: float, verify_at: float | None
) -> Step:
    if change.state is not S.APPLYING:
        return Refusal(f"{change.id} is {change.state.value}, not applying")
    applied = change.with_event(
        S.APPLIED,
        "applied",
        "meshbot",
        now,
        f"{len(snapshots)} object(s) written",
        snapshots=snapshots,
        applied_at=now,
    )
    if verify_at is None:
        return applied.with_event(S.VERIFIED, "verified", "meshbot", now, "no verifier for kind")
    return applied.with_event(S.VERIFYING, "verifying", "meshbot", now, verify_at=verify_at)


def fail(
    change: Change,
    reason: str,
    now: float,
    *,
    actor: str = "meshbot",
    snapshots: tuple[Snapshot, ...] | None = None,
    event: str = "failed",
) -> Step:
    if not can_move(change.state, S.FAILED):
        return Refusal(f"{change.id} is {change.state.value}; cannot mark it failed")
    extra = {} if snapshots is None else {"snapshots": snapshots}
    return change.with_event(
        S.FAILED, event, actor, now, reason, reason=reason, verify_at=None, **extra
    )


def verified(change: Change, lines: tuple[str, ...], now: float) -> Step:
    return _bake_outcome(change, S.VERIFIED, "verified", lines, now, None)


def hold(change: Change, lines: tuple[str, ...], now: float, retry_at: float | None) -> Step:
    """No data to judge: stay verifying, say so, look again at `retry_at` (None: stop)."""
    return _bake_outcome(change, S.VERIFYING, "hold", lines, now, retry_at)


def _bake_outcome(
    change: Change,
    state: ChangeState,
    event: str,
    lines: tuple[str, ...],
    now: float,
    verify_at: float | None,
) -> Step:
    """A bake check's answer, recorded by meshbot; only a change still verifying takes one."""
    if change.state is not S.VERIFYING:
        return Refusal(f"{change.id} is {change.state.value}", ActionOutcome.NOOP)
    return change.with_event(
        state, event, "meshbot", now, "; ".join(lines), verify_at=verify_at, verification=lines
    )


def claim_verify(change: Change, now: float, lease_s: float) -> Step:
    """Take the due bake check for `lease_s` so that one replica runs it."""
    if change.state is not S.VERIFYING or change.verify_at is None or change.verify_at > now:
        return Refusal("not due", ActionOutcome.NOOP)
    return replace(change, verify_at=now + lease_s)


def claim_rollback(change: Change, user_id: str, now: float, reason: str = "") -> Step:
    if change.state in (S.ROLLING_BACK, S.ROLLED_BACK):
        return Refusal(f"{change.id} is already {change.state.value}", ActionOutcome.NOOP)
    if change.state not in ROLLBACK_FROM or not change.wrote_objects:
        return Refusal(
            f"{change.id} is {change.state.value} and wrote nothing to the cluster; "
            "there is nothing to roll back"
        )
    return change.with_event(
        S.ROLLING_BACK,
        "rolling back",
        user_id,
        now,
        reason.strip(),
        rollback_from=change.state,
        verify_at=None,
    )


def rollback_refused(change: Change, reason: str, now: float) -> Step:
    """Back to the state before the rollback started: nothing was written."""
    back = change.rollback_from or S.FAILED
    if change.state is not S.ROLLING_BACK:
        return Refusal(f"{change.id} is {change.state.value}")
    return change.with_event(back, "rollback refused", "meshbot", now, reason, rollback_from=None)


def rolled_back(change: Change, now: float) -> Step:
    if change.state is not S.ROLLING_BACK:
        return Refusal(f"{change.id} is {change.state.value}")
    return change.with_event(
        S.ROLLED_BACK, "rolled back", "meshbot", now, "previous objects restored"
    )


def attach_message(change: Change, channel: str, ts: str) -> Change:
    return replace(change, message=MessageRef(channel, ts))
