"""The data of the change pipeline: what a capability proposes and what the store keeps.

Every mutation of a cluster is a `Change`, and every capability that mutates (mTLS,
timeouts, install stages, alert rollbacks) describes its mutation as a `Proposal`: the
objects it wants to look like what, the gates that must pass, the risks a reviewer
should read. Keeping this as plain frozen data, with an explicit JSON form, is what lets
the record survive a restart between proposal and approval and lets every front end
render the same change.

The errors at the bottom cross the `ClusterObjects` port: the kube adapter raises them,
the pipeline turns them into a failed change with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from commands.core.errors import PortError
from commands.core.model import ActionOutcome, Result

JSON = Any


class ChangeState(Enum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    APPLYING = "applying"
    APPLIED = "applied"
    VERIFYING = "verifying"
    VERIFIED = "verified"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # its applier stopped part-way; what was written is recorded
    ROLLING_BACK = "rolling back"
    ROLLED_BACK = "rolled back"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"


OPEN_STATES = frozenset({ChangeState.PROPOSED, ChangeState.APPROVED})
# States the background sweep looks at (expiry, bake windows).
ACTIVE_STATES = frozenset(
    {
        ChangeState.PROPOSED,
        ChangeState.APPROVED,
        ChangeState.APPLYING,
        ChangeState.VERIFYING,
        ChangeState.ROLLING_BACK,
    }
)


@dataclass(frozen=True)
class ObjectRef:
    """One Kubernetes object, by API version, kind, plural and name."""

    api_version: str
    kind: str
    plural: str
    name: str
    namespace: str | None = None

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def label(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"

    def to_json(self) -> JSON:
        return {
            "api_version": self.api_version,
            "kind": self.kind,
            "plural": self.plural,
            "name": self.name,
            "namespace": self.namespace,
        }

    @classmethod
    def from_json(cls, raw: JSON) -> ObjectRef:
        return cls(raw["api_version"], raw["kind"], raw["plural"], raw["name"], raw["namespace"])


@dataclass(frozen=True)
class ObjectChange:
    """Make `ref` look like `desired` (None: delete it). `observed` is the live object
    when the change was proposed (None: it did not exist); apply refuses if it drifted."""

    ref: ObjectRef
    desired: JSON | None
    observed: JSON | None = None

    def to_json(self) -> JSON:
        return {"ref": self.ref.to_json(), "desired": self.desired, "observed": self.observed}

    @classmethod
    def from_json(cls, raw: JSON) -> ObjectChange:
        return cls(ObjectRef.from_json(raw["ref"]), raw["desired"], raw["observed"])


class GateStatus(Enum):
    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"  # could not judge (no data, too little traffic): blocks like FAIL


@dataclass(frozen=True)
class Gate:
    name: str
    status: GateStatus
    detail: str = ""

    def to_json(self) -> JSON:
        return {"name": self.name, "status": self.status.value, "detail": self.detail}

    @classmethod
    def from_json(cls, raw: JSON) -> Gate:
        return cls(raw["name"], GateStatus(raw["status"]), raw["detail"])


@dataclass(frozen=True)
class Risk:
    text: str
    severity: str = "warning"

    def to_json(self) -> JSON:
        return {"text": self.text, "severity": self.severity}

    @classmethod
    def from_json(cls, raw: JSON) -> Risk:
        return cls(raw["text"], raw["severity"])


@dataclass(frozen=True)
class ApprovalPolicy:
    """Who may approve a change, how many must, how long a proposal lives."""

    approvers: tuple[str, ...] = ()  # user ids, @handles, S-ids; empty: anyone with the role
    approvals: int = 1
    expiry_s: float = 3600.0
    rollback_needs_approver: bool = False

    def to_json(self) -> JSON:
        return {
            "approvers": list(self.approvers),
            "approvals": self.approvals,
            "expiry_s": self.expiry_s,
            "rollback_needs_approver": self.rollback_needs_approver,
        }

    @classmethod
    def from_json(cls, raw: JSON) -> ApprovalPolicy:
        return cls(
            tuple(raw["approvers"]),
            int(raw["approvals"]),
            float(raw["expiry_s"]),
            bool(raw["rollback_needs_approver"]),
        )


@dataclass(frozen=True)
class Approval:
    """One approval (or a rejection, with `note` as the reason)."""

    user_id: str
    at: float
    override: str | None = None  # the reason given for approving past failed gates
    note: str = ""

    def to_json(self) -> JSON:
        return {
            "user_id": self.user_id,
            "at": self.at,
            "override": self.override,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, raw: JSON) -> Approval:
        return cls(raw["user_id"], raw["at"], raw["override"], raw["note"])


@dataclass(frozen=True)
class TimelineEntry:
    at: float
    event: str
    actor: str
    state: ChangeState
    detail: str = ""

    def to_json(self) -> JSON:
        return {
            "at": self.at,
            "event": self.event,
            "actor": self.actor,
            "state": self.state.value,
            "detail": self.detail,
        }

    @classmethod
    def from_json(cls, raw: JSON) -> TimelineEntry:
        return cls(raw["at"], raw["event"], raw["actor"], ChangeState(raw["state"]), raw["detail"])


@dataclass(frozen=True)
class Snapshot:
    """An object as it was right before apply (`before`) and as apply wrote it (`after`);
    None means absent. Rollback restores `before` if the live object is still `after`."""

    ref: ObjectRef
    before: JSON | None
    after: JSON | None

    def to_json(self) -> JSON:
        return {"ref": self.ref.to_json(), "before": self.before, "after": self.after}

    @classmethod
    def from_json(cls, raw: JSON) -> Snapshot:
        return cls(ObjectRef.from_json(raw["ref"]), raw["before"], raw["after"])


@dataclass(frozen=True)
class MessageRef:
    """Where the proposal was posted (a Slack channel and message ts)."""

    channel: str
    ts: str


@dataclass(frozen=True)
class Proposal:
    """What a capability hands the pipeline: the whole description of one change.

    `verify` holds the parameters the kind's verifier needs after apply (e.g. which
    namespace to bake); `summary` is a few lines for the reviewer.
    """

    kind: str
    cluster: str
    title: str
    objects: tuple[ObjectChange, ...]
    gates: tuple[Gate, ...] = ()
    risks: tuple[Risk, ...] = ()
    summary: tuple[str, ...] = ()
    verify: JSON = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    id: str
    kind: str
    cluster: str
    title: str
    requester: str
    created_at: float
    expires_at: float
    state: ChangeState
    objects: tuple[ObjectChange, ...]
    diff: tuple[str, ...]
    gates: tuple[Gate, ...]
    risks: tuple[Risk, ...]
    policy: ApprovalPolicy
    summary: tuple[str, ...] = ()
    verify: JSON = field(default_factory=dict)
    approvals: tuple[Approval, ...] = ()
    rejection: Approval | None = None
    snapshots: tuple[Snapshot, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()
    message: MessageRef | None = None
    reason: str = ""
    applied_at: float | None = None
    verify_at: float | None = None
    verification: tuple[str, ...] = ()
    # the last hold said was for want of data (Verdict.acceptable): an approver may accept it
    held_for_data: bool = False
    rollback_from: ChangeState | None = None
    # Who holds the work on this change (apply, rollback): a replica id and a nonce, the
    # holder of its work lease (commands.changes.lease). Moves made for that work check it.
    applier: str | None = None
    # Stored when apply is claimed, before any write: each item as it was (`before`) and
    # as the write intends it (`after`). What a takeover compares the live objects with.
    plan: tuple[Snapshot, ...] = ()

    @property
    def failed_gates(self) -> tuple[Gate, ...]:
        return tuple(g for g in self.gates if g.status is not GateStatus.PASS)

    @property
    def override(self) -> Approval | None:
        return next((a for a in self.approvals if a.override), None)

    @property
    def blocked(self) -> bool:
        """Failed gates stop approval until an approver overrides with a reason."""
        return bool(self.failed_gates) and self.override is None

    @property
    def wrote_objects(self) -> bool:
        return bool(self.snapshots)

    def with_event(
        self,
        state: ChangeState,
        event: str,
        actor: str,
        at: float,
        detail: str = "",
        **changes: Any,
    ) -> Change:
        entry = TimelineEntry(at, event, actor, state, detail)
        return replace(self, state=state, timeline=(*self.timeline, entry), **changes)

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "kind": self.kind,
            "cluster": self.cluster,
            "title": self.title,
            "requester": self.requester,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "state": self.state.value,
            "objects": [o.to_json() for o in self.objects],
            "diff": list(self.diff),
            "gates": [g.to_json() for g in self.gates],
            "risks": [r.to_json() for r in self.risks],
            "policy": self.policy.to_json(),
            "summary": list(self.summary),
            "verify": self.verify,
            "approvals": [a.to_json() for a in self.approvals],
            "rejection": None if self.rejection is None else self.rejection.to_json(),
            "snapshots": [s.to_json() for s in self.snapshots],
            "timeline": [t.to_json() for t in self.timeline],
            "message": None
            if self.message is None
            else {"channel": self.message.channel, "ts": self.message.ts},
            "reason": self.reason,
            "applied_at": self.applied_at,
            "verify_at": self.verify_at,
            "verification": list(self.verification),
            "held_for_data": self.held_for_data,
            "rollback_from": None if self.rollback_from is None else self.rollback_from.value,
            "applier": self.applier,
            "plan": [s.to_json() for s in self.plan],
        }

    @classmethod
    def from_json(cls, raw: JSON) -> Change:
        message = raw.get("message")
        rejection = raw.get("rejection")
        rollback_from = raw.get("rollback_from")
        return cls(
            id=raw["id"],
            kind=raw["kind"],
            cluster=raw["cluster"],
            title=raw["title"],
            requester=raw["requester"],
            created_at=raw["created_at"],
            expires_at=raw["expires_at"],
            state=ChangeState(raw["state"]),
            objects=tuple(ObjectChange.from_json(o) for o in raw["objects"]),
            diff=tuple(raw["diff"]),
            gates=tuple(Gate.from_json(g) for g in raw["gates"]),
            risks=tuple(Risk.from_json(r) for r in raw["risks"]),
            policy=ApprovalPolicy.from_json(raw["policy"]),
            summary=tuple(raw.get("summary", ())),
            verify=raw.get("verify") or {},
            approvals=tuple(Approval.from_json(a) for a in raw["approvals"]),
            rejection=None if rejection is None else Approval.from_json(rejection),
            snapshots=tuple(Snapshot.from_json(s) for s in raw["snapshots"]),
            timeline=tuple(TimelineEntry.from_json(t) for t in raw["timeline"]),
            message=None if message is None else MessageRef(message["channel"], message["ts"]),
            reason=raw.get("reason", ""),
            applied_at=raw.get("applied_at"),
            verify_at=raw.get("verify_at"),
            verification=tuple(raw.get("verification", ())),
            held_for_data=bool(raw.get("held_for_data", False)),
            rollback_from=None if rollback_from is None else ChangeState(rollback_from),
            applier=raw.get("applier"),
            plan=tuple(Snapshot.from_json(s) for s in raw.get("plan", ())),
        )


# ---- results the change commands return --------------------------------------------------


@dataclass(frozen=True)
class ChangeProposed(Result):
    """A new change, stored and waiting for approval (front ends post it with buttons)."""

    change: Change


@dataclass(frozen=True)
class ChangeView(Result):
    """One change with its timeline (`/mesh change ID`)."""

    change: Change


@dataclass(frozen=True)
class ChangeActed(Result):
    """The answer to approve / reject / rollback, for the one who clicked or typed."""

    change_id: str
    action: str
    outcome: ActionOutcome
    message: str
    change: Change | None = None


@dataclass(frozen=True)
class HistoryRow:
    id: str
    kind: str
    cluster: str
    state: ChangeState
    title: str
    requester: str
    created_at: float


@dataclass(frozen=True)
class History(Result):
    """Recent changes, newest first (`/mesh history`)."""

    rows: tuple[HistoryRow, ...]
    cluster: str | None = None
    limit: int = 20


# ---- errors across the ClusterObjects port -----------------------------------------------


class ObjectWriteError(PortError):
    """The API server refused a read or write of one object; the message says why."""


class ObjectConflict(ObjectWriteError):
    """409: the object changed since we read it (resourceVersion precondition) or exists."""


class ObjectInvalid(ObjectWriteError):
    """422 (or 400): the object is not valid for the server; `causes` lists the fields."""

    def __init__(self, message: str, causes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.causes = causes


class ObjectMissing(ObjectWriteError):
    """404 on a write: the object (or its kind) is not there."""
