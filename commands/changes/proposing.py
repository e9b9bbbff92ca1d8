"""Proposing a change: read what is live, let the API server dry-run the writes, store it.

Why this exists: a proposal is what approvers judge, so it must show what would really
change (the live objects next to the desired ones) and only what the API server would
accept. Nothing is stored when the server refuses the dry run or nothing would change;
a newer proposal for the same objects supersedes an older one still waiting.
"""

from __future__ import annotations

from commands.changes.diffs import change_diff, same_object
from commands.changes.ledger import Ledger, noop
from commands.changes.machine import new_change_id, policy_for, supersede
from commands.changes.model import Change, ChangeProposed, ChangeState, ObjectChange, Proposal
from commands.changes.writes import dry_run
from commands.core.model import Caller, Failure, Result, Text
from commands.core.ports import Cluster


def propose(ledger: Ledger, proposal: Proposal, requester: Caller) -> Result:
    """Read the live objects, dry-run the writes, store and announce the change."""
    cluster = ledger.services.clusters.get(proposal.cluster)
    if cluster is None:
        return Failure(f"no cluster named `{proposal.cluster}` is configured")
    objects = observed(cluster, proposal)
    if all(same_object(o.desired, o.observed) for o in objects):
        return Text(f"Nothing to change: {proposal.title} is already in place")
    problems = dry_run(cluster, objects, [o.observed for o in objects])
    if problems:
        return Failure(
            "The API server's dry run refused this change, so nothing was proposed: "
            + "; ".join(problems)
        )
    change = new_change(ledger, proposal, objects, cluster.name, requester)
    ledger.add(change)
    supersede_older(ledger, change, change.created_at)
    return ChangeProposed(change)


def observed(cluster: Cluster, proposal: Proposal) -> tuple[ObjectChange, ...]:
    """Each desired object next to the live one it would replace (None: absent)."""
    lives = [cluster.get_object(o.ref) for o in proposal.objects]
    return tuple(
        ObjectChange(o.ref, o.desired, live)
        for o, live in zip(proposal.objects, lives, strict=True)
    )


def new_change(
    ledger: Ledger,
    proposal: Proposal,
    objects: tuple[ObjectChange, ...],
    cluster: str,
    requester: Caller,
) -> Change:
    """The change record as proposed, under the approval policy of its kind and cluster."""
    settings = ledger.kit.settings
    policy = policy_for(settings.rules, settings.default_policy, proposal.kind, cluster)
    now = ledger.clock.now()
    return Change(
        id=new_change_id(),
        kind=proposal.kind,
        cluster=proposal.cluster,
        title=proposal.title,
        requester=requester.user_id,
        created_at=now,
        expires_at=now + policy.expiry_s,
        state=ChangeState.PROPOSED,
        objects=objects,
        diff=change_diff(objects),
        gates=proposal.gates,
        risks=proposal.risks,
        policy=policy,
        summary=proposal.summary,
        verify=proposal.verify,
    ).with_event(ChangeState.PROPOSED, "proposed", requester.user_id, now, proposal.title)


def supersede_older(ledger: Ledger, newer: Change, now: float) -> None:
    """Proposals still waiting that touch any of the same objects are superseded."""
    refs = {o.ref for o in newer.objects}
    for older in ledger.records.active(newer.cluster):
        if older.id != newer.id and refs & {o.ref for o in older.objects}:
            ledger.move(older, lambda c: supersede(c, newer.id, now) or noop())
