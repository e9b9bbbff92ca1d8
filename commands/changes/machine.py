"""The change state machine and the approval policy, as pure functions.

Every transition is a function `Change -> Change | Refusal` with no I/O, so the store
can run it inside an atomic update (Redis WATCH/MULTI may run it more than once) and
unit tests can walk every path with a fixed clock. Nothing here decides *how* a change
is applied; it only decides whether a move is allowed and what the record looks like
after it.

    proposed ─► approved ─► applying ─► applied ─► verifying ─► verified
       │                        │  │                   │            │
       ├─► rejected             │  └─► failed ◄────────┘            │
       ├─► expired              │        │                          │
       └─► superseded           │        └──► rolling back ◄────────┘
                                └─► interrupted ─┘   └─► rolled back (or failed)

`interrupted`: the replica applying it stopped part-way and the one that took it over
could not finish; the record says what was written, and a rollback restores it. Work
that writes to a cluster (apply, rollback) is claimed with a work-lease token
(`Change.applier`); the moves that end that work take the token and refuse anyone
else's, so a replica that lost its lease cannot record over the one that took over.
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
    # applying → applying: a live replica took over from one that stopped
    S.APPLYING: frozenset({S.APPLYING, S.APPLIED, S.FAILED, S.INTERRUPTED}),
    S.INTERRUPTED: frozenset({S.ROLLING_BACK}),
    S.APPLIED: frozenset({S.VERIFYING, S.VERIFIED, S.ROLLING_BACK}),
    S.VERIFYING: frozenset({S.VERIFYING, S.VERIFIED, S.FAILED, S.ROLLING_BACK}),
    S.VERIFIED: frozenset({S.ROLLING_BACK}),
    S.FAILED: frozenset({S.ROLLING_BACK}),
    # back to where it was when a rollback is refused (drift), or on to its end
    S.ROLLING_BACK: frozenset(
        {S.ROLLING_BACK, S.ROLLED_BACK, S.FAILED, S.APPLIED, S.VERIFYING, S.VERIFIED}
        | {S.INTERRUPTED}
    ),
    S.ROLLED_BACK: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
    S.SUPERSEDED: frozenset(),
}
ROLLBACK_FROM = frozenset({S.APPLIED, S.VERIFYING, S.VERIFIED, S.FAILED, S.INTERRUPTED})
CHANGE_ID = re.compile(r"^chg-[a-z2-7]{8}$")


HOLD_ACCEPTED = "hold accepted"  # the timeline event of a held bake an approver accepted


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
    if change.state is S.INTERRUPTED:
        return Refusal(
            f"{change.id} was interrupted part-way and wrote to the cluster; rejecting it "
            f"cannot undo that. Roll it back: `/mesh change rollback {change.id}`"
        )
    if change.state in (S.APPROVED, S.APPLYING):
        return Refusal(
            f"{change.id} is approved and being applied; it can no longer be rejected. "
            "Once it is applied (or interrupted) it can be rolled back"
        )
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


def replica_of(token: str | None) -> str:
    """The replica named in a work-lease token (`replica-id#nonce`)."""
    return (token or "an unknown replica").split("#", 1)[0]


def _not_ours(change: Change, token: str | None, state: ChangeState) -> Refusal | None:
    """Why `token` may not end the work on `change` (None: it may)."""
    if change.state is not state:
        return Refusal(f"{change.id} is {change.state.value}, not {state.value}")
    if token is not None and change.applier != token:
        return Refusal(
            f"{change.id} was taken over by {replica_of(change.applier)}", ActionOutcome.NOOP
        )
    return None


def claim_apply(change: Change, now: float, token: str | None = None, detail: str = "") -> Step:
    """approved → applying, once: a second caller sees applying and stays out."""
    if change.state is not S.APPROVED:
        return Refusal(f"{change.id} is {change.state.value}", ActionOutcome.NOOP)
    return change.with_event(S.APPLYING, "applying", "meshbot", now, detail, applier=token, plan=())


def store_plan(change: Change, token: str | None, plan: tuple[Snapshot, ...]) -> Step:
    """Keep what apply is about to write, and what it replaces, before the first write."""
    refusal = _not_ours(change, token, S.APPLYING)
    return refusal if refusal is not None else replace(change, plan=plan)


def take_over(change: Change, seen: str | None, token: str, now: float, detail: str) -> Step:
    """A live replica takes the work of one that stopped (its lease expired): once, and
    only from the holder it saw, so two sweeps never both take it."""
    if change.state not in (S.APPLYING, S.ROLLING_BACK) or change.applier != seen:
        return Refusal(f"{change.id} is no longer abandoned", ActionOutcome.NOOP)
    return change.with_event(change.state, "taken over", "meshbot", now, detail, applier=token)


def note(change: Change, event: str, detail: str, now: float) -> Step:
    """Say something about a change without moving it; said once, not on every sweep."""
    last = change.timeline[-1] if change.timeline else None
    if last is not None and last.event == event:
        return Refusal("already said", ActionOutcome.NOOP)
    return change.with_event(change.state, event, "meshbot", now, detail)


def record_applied(
    change: Change,
    snapshots: tuple[Snapshot, ...],
    now: float,
    verify_at: float | None,
    token: str | None = None,
    detail: str | None = None,
) -> Step:
    refusal = _not_ours(change, token, S.APPLYING)
    if refusal is not None:
        return refusal
    applied = change.with_event(
        S.APPLIED,
        "applied",
        "meshbot",
        now,
        detail or f"{len(snapshots)} object(s) written",
        snapshots=snapshots,
        applied_at=now,
    )
    if verify_at is None:
        return applied.with_event(S.VERIFIED, "verified", "meshbot", now, "no verifier for kind")
    return applied.with_event(S.VERIFYING, "verifying", "meshbot", now, verify_at=verify_at)


def interrupt(
    change: Change, token: str, written: tuple[Snapshot, ...], reason: str, now: float
) -> Step:
    """applying → interrupted: part of it is in the cluster. `written` is what a rollback
    restores (each item's `after` as found live, its `before` from the plan)."""
    refusal = _not_ours(change, token, S.APPLYING)
    if refusal is not None:
        return refusal
    claimed = next((t.at for t in reversed(change.timeline) if t.event == "applying"), now)
    return change.with_event(
        S.INTERRUPTED,
        "interrupted",
        "meshbot",
        now,
        reason,
        reason=reason,
        snapshots=written,
        verify_at=None,
        applied_at=claimed,  # written after this: an alert since then may name it
    )


def fail(
    change: Change,
    reason: str,
    now: float,
    *,
    actor: str = "meshbot",
    snapshots: tuple[Snapshot, ...] | None = None,
    event: str = "failed",
    owner: str | None = None,
) -> Step:
    """→ failed; with `owner`, only by the holder of the work on the change."""
    if not can_move(change.state, S.FAILED):
        return Refusal(f"{change.id} is {change.state.value}; cannot mark it failed")
    if owner is not None and change.applier != owner:
        return Refusal(
            f"{change.id} was taken over by {replica_of(change.applier)}", ActionOutcome.NOOP
        )
    extra = {} if snapshots is None else {"snapshots": snapshots}
    return change.with_event(
        S.FAILED, event, actor, now, reason, reason=reason, verify_at=None, **extra
    )


def verified(change: Change, lines: tuple[str, ...], now: float) -> Step:
    return _bake_outcome(change, S.VERIFIED, "verified", lines, now, None)


def hold(
    change: Change,
    lines: tuple[str, ...],
    now: float,
    retry_at: float | None,
    for_data: bool = False,
) -> Step:
    """No data to judge: stay verifying, say so, look again at `retry_at` (None: stop)."""
    held = _bake_outcome(change, S.VERIFYING, "hold", lines, now, retry_at)
    return held if isinstance(held, Refusal) else replace(held, held_for_data=for_data)


def accept_hold(
    change: Change,
    user_id: str,
    eligible: bool,
    now: float,
    reason: str,
    lines: tuple[str, ...],
) -> Step:
    """A held bake accepted by an approver with a reason: → verified by override."""
    if change.state is not S.VERIFYING:
        return Refusal(
            f"{change.id} is {change.state.value}; only a held bake can be accepted",
            ActionOutcome.NOOP if change.state is S.VERIFIED else ActionOutcome.REFUSED,
        )
    if user_id == change.requester:
        return Refusal(f"you proposed {change.id}; someone else must accept its held bake")
    if not eligible:
        return Refusal(f"you are not an approver for {change.kind} changes on {change.cluster}")
    if not reason.strip():
        return Refusal(
            f'give the reason to accept the held bake of {change.id}: override="why it is '
            'safe to go on"'
        )
    return change.with_event(
        S.VERIFIED,
        HOLD_ACCEPTED,
        user_id,
        now,
        reason.strip(),
        verify_at=None,
        verification=(*lines, f"held bake accepted by {user_id}: {reason.strip()}"),
        held_for_data=False,
    )


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


def claim_rollback(
    change: Change, user_id: str, now: float, reason: str = "", token: str | None = None
) -> Step:
    if change.state in (S.ROLLING_BACK, S.ROLLED_BACK):
        return Refusal(f"{change.id} is already {change.state.value}", ActionOutcome.NOOP)
    if change.state in (S.APPROVED, S.APPLYING):
        return Refusal(
            f"{change.id} is being applied right now (by {replica_of(change.applier)}); "
            "if that replica stopped, another one takes it over when its lease expires and "
            "it becomes applied or interrupted. Roll it back then"
        )
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
        applier=token,
    )


def rollback_refused(change: Change, reason: str, now: float, owner: str | None = None) -> Step:
    """Back to the state before the rollback started: nothing was written."""
    back = change.rollback_from or S.FAILED
    refusal = _not_ours(change, owner, S.ROLLING_BACK)
    if refusal is not None:
        return refusal
    return change.with_event(back, "rollback refused", "meshbot", now, reason, rollback_from=None)


def rolled_back(change: Change, now: float, owner: str | None = None, detail: str = "") -> Step:
    refusal = _not_ours(change, owner, S.ROLLING_BACK)
    if refusal is not None:
        return refusal
    return change.with_event(
        S.ROLLED_BACK, "rolled back", "meshbot", now, detail or "previous objects restored"
    )


def attach_message(change: Change, channel: str, ts: str) -> Change:
    return replace(change, message=MessageRef(channel, ts))
