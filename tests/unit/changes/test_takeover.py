"""A replica killed while it applies or rolls back: what the next sweep finds and does,
and what people are told. The killed replica is one whose port raises `ReplicaKilled`
at a chosen call (its work lease is left to expire, as a killed process leaves it)."""

from __future__ import annotations

from typing import Any

import pytest

from commands.changes.applying import record
from commands.changes.hooks import ChangeHooks, PipelineSettings
from commands.changes.model import (
    Change,
    ChangeProposed,
    ChangeState,
    ObjectChange,
    ObjectRef,
    Proposal,
)
from commands.changes.pipeline import Pipeline
from commands.core.errors import StoreUnavailable
from commands.core.model import ActionOutcome, Caller, Role
from tests.unit.changes.fakes import (
    KillAt,
    MovingClock,
    ObjectCluster,
    RecordingNotifier,
    ReplicaKilled,
    api_500,
    change_services,
)
from tests.unit.fakes import MemoryStore

ALICE = Caller("U_ALICE", Role.OPERATOR)
BOB = Caller("U_BOB", Role.APPROVER)
API = "security.istio.io/v1"
LEASE_S = 30.0


def pa(name: str, mode: str) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "PeerAuthentication",
        "metadata": {"name": name, "namespace": "shop", "labels": {"team": "shop"}},
        "spec": {"mtls": {"mode": mode}},
    }


def ref(name: str = "default") -> ObjectRef:
    return ObjectRef(API, "PeerAuthentication", "peerauthentications", name, "shop")


class Rig:
    """One store and cluster; the live replica, and replicas that get killed."""

    def __init__(self) -> None:
        self.clock = MovingClock()
        self.store = MemoryStore(clock=self.clock)
        self.cluster = ObjectCluster()
        self.cluster.add(pa("default", "PERMISSIVE"), "peerauthentications")
        self.notifier = RecordingNotifier()
        self.live = self.replica(self.cluster, "replica-live")

    def replica(self, cluster: Any, name: str, store: Any = None) -> Pipeline:
        return Pipeline(
            change_services(
                cluster,
                store=store or self.store,
                clock=self.clock,
                settings=PipelineSettings(apply_lease_s=LEASE_S),
                hooks=ChangeHooks(notifiers=[self.notifier]),
                replica_id=name,
            )
        )

    def propose(self, *objects: ObjectChange) -> Change:
        objects = objects or (ObjectChange(ref(), pa("default", "STRICT")),)
        proposal = Proposal("test", "prod", "mTLS STRICT for shop", objects)
        result = self.live.propose(proposal, ALICE)
        assert isinstance(result, ChangeProposed), result
        return result.change

    def kill_approving(self, change: Change, cluster: Any = None, store: Any = None) -> Change:
        doomed = self.replica(cluster or self.cluster, "replica-doomed", store)
        with pytest.raises(ReplicaKilled):
            doomed.approve(change.id, BOB)
        return self.now(change)

    def now(self, change: Change) -> Change:
        found = self.live.find(change.id)
        assert found is not None
        return found

    def sweep_after_the_lease(self) -> int:
        self.clock.advance(LEASE_S + 1)
        return self.live.run_due()

    def mode(self, name: str = "default") -> str | None:
        live = self.cluster.live(ref(name))
        return None if live is None else live["spec"]["mtls"]["mode"]

    def detail(self, event: str) -> str:
        return next(e.detail for e in self.notifier.events if e.event == event)

    def audited(self, change: Change) -> list[str]:
        entries = self.store.audit["prod"]
        return [e.fields["event"] for e in entries if e.fields["change"] == change.id]


def two_objects() -> tuple[ObjectChange, ObjectChange]:
    return (
        ObjectChange(ref(), pa("default", "STRICT")),
        ObjectChange(ref("extra"), pa("extra", "STRICT")),
    )


def test_killed_after_its_write_landed_the_next_sweep_finishes_and_tells() -> None:
    rig = Rig()
    change = rig.propose()
    stuck = rig.kill_approving(change, KillAt(rig.cluster, at=1, landed=True))
    assert stuck.state is ChangeState.APPLYING and rig.mode() == "STRICT"
    assert stuck.plan[0].before is not None and stuck.plan[0].before["spec"]["mtls"]["mode"] == (
        "PERMISSIVE"
    )
    assert rig.live.run_due() == 0  # its lease has not expired: it may still be working

    assert rig.sweep_after_the_lease() == 1
    done = rig.now(change)
    assert done.state is ChangeState.VERIFIED
    assert rig.cluster.writes == ["replace PeerAuthentication shop/default"]  # once
    taken = rig.detail("taken over")
    assert "replica-doomed stopped while applying" in taken
    assert "written: PeerAuthentication shop/default" in taken
    assert rig.detail("applied") == (
        "1 object(s) in place: 1 written before replica-doomed stopped, 0 now by replica-live"
    )
    assert rig.audited(change) == [
        "proposed", "approved", "applying", "taken over", "applied", "verified"
    ]  # fmt: skip

    back = rig.live.rollback(change.id, ALICE)
    assert back.outcome is ActionOutcome.DONE and rig.mode() == "PERMISSIVE"
    assert rig.cluster.live(ref())["metadata"]["labels"] == {"team": "shop"}  # type: ignore[index]


def test_killed_before_its_first_write_the_next_sweep_writes_it_once() -> None:
    rig = Rig()
    change = rig.propose()
    stuck = rig.kill_approving(change, KillAt(rig.cluster, at=1, landed=False))
    assert stuck.state is ChangeState.APPLYING and rig.mode() == "PERMISSIVE"
    assert rig.sweep_after_the_lease() == 1
    assert rig.now(change).state is ChangeState.VERIFIED and rig.mode() == "STRICT"
    assert "not written: PeerAuthentication shop/default" in rig.detail("taken over")
    assert rig.cluster.writes == ["replace PeerAuthentication shop/default"]


def test_while_it_is_still_applying_rollback_and_reject_say_so_truthfully() -> None:
    rig = Rig()
    change = rig.propose()
    rig.kill_approving(change, KillAt(rig.cluster, at=1, landed=True))
    back = rig.live.rollback(change.id, ALICE)
    assert back.outcome is ActionOutcome.REFUSED
    assert "being applied right now (by replica-doomed)" in back.message
    assert "wrote nothing" not in back.message
    no = rig.live.reject(change.id, BOB)
    assert no.outcome is ActionOutcome.REFUSED and "being applied" in no.message
    assert rig.mode() == "STRICT"  # nothing undone behind anyone's back


def test_an_object_changed_by_someone_else_makes_it_interrupted_with_the_truth() -> None:
    rig = Rig()
    change = rig.propose(*two_objects())
    rig.kill_approving(change, KillAt(rig.cluster, at=1, landed=True))
    rig.cluster.add(pa("extra", "DISABLE"), "peerauthentications")  # someone, meanwhile
    assert rig.sweep_after_the_lease() == 1
    stuck = rig.now(change)
    assert stuck.state is ChangeState.INTERRUPTED
    assert "written: PeerAuthentication shop/default" in stuck.reason
    assert "neither as before nor as planned, left alone: PeerAuthentication shop/extra" in (
        stuck.reason
    )
    assert [s.ref.name for s in stuck.snapshots] == ["default"]
    assert rig.notifier.names()[-1] == "interrupted"

    no = rig.live.reject(change.id, BOB)
    assert no.outcome is ActionOutcome.REFUSED
    assert "interrupted part-way" in no.message and "roll it back" in no.message.lower()

    back = rig.live.rollback(change.id, ALICE)
    assert back.outcome is ActionOutcome.DONE
    assert rig.now(change).state is ChangeState.ROLLED_BACK
    assert rig.mode() == "PERMISSIVE" and rig.mode("extra") == "DISABLE"  # theirs kept


def test_a_finish_the_server_refuses_leaves_it_interrupted_and_rollback_restores() -> None:
    rig = Rig()
    change = rig.propose(*two_objects())
    rig.kill_approving(change, KillAt(rig.cluster, at=1, landed=True))
    rig.cluster.failures["create_object"] = [api_500("create")]
    assert rig.sweep_after_the_lease() == 1
    stuck = rig.now(change)
    assert stuck.state is ChangeState.INTERRUPTED
    assert "could not finish it: writing PeerAuthentication shop/extra failed" in stuck.reason
    assert "written: PeerAuthentication shop/default" in stuck.reason
    assert "not written: PeerAuthentication shop/extra" in stuck.reason
    assert rig.mode() == "STRICT" and rig.mode("extra") is None  # nothing undone unasked
    assert rig.live.rollback(change.id, ALICE).outcome is ActionOutcome.DONE
    assert rig.mode() == "PERMISSIVE" and rig.mode("extra") is None


def test_killed_between_claim_and_plan_the_sweep_applies_from_the_start() -> None:
    rig = Rig()
    change = rig.propose()
    # store updates of an approval: 1 the expiry check, 2 the approval, 3 the claim,
    # 4 the plan, 5 the record
    stuck = rig.kill_approving(change, store=KillAt(rig.store, at=4, methods=("update",)))
    assert stuck.state is ChangeState.APPLYING and stuck.plan == ()
    assert rig.sweep_after_the_lease() == 1
    assert rig.now(change).state is ChangeState.VERIFIED
    assert "before writing anything" in rig.detail("taken over")
    assert rig.cluster.writes == ["replace PeerAuthentication shop/default"]


def test_approved_but_never_claimed_is_applied_once_its_approval_is_older_than_the_lease() -> None:
    rig = Rig()
    change = rig.propose()
    stuck = rig.kill_approving(change, store=KillAt(rig.store, at=3, methods=("update",)))
    assert stuck.state is ChangeState.APPROVED and [a.user_id for a in stuck.approvals] == ["U_BOB"]
    assert rig.live.run_due() == 0  # the approving replica may be about to claim it
    assert rig.sweep_after_the_lease() == 1
    assert rig.now(change).state is ChangeState.VERIFIED and rig.mode() == "STRICT"
    assert "stopped first; replica-live applies it" in rig.detail("applying")


def test_killed_after_recording_the_sweep_only_tidies_the_active_list() -> None:
    rig = Rig()
    change = rig.propose()
    stuck = rig.kill_approving(
        change, store=KillAt(rig.store, at=5, methods=("update",), landed=True)
    )
    assert stuck.state is ChangeState.VERIFIED
    assert [c.id for c in rig.live.active("prod")] == [change.id]
    rig.sweep_after_the_lease()
    assert rig.live.active("prod") == []
    assert rig.cluster.writes == ["replace PeerAuthentication shop/default"]


def test_killed_mid_rollback_the_sweep_finishes_the_rollback() -> None:
    rig = Rig()
    change = rig.propose(*two_objects())
    rig.live.approve(change.id, BOB)
    doomed = rig.replica(KillAt(rig.cluster, at=1, landed=True), "replica-doomed")
    with pytest.raises(ReplicaKilled):
        doomed.rollback(change.id, ALICE)  # restores newest first: extra, then default
    assert rig.now(change).state is ChangeState.ROLLING_BACK and rig.mode("extra") is None
    assert rig.sweep_after_the_lease() == 1
    assert rig.now(change).state is ChangeState.ROLLED_BACK
    assert rig.mode() == "PERMISSIVE" and rig.mode("extra") is None
    taken = rig.detail("taken over")
    assert "stopped while rolling back" in taken
    assert "not restored yet: PeerAuthentication shop/default" in taken
    assert "restored: PeerAuthentication shop/extra" in taken


def test_a_replica_that_lost_its_lease_cannot_record_over_the_one_that_took_over() -> None:
    rig = Rig()
    change = rig.propose()
    stuck = rig.kill_approving(change, KillAt(rig.cluster, at=1, landed=True))
    rig.sweep_after_the_lease()
    late = record(rig.live.ledger, stuck, (), token=stuck.applier)
    assert late.state is ChangeState.VERIFIED
    assert rig.audited(change).count("applied") == 1


def test_an_unreadable_cluster_is_said_once_and_the_takeover_tried_again() -> None:
    rig = Rig()
    change = rig.propose()
    rig.kill_approving(change, KillAt(rig.cluster, at=1, landed=True))
    rig.cluster.failures["get_object"] = [api_500("read"), api_500("read")]
    assert rig.sweep_after_the_lease() == 0
    assert rig.live.run_due() == 0
    assert rig.notifier.names().count("takeover waiting") == 1
    assert "cannot read the cluster" in rig.detail("takeover waiting")
    assert rig.live.run_due() == 1
    assert rig.now(change).state is ChangeState.VERIFIED


def test_redis_down_when_recording_leaves_the_writes_for_the_sweep_to_record() -> None:
    rig = Rig()
    change = rig.propose()

    class StoreGoesDownAfterTheWrite:
        def __init__(self, inner: ObjectCluster) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def replace_object(self, *args: Any, **kwargs: Any) -> Any:
            written = self.inner.replace_object(*args, **kwargs)
            rig.store.down = not kwargs.get("dry_run")
            return written

    cut_off = rig.replica(StoreGoesDownAfterTheWrite(rig.cluster), "replica-cut-off")
    with pytest.raises(StoreUnavailable, match="written to the cluster but could not be recorded"):
        cut_off.approve(change.id, BOB)
    rig.store.down = False
    assert rig.now(change).state is ChangeState.APPLYING and rig.mode() == "STRICT"
    assert rig.sweep_after_the_lease() == 1
    assert rig.now(change).state is ChangeState.VERIFIED
    assert rig.cluster.writes == ["replace PeerAuthentication shop/default"]


def test_after_a_takeover_finished_it_a_rollback_restores_every_object_exactly() -> None:
    rig = Rig()
    change = rig.propose(*two_objects())
    rig.kill_approving(change, KillAt(rig.cluster, at=1, landed=True))
    rig.sweep_after_the_lease()
    assert rig.mode() == "STRICT" and rig.mode("extra") == "STRICT"
    back = rig.live.rollback(change.id, ALICE)
    assert back.outcome is ActionOutcome.DONE
    assert "restored PeerAuthentication shop/extra, PeerAuthentication shop/default" in (
        back.message
    )
    assert rig.mode() == "PERMISSIVE" and rig.mode("extra") is None
    assert rig.cluster.live(ref())["metadata"]["labels"] == {"team": "shop"}  # type: ignore[index]
