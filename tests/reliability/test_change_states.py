"""Property-based test of the change pipeline against the live store: any interleaving of
propose / approve / reject / rollback / expire / sweep / someone editing the objects /
the API refusing a write / a replica killed mid-apply or mid-rollback / the takeover
keeps the pipeline's promises.

The store is real Redis (its own key prefix per run, removed after); the cluster is the
in-memory fake (fast, and it logs every write with the object before and after). A
killed replica is one whose cluster or store raises `ReplicaKilled` at a chosen call
(before it, or right after it landed): nothing after runs and its work lease is left to
expire, as SIGKILL leaves it. Its lease is short (0.1 s); the test waits for it to
expire (polling Redis) before going on, so every step is deterministic.

Invariants, after every step:
- the requester never approves, and no approval the pipeline accepted is ever lost;
- every transition of every change is in the cluster's audit stream, in order;
- a change is applied at most once: one `applied` event, and no write ever puts a
  change's content over the same content (a second apply of what is already there);
- every object is what the records say: its `before` or `after` as the last change to
  claim it recorded (applied, interrupted, rolled back, failed with what was left), or
  an outside edit — except while a change is mid-apply (then before or as planned) or
  mid-rollback;
- a rollback that says done restored every `before` exactly;
- after a sweep with every lease expired, no change is left approved, applying or
  rolling back.
"""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from bot.adapters.redis_store import RedisStore
from commands.changes.diffs import same_object
from commands.changes.hooks import (
    ChangeHooks,
    PipelineSettings,
    Verdict,
    VerdictOutcome,
)
from commands.changes.lease import lease_name
from commands.changes.machine import ROLLBACK_FROM, PolicyRule
from commands.changes.model import (
    ApprovalPolicy,
    Change,
    ChangeProposed,
    ChangeState,
    ObjectChange,
    ObjectRef,
    Proposal,
)
from commands.changes.pipeline import Pipeline
from commands.core.model import ActionOutcome, Caller, Role
from commands.core.ports import Services
from tests.unit.changes.fakes import (
    KillAt,
    MovingClock,
    ObjectCluster,
    ReplicaKilled,
    api_500,
    change_services,
)

S = ChangeState
API = "security.istio.io/v1"
NONCE = "test/nonce"
NAMES = ("a", "b")
ALICE = Caller("U_ALICE", Role.OPERATOR)
BOB = Caller("U_BOB", Role.APPROVER)
CAROL = Caller("U_CAROL", Role.APPROVER)
DAVE = Caller("U_DAVE", Role.APPROVER)
VIC = Caller("U_VIEWER", Role.VIEWER)
PEOPLE = (ALICE, BOB, CAROL, VIC)
LIVE_LEASE_S = 5.0
DOOMED_LEASE_S = 0.05
IN_FLIGHT = (S.APPROVED, S.APPLYING, S.ROLLING_BACK)
# where an approving replica dies: at its Nth cluster write or store update, before the
# call or right after it landed (updates: 1 expiry check, 2 approval, 3 claim, 4 plan,
# 5 record)
KILLS = (
    *(None,) * 6,
    ("cluster", 1, False),
    ("cluster", 1, True),
    ("cluster", 2, False),
    ("cluster", 2, True),
    ("store", 3, False),
    ("store", 4, False),
    ("store", 5, False),
    ("store", 5, True),
)


def ref(name: str) -> ObjectRef:
    return ObjectRef(API, "PeerAuthentication", "peerauthentications", name, "shop")


def pa(name: str, mode: str, nonce: str) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "PeerAuthentication",
        "metadata": {"name": name, "namespace": "shop", "annotations": {NONCE: nonce}},
        "spec": {"mtls": {"mode": mode}},
    }


def nonce(obj: Any) -> str | None:
    if obj is None:
        return None
    return str(((obj.get("metadata") or {}).get("annotations") or {}).get(NONCE))


class Passes:
    def bake_seconds(self, change: Change) -> float:
        return 600.0

    def verify(self, change: Change, services: Services, now: float) -> Verdict:
        return Verdict(VerdictOutcome.PASS, ("fine",))


class ChangePipeline(RuleBasedStateMachine):
    redis_url = ""  # set by the test

    def __init__(self) -> None:
        super().__init__()
        self.prefix = f"meshbot-states-{uuid.uuid4().hex[:10]}"
        self.store = RedisStore.from_url(self.redis_url, prefix=self.prefix)
        self.clock = MovingClock()
        self.cluster = ObjectCluster()
        self.cluster.add(pa("a", "PERMISSIVE", "initial"), "peerauthentications")
        self.hooks = ChangeHooks()
        self.hooks.register_verifier("pair", Passes())
        self.live = self.replica(self.cluster, self.store, "replica-live", LIVE_LEASE_S)
        self.numbers = itertools.count(1)
        self.requesters: dict[str, str] = {}
        self.accepted: dict[str, set[str]] = {}
        # what each object must be, as the records (and the outside edits) say
        self.claims: dict[str, Any] = {n: self.cluster.live(ref(n)) for n in NAMES}
        self.audit_seen: str | None = None
        self.records: dict[str, Change] = {}

    def replica(self, cluster: Any, store: Any, name: str, lease_s: float) -> Pipeline:
        settings = PipelineSettings(
            default_policy=ApprovalPolicy(),
            rules=(PolicyRule("pair", "*", ApprovalPolicy(approvals=2)),),
            apply_lease_s=lease_s,
        )
        return Pipeline(
            change_services(
                cluster,
                store=store,
                clock=self.clock,
                settings=settings,
                hooks=self.hooks,
                replica_id=name,
            )
        )

    def teardown(self) -> None:
        self.store.close()
        client = redis.Redis.from_url(self.redis_url)
        keys = list(client.scan_iter(match=f"{self.prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()

    # ---- the steps ---------------------------------------------------------------------

    @initialize()
    def start(self) -> None:
        self.after_step()

    @precondition(lambda self: len(self.ids(S.PROPOSED)) < 2)
    @rule(
        names=st.sampled_from([("a",), ("b",), ("a", "b"), ("a", "b")]),
        mode=st.sampled_from(["STRICT", "PERMISSIVE", "DISABLE"]),
        requester=st.sampled_from([ALICE, ALICE, BOB]),
        kind=st.sampled_from(["single", "pair"]),
    )
    def propose(self, names: tuple[str, ...], mode: str, requester: Caller, kind: str) -> None:
        tag = f"p{next(self.numbers)}"
        objects = tuple(ObjectChange(ref(n), pa(n, mode, tag)) for n in names)
        result = self.live.propose(Proposal(kind, "prod", f"{tag} {mode}", objects), requester)
        assert isinstance(result, ChangeProposed), result
        self.requesters[result.change.id] = requester.user_id
        self.after_step()

    @precondition(lambda self: self.ids(S.PROPOSED))
    @rule(
        data=st.data(),
        who=st.sampled_from([BOB, CAROL, DAVE]),
        kill=st.sampled_from(KILLS),
        then=st.sampled_from(["later", "sweep", "edit a, sweep", "edit b, sweep", "refuse, sweep"]),
    )
    def approve(
        self,
        data: st.DataObject,
        who: Caller,
        kill: tuple[str, int, bool] | None,
        then: str,
    ) -> None:
        """An approver approves; with `kill`, the replica doing it is killed at that call
        to its cluster (writes) or store (updates), before it or right after it landed;
        `then` a live replica's sweep comes at once, or after someone edited an object or
        with the API server refusing the next write (the takeover cannot finish), or
        later."""
        change_id = data.draw(st.sampled_from(self.ids(S.PROPOSED)))
        if kill is None:
            self.approve_as(change_id, who)
            return
        where, at, landed = kill
        if where == "cluster":
            doomed = self.doomed(KillAt(self.cluster, at, landed=landed), self.store)
        else:
            doomed = self.doomed(self.cluster, KillAt(self.store, at, ("update",), landed))
        try:
            acted = doomed.approve(change_id, who)
        except ReplicaKilled:
            pass  # it approved (or not) and maybe wrote; its lease is left to expire
        else:
            if acted.outcome is ActionOutcome.DONE:
                self.accepted.setdefault(change_id, set()).add(who.user_id)
        self.wait_for_lease(change_id)
        self.after_step()
        if then.startswith("edit"):
            self.the_world_interferes(then[5], "DISABLE", "")
        elif then.startswith("refuse"):
            self.the_world_interferes("a", "refuse the next write", "create_object")
            self.the_world_interferes("a", "refuse the next write", "replace_object")
        if then != "later":
            self.sweep()

    @precondition(lambda self: self.requesters)
    @rule(data=st.data(), who=st.sampled_from([ALICE, VIC, "requester"]))
    def approve_by_someone_not_allowed(self, data: st.DataObject, who: Caller | str) -> None:
        change_id = data.draw(self.pick(S.PROPOSED))
        requester = self.requesters[change_id]
        caller = Caller(requester, Role.APPROVER) if who == "requester" else who
        assert isinstance(caller, Caller)
        self.approve_as(change_id, caller)
        assert caller.user_id not in {a.user_id for a in self.records[change_id].approvals}

    def approve_as(self, change_id: str, who: Caller) -> None:
        before = self.live.find(change_id)
        acted = self.live.approve(change_id, who)
        if who.user_id == self.requesters[change_id]:
            assert acted.outcome is not ActionOutcome.DONE, "the requester approved"
        if acted.outcome is ActionOutcome.DONE:
            self.accepted.setdefault(change_id, set()).add(who.user_id)
            assert before is not None and before.state is S.PROPOSED
        self.after_step()
        if acted.outcome is ActionOutcome.DONE:
            self.check_applied_in_place(change_id)

    @precondition(lambda self: self.requesters)
    @rule(data=st.data(), who=st.sampled_from(PEOPLE))
    def reject(self, data: st.DataObject, who: Caller) -> None:
        change_id = data.draw(self.pick(S.PROPOSED, S.APPLYING, S.INTERRUPTED))
        before = self.live.find(change_id)
        acted = self.live.reject(change_id, who)
        if acted.outcome is ActionOutcome.DONE:
            assert before is not None and before.state is S.PROPOSED
        self.after_step()

    @precondition(lambda self: self.requesters)
    @rule(
        data=st.data(),
        who=st.sampled_from(PEOPLE),
        kill=st.none() | st.tuples(st.integers(1, 2), st.booleans()),
        sweep_next=st.booleans(),
    )
    def rollback(
        self,
        data: st.DataObject,
        who: Caller,
        kill: tuple[int, bool] | None,
        sweep_next: bool,
    ) -> None:
        """Someone rolls a change back; with `kill`, the replica doing it is killed at
        that write to the cluster (before it, or right after it landed)."""
        written = [c for c in self.ids(*ROLLBACK_FROM) if self.records[c].snapshots]
        change_id = data.draw(st.sampled_from(written) if written else self.pick(*IN_FLIGHT))
        replica = self.live
        if kill is not None:
            replica = self.doomed(KillAt(self.cluster, kill[0], landed=kill[1]), self.store)
        try:
            acted = replica.rollback(change_id, who)
        except ReplicaKilled:
            self.wait_for_lease(change_id)
            self.after_step()
            if sweep_next:
                self.sweep()
            return
        self.after_step()
        if acted.outcome is ActionOutcome.DONE:
            self.check_rolled_back(change_id)

    @rule(what=st.sampled_from(["sweep", "expire"]))
    def time_passes(self, what: str) -> None:
        """The sweep runs after every lease expired (an approval stuck before its claim
        is due), or an hour goes by (proposals expire, bake windows end)."""
        if what == "expire":
            self.clock.advance(3601)
            self.live.run_due()
            self.after_step()
        else:
            self.sweep()

    def sweep(self) -> None:
        self.clock.advance(LIVE_LEASE_S + 1)
        self.live.run_due()
        self.after_step()
        stuck = [c for c in self.records.values() if c.state in IN_FLIGHT]
        assert not stuck, f"left in flight after a sweep: {[(c.id, c.state) for c in stuck]}"

    @rule(
        name=st.sampled_from(NAMES),
        what=st.sampled_from(["STRICT", "DISABLE", "delete", "refuse the next write"]),
        method=st.sampled_from(["replace_object", "create_object", "delete_object"]),
    )
    def the_world_interferes(self, name: str, what: str, method: str) -> None:
        """Someone changes an object by hand (kubectl), or deletes it; or the API server
        will answer the next write of `method` with a 500."""
        if what == "refuse the next write":
            self.cluster.failures[method] = [api_500(method)]
            return
        if what == "DISABLE" and name == "b" and self.cluster.live(ref("b")) is None:
            what = "STRICT"  # b is created by changes: creating it differently is the edit
        tag = f"outside{next(self.numbers)}"
        key = ("security.istio.io", "peerauthentications", "shop", name)
        if what == "delete":
            self.cluster.objects.pop(key, None)
        elif self.cluster.live(ref(name)) is None:
            self.cluster.add(pa(name, what, tag), "peerauthentications")
        else:

            def edit(obj: dict[str, Any]) -> None:
                obj["spec"] = {"mtls": {"mode": what}}
                obj["metadata"]["annotations"] = {NONCE: tag}

            self.cluster.edit(ref(name), edit)
        self.claims[name] = self.cluster.live(ref(name))
        self.after_step()

    # ---- bookkeeping ---------------------------------------------------------------------

    def ids(self, *states: ChangeState) -> list[str]:
        """Changes in `states`, oldest first (ids are random: never order by them)."""
        return [cid for cid in self.requesters if self.records[cid].state in states]

    def pick(self, *states: ChangeState) -> st.SearchStrategy[str]:
        """A change in one of `states` when there is one, else any (to be refused)."""
        return st.sampled_from(self.ids(*states) or list(self.requesters))

    def doomed(self, cluster: Any, store: Any) -> Pipeline:
        return self.replica(cluster, store, "replica-doomed", DOOMED_LEASE_S)

    def wait_for_lease(self, change_id: str) -> None:
        """A killed replica's lease expires on Redis's clock: wait for that signal."""
        name = lease_name(change_id)
        deadline = time.monotonic() + 10
        while self.store.holder(name) is not None:
            assert time.monotonic() < deadline, f"{name} never expired"
            time.sleep(0.02)

    def after_step(self) -> None:
        """Read every record and the new audit entries; move the claims the records make."""
        previous = self.records
        self.records = {
            cid: change for cid in self.requesters if (change := self.live.find(cid)) is not None
        }
        new = self.store.read_audit("prod", count=10_000, after=self.audit_seen)
        for entry in new:
            fields = entry.fields
            change = self.records.get(fields["change"])
            if change is None or fields["result"] != "ok":
                continue
            self.claim(fields["event"], change, previous.get(change.id, change))
        if new:
            self.audit_seen = new[-1].id

    def claim(self, event: str, change: Change, before: Change) -> None:
        if event in ("applied", "interrupted", "failed"):
            for s in change.snapshots:  # applied/interrupted: what is there; failed: left
                self.claims[s.ref.name] = s.after
        elif event == "rolled back":
            for s in change.snapshots:
                self.claims[s.ref.name] = s.before
        elif event == "rollback failed":
            left = {s.ref for s in change.snapshots}
            for s in before.snapshots:
                self.claims[s.ref.name] = s.after if s.ref in left else s.before

    def check_applied_in_place(self, change_id: str) -> None:
        """The approval that applied a change left every object as planned."""
        change = self.records[change_id]
        if change.state in (S.VERIFYING, S.VERIFIED):
            for item in change.plan:
                assert same_object(item.after, self.cluster.live(item.ref)), item.ref.label

    def check_rolled_back(self, change_id: str) -> None:
        change = self.records[change_id]
        assert change.state is S.ROLLED_BACK
        for s in change.snapshots:
            assert same_object(s.before, self.cluster.live(s.ref)), f"{s.ref.label} not restored"

    # ---- invariants ----------------------------------------------------------------------

    @invariant()
    def the_requester_never_approves_and_no_approval_is_lost(self) -> None:
        for cid, change in self.records.items():
            approvers = {a.user_id for a in change.approvals}
            assert self.requesters[cid] not in approvers
            assert approvers <= {"U_BOB", "U_CAROL", "U_DAVE"}
            assert self.accepted.get(cid, set()) <= approvers, f"{cid} lost an approval"

    @invariant()
    def every_transition_is_in_the_audit_stream(self) -> None:
        entries = self.store.read_audit("prod", count=10_000)
        for cid, change in self.records.items():
            audited = [
                (e.fields["event"], e.fields["state"])
                for e in entries
                if e.fields["change"] == cid and e.fields["result"] == "ok"
            ]
            assert audited == [(t.event, t.state.value) for t in change.timeline], cid

    @invariant()
    def a_change_is_applied_at_most_once(self) -> None:
        for change in self.records.values():
            assert [t.event for t in change.timeline].count("applied") <= 1, change.id
        for what, label, old, new in self.cluster.log:
            if what == "replace" and nonce(old) == nonce(new) and nonce(new):
                raise AssertionError(f"{label} written twice with {nonce(new)}: {what}")

    @invariant()
    def every_object_is_what_the_records_say(self) -> None:
        for name in NAMES:
            live = self.cluster.live(ref(name))
            if same_object(self.claims[name], live):
                continue
            in_flight = [
                c
                for c in self.records.values()
                if c.state in (S.APPLYING, S.ROLLING_BACK)
                and any(
                    i.ref.name == name
                    and same_object(live, i.after if c.state is S.APPLYING else i.before)
                    for i in (c.plan if c.state is S.APPLYING else c.snapshots)
                )
            ]
            assert in_flight, f"{name} is {nonce(live)}, the records say {nonce(self.claims[name])}"


# passing takes 15-25 s; a failure is shrunk for up to 5 minutes before it is reported
@pytest.mark.timeout(420)
def test_any_interleaving_keeps_the_pipelines_promises(redis_url: str) -> None:
    class OnTheTestRedis(ChangePipeline):
        pass

    OnTheTestRedis.redis_url = redis_url
    run_state_machine_as_test(
        OnTheTestRedis,
        settings=settings(
            max_examples=75,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            derandomize=False,
        ),
    )
