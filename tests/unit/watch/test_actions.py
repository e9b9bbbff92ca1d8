"""The alert commands (what the buttons dispatch) over in-memory ports: who may act,
what the record says after, the audit, storms, and a rollback through the pipeline."""

from __future__ import annotations

from typing import Any

import pytest

from commands.changes.hooks import ChangeHooks, PipelineSettings
from commands.changes.model import ApprovalPolicy, ChangeState, ObjectChange, ObjectRef, Proposal
from commands.changes.pipeline import Pipeline
from commands.changes.recent import ChangeRef
from commands.core.model import ActionOutcome, Caller, Denied, Result, Role, UsageError
from commands.core.ports import Services
from commands.core.registry import Registry
from commands.watch import commands as watch_commands
from commands.watch.actions import AlertActed
from commands.watch.alerts import BLIND_RULE, Alert, AlertState, Effect, Group, fire, new_alert
from commands.watch.store import AlertStore
from tests.unit.changes.fakes import MovingClock, ObjectCluster, change_services
from tests.unit.fakes import MemoryStore

ALICE = Caller("U_ALICE", Role.OPERATOR, "C_ONCALL", "slack")
BOB = Caller("U_BOB", Role.APPROVER, "C_ONCALL", "slack")
VIEWER = Caller("U_VIEWER", Role.VIEWER, "C_ONCALL", "slack")
API = "security.istio.io/v1"
REF = ObjectRef(API, "PeerAuthentication", "peerauthentications", "default", "shop")


def pa(mode: str) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "shop"},
        "spec": {"mtls": {"mode": mode}},
    }


class Rig:
    def __init__(self, policy: ApprovalPolicy | None = None) -> None:
        self.clock = MovingClock()
        self.store = MemoryStore(clock=self.clock)
        self.cluster = ObjectCluster()
        self.cluster.add(pa("PERMISSIVE"), "peerauthentications")
        settings = PipelineSettings(default_policy=policy or ApprovalPolicy())
        self.services: Services = change_services(
            self.cluster,
            store=self.store,
            clock=self.clock,
            settings=settings,
            hooks=ChangeHooks(),
        )
        self.registry = Registry()
        watch_commands.register(self.registry)
        self.alerts = AlertStore(self.store)

    def run(self, text: str, caller: Caller = ALICE) -> Result:
        return self.registry.dispatch(text, caller, self.services)

    def firing(self, alert_id: str, subject: str, **fields: Any) -> Alert:
        """An alert that fired and was posted in the on-call channel."""
        now = self.clock.now()
        alert = fire(new_alert(alert_id, "prod", "latency", subject, "ms", now), now, None)
        values = {**alert.to_json(), "outbox": [], "channel": "C_ONCALL", "ts": f"1.{alert_id}"}
        stored = Alert.from_json({**values, **fields})
        self.alerts.update("prod", stored.fingerprint, lambda _: stored.to_json())
        self.alerts.remember(alert_id, "prod", stored.fingerprint)
        return stored

    def audit(self) -> list[tuple[str, str, str]]:
        return [
            (e.fields["action"], e.fields["alert"], e.fields["user"])
            for e in self.store.read_audit("prod")
            if e.fields.get("kind") == "alert"
        ]


def acted(result: Result) -> AlertActed:
    assert isinstance(result, AlertActed), result
    return result


def test_an_operator_acknowledges_and_the_watchers_are_asked_to_re_render() -> None:
    rig = Rig()
    rig.firing("a1", "payments.payments.svc.cluster.local")
    answer = acted(rig.run("alert ack a1"))
    assert answer.outcome is ActionOutcome.DONE
    assert answer.alert is not None and answer.alert.state is AlertState.ACKNOWLEDGED
    stored = rig.alerts.get("a1")
    assert stored is not None and stored.ack_by == "U_ALICE"
    assert stored.outbox == (Effect.EDIT,)  # shown in Slack even when typed on the CLI
    assert rig.audit() == [("acknowledge", "a1", "U_ALICE")]
    again = acted(rig.run("alert ack a1", BOB))
    assert again.outcome is ActionOutcome.REFUSED and "<@U_ALICE> already" in again.message
    assert not again.changed


def test_a_viewer_is_denied_by_the_registry_and_nothing_changes() -> None:
    rig = Rig()
    rig.firing("a1", "payments.payments.svc.cluster.local")
    for text in ("alert ack a1", "alert silence a1 for=1h", "alert rollback a1"):
        denied = rig.run(text, VIEWER)
        assert isinstance(denied, Denied) and "needs the operator role" in denied.reason
    stored = rig.alerts.get("a1")
    assert stored is not None and stored.state is AlertState.FIRING
    assert rig.audit() == []


def test_silence_for_four_hours_sets_a_silence_that_expires() -> None:
    rig = Rig()
    alert = rig.firing("a1", "payments.payments.svc.cluster.local")
    answer = acted(rig.run("alert silence a1 for=4h"))
    assert answer.outcome is ActionOutcome.DONE and "silenced until" in answer.message
    stored = rig.alerts.get("a1")
    assert stored is not None and stored.state is AlertState.SILENCED
    assert stored.silenced_until == rig.clock.now() + 4 * 3600
    assert rig.alerts.silenced_until("prod", alert.fingerprint) == rig.clock.now() + 4 * 3600
    rig.clock.advance(4 * 3600 + 1)  # the silence key lives exactly as long
    assert rig.alerts.silenced_until("prod", alert.fingerprint) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("alert silence a1 for=2h", "must be one of 1h, 4h"),
        ("alert silence a1", "`for` is required"),
        ("alert ack", "`id` is required"),
        ("alert ack a1;rm", "is not an alert id"),
    ],
)
def test_bad_input_is_a_usage_error_and_changes_nothing(text: str, problem: str) -> None:
    rig = Rig()
    rig.firing("a1", "payments.payments.svc.cluster.local")
    answer = rig.run(text)
    assert isinstance(answer, UsageError) and problem in answer.problem, answer
    stored = rig.alerts.get("a1")
    assert stored is not None and stored.state is AlertState.FIRING and rig.audit() == []


def test_an_unknown_or_resolved_alert_is_refused_plainly() -> None:
    rig = Rig()
    gone = acted(rig.run("alert ack nosuchalert"))
    assert gone.outcome is ActionOutcome.REFUSED and "no longer known" in gone.message
    rig.firing("a2", "cart.shop.svc.cluster.local", state="resolved")
    resolved = acted(rig.run("alert silence a2 for=1h"))
    assert resolved.outcome is ActionOutcome.REFUSED and "already resolved" in resolved.message


def test_a_watcher_blind_notice_is_not_an_alert_to_act_on() -> None:
    rig = Rig()
    now = rig.clock.now()
    notice = fire(new_alert("b1", "prod", BLIND_RULE, "prod", "", now), now, None)
    rig.alerts.update("prod", notice.fingerprint, lambda _: notice.to_json())
    rig.alerts.remember("b1", "prod", notice.fingerprint)
    for text in ("alert ack b1", "alert silence b1 for=1h"):
        answer = acted(rig.run(text))
        assert answer.outcome is ActionOutcome.REFUSED and "watcher blind" in answer.message
    stored = rig.alerts.get("b1")
    assert stored is not None and stored.state is AlertState.FIRING


def test_a_storm_is_acknowledged_at_once_then_there_is_nothing_left() -> None:
    rig = Rig()
    members = [
        rig.firing(f"s{i}", f"svc{i}.shop.svc.cluster.local", group_id="g1") for i in range(3)
    ]
    group = Group("g1", "prod", tuple(m.fingerprint for m in members), rig.clock.now(), "C", "9.9")
    rig.alerts.save_group(group)
    answer = acted(rig.run("alert group ack g1"))
    assert answer.outcome is ActionOutcome.DONE and answer.group == group
    assert {m.state for m in answer.members} == {AlertState.ACKNOWLEDGED}
    assert len(rig.audit()) == 3
    nothing = acted(rig.run("alert group ack g1", BOB))
    assert nothing.outcome is ActionOutcome.REFUSED and "Nothing to do" in nothing.message
    quiet = acted(rig.run("alert group silence g1 for=1h"))
    assert quiet.outcome is ActionOutcome.DONE  # acknowledged alerts can still be silenced
    assert {m.state for m in quiet.members} == {AlertState.SILENCED}
    one = acted(rig.run("alert silence s0 for=4h"))
    assert one.group == group  # a member's message is the storm's
    wrong = acted(rig.run("alert ack g1"))
    assert "is a storm: `alert group ack g1`" in wrong.message


def applied_change(rig: Rig) -> str:
    pipeline = Pipeline(rig.services)
    proposal = Proposal("test", "prod", "mTLS STRICT on shop", (ObjectChange(REF, pa("STRICT")),))
    proposed = pipeline.propose(proposal, Caller("U_CAROL", Role.OPERATOR))
    change_id: str = proposed.change.id  # type: ignore[attr-defined]
    pipeline.approve(change_id, BOB)
    assert rig.cluster.live(REF)["spec"]["mtls"]["mode"] == "STRICT"  # type: ignore[index]
    return change_id


def test_rollback_runs_through_the_pipeline_as_the_clicker_once() -> None:
    rig = Rig()
    change_id = applied_change(rig)
    cause = ChangeRef(change_id, "mTLS STRICT on shop", rig.clock.now(), "U_CAROL")
    rig.firing("a1", "payments.shop.svc.cluster.local", cause=vars(cause))
    answer = acted(rig.run("alert rollback a1"))
    assert answer.outcome is ActionOutcome.DONE
    assert rig.cluster.live(REF)["spec"]["mtls"]["mode"] == "PERMISSIVE"  # type: ignore[index]
    assert f"Rolled back {change_id}" in str(answer.thread_note) and "<@U_ALICE>" in answer.message
    assert answer.thread == ("C_ONCALL", "1.a1")
    assert answer.alert is not None and answer.alert.rollback_by == "U_ALICE"
    change = Pipeline(rig.services).find(change_id)
    assert change is not None and change.state is ChangeState.ROLLED_BACK
    assert change.timeline[-2].actor == "U_ALICE"  # the pipeline saw the clicker
    again = acted(rig.run("alert rollback a1", BOB))
    assert again.outcome is ActionOutcome.REFUSED and "already started" in again.message
    assert rig.audit()[-1] == ("rollback", "a1", "U_ALICE")


def test_a_rollback_the_pipeline_refuses_is_said_in_the_thread_and_offered_again() -> None:
    rig = Rig(ApprovalPolicy(rollback_needs_approver=True))
    change_id = applied_change(rig)
    cause = ChangeRef(change_id, "mTLS STRICT on shop", rig.clock.now(), "U_CAROL")
    rig.firing("a1", "payments.shop.svc.cluster.local", cause=vars(cause))
    answer = acted(rig.run("alert rollback a1"))  # an operator, but the policy wants approvers
    assert answer.outcome is ActionOutcome.REFUSED and "needs an approver" in answer.message
    assert answer.thread_note == answer.message and answer.thread is not None
    assert answer.alert is not None and answer.alert.rollback_by is None
    assert rig.cluster.live(REF)["spec"]["mtls"]["mode"] == "STRICT"  # type: ignore[index]
    assert acted(rig.run("alert rollback a1", BOB)).outcome is ActionOutcome.DONE
    assert rig.audit() == [("rollback refused", "a1", "U_ALICE"), ("rollback", "a1", "U_BOB")]


def test_an_alert_without_a_likely_cause_has_nothing_to_roll_back() -> None:
    rig = Rig()
    rig.firing("a1", "payments.payments.svc.cluster.local")
    answer = acted(rig.run("alert rollback a1"))
    assert answer.outcome is ActionOutcome.REFUSED and "no change to roll back" in answer.message
