"""The change pipeline over in-memory ports: what approvers and operators would see."""

from __future__ import annotations

from typing import Any

import pytest

from commands.changes.hooks import ChangeHooks, PipelineSettings, Verdict, VerdictOutcome
from commands.changes.machine import PolicyRule, is_change_id
from commands.changes.model import (
    ApprovalPolicy,
    Change,
    ChangeProposed,
    ChangeState,
    Gate,
    GateStatus,
    ObjectChange,
    ObjectRef,
    Proposal,
)
from commands.changes.pipeline import Pipeline
from commands.core.errors import StoreUnavailable
from commands.core.model import ActionOutcome, Caller, Failure, Role, Text
from commands.core.ports import Services
from tests.unit.changes.fakes import (
    MovingClock,
    ObjectCluster,
    RecordingNotifier,
    api_500,
    change_services,
)
from tests.unit.fakes import MemoryStore

ALICE = Caller("U_ALICE", Role.OPERATOR)
BOB = Caller("U_BOB", Role.APPROVER)
CAROL = Caller("U_CAROL", Role.APPROVER)
VIC = Caller("U_VIEWER", Role.VIEWER)
API = "security.istio.io/v1"


def pa(namespace: str, name: str, mode: str) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "PeerAuthentication",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"mtls": {"mode": mode}},
    }


def ref(namespace: str = "shop", name: str = "default") -> ObjectRef:
    return ObjectRef(API, "PeerAuthentication", "peerauthentications", name, namespace)


def proposal(mode: str = "STRICT", gates: tuple[Gate, ...] = (), kind: str = "test") -> Proposal:
    return Proposal(
        kind=kind,
        cluster="prod",
        title=f"mTLS {mode} for shop",
        objects=(ObjectChange(ref(), pa("shop", "default", mode)),),
        gates=gates,
        verify={"namespaces": ["shop"]},
    )


class FixedVerifier:
    def __init__(self, *verdicts: Verdict, bake_s: float = 600.0) -> None:
        self.verdicts = list(verdicts)
        self.bake_s = bake_s
        self.calls = 0

    def bake_seconds(self, change: Change) -> float:
        return self.bake_s

    def verify(self, change: Change, services: Services, now: float) -> Verdict:
        self.calls += 1
        return self.verdicts.pop(0) if len(self.verdicts) > 1 else self.verdicts[0]


@pytest.fixture
def cluster() -> ObjectCluster:
    c = ObjectCluster()
    c.add(pa("shop", "default", "PERMISSIVE"), "peerauthentications")
    return c


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def clock() -> MovingClock:
    return MovingClock()


def make(
    cluster: ObjectCluster,
    clock: MovingClock,
    notifier: RecordingNotifier,
    *,
    verifier: FixedVerifier | None = None,
    policy: ApprovalPolicy | None = None,
    store: MemoryStore | None = None,
) -> Pipeline:
    hooks = ChangeHooks(notifiers=[notifier])
    if verifier is not None:
        hooks.register_verifier("test", verifier)
    settings = PipelineSettings(
        default_policy=policy or ApprovalPolicy(), hold_retry_s=30, max_hold_s=1200
    )
    return Pipeline(
        change_services(cluster, clock=clock, settings=settings, hooks=hooks, store=store)
    )


def propose(p: Pipeline, prop: Proposal | None = None) -> Change:
    result = p.propose(prop or proposal(), ALICE)
    assert isinstance(result, ChangeProposed), result
    return result.change


def test_propose_stores_a_change_with_diff_and_announces_it(cluster, clock, notifier) -> None:
    p = make(cluster, clock, notifier)
    change = propose(p)
    assert is_change_id(change.id)
    assert change.state is ChangeState.PROPOSED
    assert change.diff == (
        f"update PeerAuthentication shop/default ({API})",
        "    ~ spec.mtls.mode: PERMISSIVE → STRICT",
    )
    assert change.expires_at == clock.now() + 3600
    assert notifier.names() == ["proposed"]
    assert p.find(change.id) == change
    assert cluster.writes == []


def test_nothing_to_change_is_said_and_nothing_stored(cluster, clock, notifier) -> None:
    p = make(cluster, clock, notifier)
    result = p.propose(proposal("PERMISSIVE"), ALICE)
    assert isinstance(result, Text) and "already in place" in result.title
    assert p.history().rows == ()


def test_a_dry_run_refusal_proposes_nothing(cluster, clock, notifier) -> None:
    cluster.invalid = lambda obj: 'spec.mtls.mode: Unsupported value: "STRIKT"'
    p = make(cluster, clock, notifier)
    result = p.propose(proposal("STRIKT"), ALICE)
    assert isinstance(result, Failure)
    assert "dry run refused" in result.message and "STRIKT" in result.message
    assert p.history().rows == ()


def test_approval_applies_and_verification_passes(cluster, clock, notifier) -> None:
    verifier = FixedVerifier(Verdict(VerdictOutcome.PASS, ("all good",)))
    p = make(cluster, clock, notifier, verifier=verifier)
    change = propose(p)
    acted = p.approve(change.id, BOB)
    assert acted.outcome is ActionOutcome.DONE
    assert acted.change is not None and acted.change.state is ChangeState.VERIFYING
    assert cluster.live(ref())["spec"]["mtls"]["mode"] == "STRICT"
    assert p.run_due() == 0  # bake window not over
    clock.advance(601)
    assert p.run_due() == 1
    done = p.find(change.id)
    assert done is not None and done.state is ChangeState.VERIFIED
    assert done.snapshots[0].before["spec"]["mtls"]["mode"] == "PERMISSIVE"
    assert notifier.names() == [
        "proposed",
        "approved",
        "applying",
        "applied",
        "verifying",
        "verified",
    ]


def test_every_transition_is_in_the_audit_stream(cluster, clock, notifier) -> None:
    store = MemoryStore()
    p = make(cluster, clock, notifier, store=store)
    change = propose(p)
    p.approve(change.id, BOB)
    p.rollback(change.id, ALICE, "test")
    events = [
        (e.fields["event"], e.fields["actor"], e.fields["result"]) for e in store.audit["prod"]
    ]
    assert events == [
        ("proposed", "U_ALICE", "ok"),
        ("approved", "U_BOB", "ok"),
        ("applying", "meshbot", "ok"),
        ("applied", "meshbot", "ok"),
        ("verified", "meshbot", "ok"),
        ("rolling back", "U_ALICE", "ok"),
        ("rolled back", "meshbot", "ok"),
    ]
    assert all(
        e.fields["change"] == change.id and e.fields["cluster"] == "prod"
        for e in store.audit["prod"]
    )


def test_self_approval_is_refused_even_for_an_approver(cluster, clock, notifier) -> None:
    p = make(cluster, clock, notifier)
    change = p.propose(proposal(), BOB)
    assert isinstance(change, ChangeProposed)
    acted = p.approve(change.change.id, BOB)
    assert acted.outcome is ActionOutcome.REFUSED
    assert "you proposed" in acted.message
    assert cluster.writes == []


def test_a_non_approver_is_refused_and_it_is_audited(cluster, clock, notifier) -> None:
    store = MemoryStore()
    p = make(cluster, clock, notifier, store=store)
    change = propose(p)
    acted = p.approve(change.id, Caller("U_DAVE", Role.OPERATOR))
    assert acted.outcome is ActionOutcome.REFUSED and "not an approver" in acted.message
    assert store.audit["prod"][-1].fields["result"] == "refused"


def test_policy_names_the_approvers_and_groups_resolve(cluster, clock, notifier) -> None:
    policy = ApprovalPolicy(approvers=("@mesh-approvers",), approvals=2)
    p = make(cluster, clock, notifier, policy=policy)

    class Groups:
        def members(self, group: str) -> frozenset[str]:
            return frozenset({"U_BOB", "U_CAROL"}) if group == "@mesh-approvers" else frozenset()

    p.kit.hooks.directory = Groups()
    change = propose(p)
    outsider = p.approve(change.id, Caller("U_ERIN", Role.APPROVER))
    assert outsider.outcome is ActionOutcome.REFUSED
    first = p.approve(change.id, BOB)
    assert first.message == f"Approved {change.id} (1 of 2 approvals)"
    assert cluster.writes == []
    second = p.approve(change.id, CAROL)
    assert second.change is not None and second.change.state is ChangeState.VERIFIED
    assert cluster.writes == ["replace PeerAuthentication shop/default"]


def test_policy_rules_match_kind_and_cluster() -> None:
    strict = ApprovalPolicy(approvals=2)
    rules = (PolicyRule("mtls-*", "prod", strict),)
    from commands.changes.machine import policy_for

    assert policy_for(rules, ApprovalPolicy(), "mtls-strict", "prod") == strict
    assert policy_for(rules, ApprovalPolicy(), "mtls-strict", "staging").approvals == 1
    assert policy_for(rules, ApprovalPolicy(), "timeouts", "prod").approvals == 1


def test_the_same_approval_twice_is_a_noop(cluster, clock, notifier) -> None:
    p = make(cluster, clock, notifier, policy=ApprovalPolicy(approvals=2))
    change = propose(p)
    p.approve(change.id, BOB)
    again = p.approve(change.id, BOB)
    assert again.outcome is ActionOutcome.NOOP
    assert notifier.names().count("approved") == 1


def test_approval_after_expiry_is_refused_and_says_expired(cluster, clock, notifier) -> None:
    p = make(cluster, clock, notifier)
    change = propose(p)
    clock.advance(3601)
    acted = p.approve(change.id, BOB)
    assert acted.outcome is ActionOutcome.REFUSED and "expired" in acted.message
    assert p.find(change.id).state is ChangeState.EXPIRED  # type: ignore[union-attr]
    assert cluster.writes == []


def test_the_sweep_expires_stale_proposals(cluster, clock, notifier) -> None:
    p = make(cluster, clock, notifier)
    change = propose(p)
    clock.advance(3599)
    assert p.run_due() == 0
    clock.advance(2)
    assert p.run_due() == 1
    assert p.find(change.id).state is ChangeState.EXPIRED  # type: ignore[union-attr]
    assert notifier.names()[-1] == "expired"


def test_rejection_ends_the_change(cluster, clock, notifier) -> None:
    p = make(cluster, clock, notifier)
    change = propose(p)
    acted = p.reject(change.id, BOB, "not during the sale")
    assert acted.outcome is ActionOutcome.DONE
    assert acted.change is not None and acted.change.rejection is not None
    assert acted.change.rejection.note == "not during the sale"
    late = p.approve(change.id, CAROL)
    assert late.outcome is ActionOutcome.NOOP and "rejected" in late.message
    assert cluster.writes == []


def test_failed_gates_block_until_an_approver_overrides_with_a_reason(
    cluster, clock, notifier
) -> None:
    store = MemoryStore()
    p = make(cluster, clock, notifier, store=store)
    gate = Gate("plaintext", GateStatus.UNKNOWN, "not enough traffic to judge")
    change = propose(p, proposal(gates=(gate,)))
    blocked = p.approve(change.id, BOB)
    assert blocked.outcome is ActionOutcome.REFUSED and "override=" in blocked.message
    ok = p.approve(change.id, BOB, override="batch job retired, checked by hand")
    assert ok.outcome is ActionOutcome.DONE
    assert ok.change is not None and ok.change.approvals[0].override == (
        "batch job retired, checked by hand"
    )
    approved = next(e for e in store.audit["prod"] if e.fields["event"] == "approved")
    assert "overrode failed gates: batch job retired" in approved.fields["detail"]


def test_drift_between_proposal_and_apply_is_refused_and_said(cluster, clock, notifier) -> None:
    p = make(cluster, clock, notifier)
    change = propose(p)

    def someone_edits(obj: dict[str, Any]) -> None:
        obj["spec"]["mtls"]["mode"] = "DISABLE"

    cluster.edit(ref(), someone_edits)
    acted = p.approve(change.id, BOB)
    assert acted.change is not None and acted.change.state is ChangeState.FAILED
    assert "drift" in acted.change.reason
    assert "~ spec.mtls.mode: PERMISSIVE → DISABLE" in acted.change.reason
    assert cluster.live(ref())["spec"]["mtls"]["mode"] == "DISABLE"
    assert cluster.writes == []


def test_a_409_at_apply_fails_with_the_reason_and_restores_what_was_written(
    cluster, clock, notifier
) -> None:
    second = ref("shop", "extra")
    prop = Proposal(
        kind="test",
        cluster="prod",
        title="two objects",
        objects=(
            ObjectChange(ref(), pa("shop", "default", "STRICT")),
            ObjectChange(second, pa("shop", "extra", "STRICT")),
        ),
    )
    p = make(cluster, clock, notifier)
    change = propose(p, prop)
    from commands.changes.model import ObjectConflict

    cluster.failures["create_object"] = [
        ObjectConflict("cluster prod: create refused (409 Conflict)")
    ]
    acted = p.approve(change.id, BOB)
    failed = acted.change
    assert failed is not None and failed.state is ChangeState.FAILED
    assert (
        "409 Conflict" in failed.reason
        and "restored PeerAuthentication shop/default" in failed.reason
    )
    assert cluster.live(ref())["spec"]["mtls"]["mode"] == "PERMISSIVE"
    assert cluster.live(second) is None
    assert failed.snapshots == ()  # nothing left to roll back


def test_a_500_at_apply_fails_with_the_reason(cluster, clock, notifier) -> None:
    p = make(cluster, clock, notifier)
    change = propose(p)
    cluster.failures["replace_object"] = [api_500()]
    acted = p.approve(change.id, BOB)
    assert acted.change is not None and acted.change.state is ChangeState.FAILED
    assert "500" in acted.change.reason
    assert cluster.live(ref())["spec"]["mtls"]["mode"] == "PERMISSIVE"


def test_rollback_restores_the_exact_previous_object(cluster, clock, notifier) -> None:
    cluster.edit(ref(), lambda o: o["metadata"].setdefault("labels", {}).update(team="shop"))
    before = cluster.live(ref())
    p = make(cluster, clock, notifier)
    change = propose(p)
    p.approve(change.id, BOB)
    acted = p.rollback(change.id, ALICE, "5xx")
    assert acted.outcome is ActionOutcome.DONE
    assert acted.change is not None and acted.change.state is ChangeState.ROLLED_BACK
    after = cluster.live(ref())
    assert after is not None and before is not None
    assert after["spec"] == before["spec"] and after["metadata"]["labels"] == {"team": "shop"}
    again = p.rollback(change.id, ALICE)
    assert again.outcome is ActionOutcome.NOOP


def test_rollback_of_a_created_object_deletes_it(clock, notifier) -> None:
    empty = ObjectCluster()
    p = make(empty, clock, notifier)
    change = propose(p)
    p.approve(change.id, BOB)
    assert empty.live(ref()) is not None
    p.rollback(change.id, ALICE)
    assert empty.live(ref()) is None


def test_rollback_refuses_when_someone_changed_the_object_since(cluster, clock, notifier) -> None:
    p = make(cluster, clock, notifier)
    change = propose(p)
    p.approve(change.id, BOB)
    cluster.edit(ref(), lambda o: o["spec"].update(portLevelMtls={"8080": {"mode": "DISABLE"}}))
    acted = p.rollback(change.id, ALICE)
    assert acted.outcome is ActionOutcome.REFUSED
    assert "someone changed" in acted.message and "portLevelMtls" in acted.message
    assert acted.change is not None and acted.change.state is ChangeState.VERIFIED
    assert cluster.live(ref())["spec"]["mtls"]["mode"] == "STRICT"


def test_rollback_needs_an_operator_and_optionally_an_approver(cluster, clock, notifier) -> None:
    p = make(cluster, clock, notifier, policy=ApprovalPolicy(rollback_needs_approver=True))
    change = propose(p)
    p.approve(change.id, BOB)
    assert p.rollback(change.id, VIC).outcome is ActionOutcome.REFUSED
    refused = p.rollback(change.id, ALICE)
    assert refused.outcome is ActionOutcome.REFUSED and "needs an approver" in refused.message
    assert p.rollback(change.id, CAROL).outcome is ActionOutcome.DONE


def test_a_breach_fails_the_change_and_offers_rollback(cluster, clock, notifier) -> None:
    verifier = FixedVerifier(
        Verdict(VerdictOutcome.BREACH, ("shop/orders: 5xx 8.0% (baseline 0.1%)",))
    )
    p = make(cluster, clock, notifier, verifier=verifier)
    change = propose(p)
    p.approve(change.id, BOB)
    clock.advance(601)
    p.run_due()
    failed = p.find(change.id)
    assert failed is not None and failed.state is ChangeState.FAILED
    assert "5xx 8.0%" in failed.reason
    assert notifier.names()[-1] == "breach"
    assert p.rollback(change.id, ALICE).outcome is ActionOutcome.DONE


def test_no_data_holds_and_says_so_never_passes(cluster, clock, notifier) -> None:
    verifier = FixedVerifier(Verdict(VerdictOutcome.HOLD, ("not enough traffic to judge",)))
    p = make(cluster, clock, notifier, verifier=verifier)
    change = propose(p)
    p.approve(change.id, BOB)
    for _ in range(6):
        clock.advance(601)
        p.run_due()
    held = p.find(change.id)
    assert held is not None and held.state is ChangeState.VERIFYING
    assert held.verify_at is None  # stopped looking after max_hold_s; stays held
    assert notifier.names().count("hold") == 2  # first hold, and the give-up
    assert held.verification == ("not enough traffic to judge",)


def test_redis_down_at_a_click_tells_the_user_and_applies_nothing(cluster, clock, notifier) -> None:
    store = MemoryStore()
    p = make(cluster, clock, notifier, store=store)
    change = propose(p)
    store.down = True
    with pytest.raises(StoreUnavailable):
        p.approve(change.id, BOB)
    assert cluster.writes == []


def test_a_new_proposal_supersedes_an_open_one_for_the_same_object(
    cluster, clock, notifier
) -> None:
    p = make(cluster, clock, notifier)
    old = propose(p)
    new = propose(p)
    assert p.find(old.id).state is ChangeState.SUPERSEDED  # type: ignore[union-attr]
    assert p.find(new.id).state is ChangeState.PROPOSED  # type: ignore[union-attr]


def test_history_lists_newest_first(cluster, clock, notifier) -> None:
    p = make(cluster, clock, notifier)
    first = propose(p)
    clock.advance(10)
    second = propose(p, proposal(kind="other"))
    rows = p.history(limit=5).rows
    assert [r.id for r in rows] == [second.id, first.id]
    assert p.history(limit=1).rows[0].id == second.id


def test_watchers_see_recent_applied_changes_and_can_roll_them_back(
    cluster, clock, notifier
) -> None:
    from commands.changes.recent import ChangeTarget, PipelineRecentChanges

    p = make(cluster, clock, notifier)
    change = propose(p)
    p.approve(change.id, BOB)
    recent = PipelineRecentChanges(p.services)
    found = recent.recent_changes_touching("prod", ChangeTarget(namespace="shop"), 3600)
    assert [(r.id, r.by, r.can_roll_back) for r in found] == [(change.id, "U_ALICE", True)]
    assert recent.recent_changes_touching("prod", ChangeTarget(namespace="other"), 3600) == []
    assert recent.recent_changes_touching("prod", ChangeTarget(node="node-a"), 3600) == []
    by_name = ChangeTarget(service=change.objects[0].ref.name)
    assert [r.id for r in recent.recent_changes_touching("prod", by_name, 3600)] == [change.id]
    assert recent.rollback(change.id, Caller("U_ALICE", None)).started is False  # no role
    denied = recent.rollback(change.id, VIC)
    assert not denied.started and "operator role" in denied.message
    done = recent.rollback(change.id, ALICE)
    assert done.started and cluster.live(ref())["spec"]["mtls"]["mode"] == "PERMISSIVE"
    assert not recent.rollback(change.id, ALICE).started
    assert recent.recent_changes_touching("prod", ChangeTarget(namespace="shop"), 3600) == []
