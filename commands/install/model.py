"""The staged install as data: its settings, the plan, its stages and what they show.

Why this exists: an install runs for hours or days across many clicks and replicas, so
the plan is a record in the store (plain JSON), and each stage is a change in the
change pipeline whose id the stage keeps. A stage's state is read from its change —
never copied and left to go stale — so the plan message always tells the truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from commands.changes.model import Change, ChangeState, Gate, GateStatus, MessageRef
from commands.core.model import ActionOutcome, Result

JSON = Any
KIND_CONTROL_PLANE = "install-control-plane"
KIND_WAVE = "install-wave"
KIND_PROMOTE = "install-promote"
KIND_RETIRE = "install-retire"
KINDS = (KIND_CONTROL_PLANE, KIND_WAVE, KIND_PROMOTE, KIND_RETIRE)
ISTIO_NAMESPACE = "istio-system"
WAVE_LABEL = "meshbot.io/install-wave"


@dataclass(frozen=True)
class InstallSettings:
    wave_size: int = 3
    waves: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    control_plane_wait_s: float = 300.0  # istiod Available and its webhook, or failed
    rollout_wait_s: float = 600.0  # a wave's pods all on the new proxy and Ready, or failed
    bake_window_s: float = 600.0
    bake_min_requests: float = 20.0
    error_ratio_factor: float = 2.0
    error_ratio_margin: float = 0.01
    p99_factor: float = 1.5
    p99_margin_ms: float = 25.0
    connection_failure_margin: float = 5.0
    retire_wait_s: float = 86400.0  # after promote, before the old revision may go
    auto_advance: str = "never"  # "never" | "low-risk": propose the next low-risk wave
    low_risk_pods: int = 10  # a wave with at most this many pods and …
    low_risk_rps: float = 1.0  # … at most this much traffic is low risk
    helm_timeout_s: float = 300.0
    ignored_namespaces: tuple[str, ...] = (
        "kube-system",
        "kube-public",
        "kube-node-lease",
        ISTIO_NAMESPACE,
    )


class StageState(Enum):
    PENDING = "pending"
    PROPOSED = "proposed"
    APPLYING = "applying"
    BAKING = "baking"
    VERIFIED = "verified"
    FAILED = "failed"
    ROLLED_BACK = "rolled back"


_FROM_CHANGE = {
    ChangeState.PROPOSED: StageState.PROPOSED,
    ChangeState.APPROVED: StageState.APPLYING,
    ChangeState.APPLYING: StageState.APPLYING,
    ChangeState.APPLIED: StageState.BAKING,
    ChangeState.VERIFYING: StageState.BAKING,
    ChangeState.VERIFIED: StageState.VERIFIED,
    ChangeState.FAILED: StageState.FAILED,
    ChangeState.INTERRUPTED: StageState.FAILED,
    ChangeState.ROLLING_BACK: StageState.APPLYING,
    ChangeState.ROLLED_BACK: StageState.ROLLED_BACK,
    ChangeState.REJECTED: StageState.PENDING,
    ChangeState.EXPIRED: StageState.PENDING,
    ChangeState.SUPERSEDED: StageState.PENDING,
}


def stage_state(change: Change | None) -> StageState:
    """A stage's state is its change's: rejected or expired proposals leave it pending."""
    return StageState.PENDING if change is None else _FROM_CHANGE[change.state]


@dataclass(frozen=True)
class Stage:
    """One step of the install. `namespaces`: a wave's; `workloads`: the gateways'
    Deployments (`namespace/name`); `pods`/`rps`: what the wave carries (its risk)."""

    kind: str
    title: str
    namespaces: tuple[str, ...] = ()
    workloads: tuple[str, ...] = ()
    pods: int = 0
    rps: float | None = None
    change_id: str | None = None

    def to_json(self) -> JSON:
        return {
            "kind": self.kind,
            "title": self.title,
            "namespaces": list(self.namespaces),
            "workloads": list(self.workloads),
            "pods": self.pods,
            "rps": self.rps,
            "change_id": self.change_id,
        }

    @classmethod
    def from_json(cls, raw: JSON) -> Stage:
        return cls(
            raw["kind"],
            raw["title"],
            tuple(raw.get("namespaces", ())),
            tuple(raw.get("workloads", ())),
            int(raw.get("pods", 0)),
            raw.get("rps"),
            raw.get("change_id"),
        )


@dataclass(frozen=True)
class InstallPlan:
    id: str
    cluster: str
    version: str  # the new Istio version, e.g. 1.30.3
    revision: str  # the new revision, e.g. 1-30-3
    old_revision: str  # "default" or the revision the mesh runs now
    old_version: str  # e.g. 1.29.6 ("" when unknown)
    old_release: str  # Helm release of the old istiod ("" when not Helm-installed)
    requester: str
    created_at: float
    charts: str  # where the charts come from (Helm's describe)
    values: JSON  # the istiod chart values
    base_needed: bool
    stages: tuple[Stage, ...]
    preflight: tuple[Gate, ...] = ()
    notes: tuple[str, ...] = ()
    message: MessageRef | None = None
    aborted: bool = False
    promoted_at: float | None = None

    @property
    def release(self) -> str:
        return f"istiod-{self.revision}"

    @property
    def preflight_failed(self) -> bool:
        return any(g.status is not GateStatus.PASS for g in self.preflight)

    def with_stage(self, index: int, stage: Stage) -> InstallPlan:
        stages = list(self.stages)
        stages[index] = stage
        return replace(self, stages=tuple(stages))

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "cluster": self.cluster,
            "version": self.version,
            "revision": self.revision,
            "old_revision": self.old_revision,
            "old_version": self.old_version,
            "old_release": self.old_release,
            "requester": self.requester,
            "created_at": self.created_at,
            "charts": self.charts,
            "values": self.values,
            "base_needed": self.base_needed,
            "stages": [s.to_json() for s in self.stages],
            "preflight": [g.to_json() for g in self.preflight],
            "notes": list(self.notes),
            "message": None
            if self.message is None
            else {"channel": self.message.channel, "ts": self.message.ts},
            "aborted": self.aborted,
            "promoted_at": self.promoted_at,
        }

    @classmethod
    def from_json(cls, raw: JSON) -> InstallPlan:
        message = raw.get("message")
        return cls(
            id=raw["id"],
            cluster=raw["cluster"],
            version=raw["version"],
            revision=raw["revision"],
            old_revision=raw["old_revision"],
            old_version=raw["old_version"],
            old_release=raw["old_release"],
            requester=raw["requester"],
            created_at=raw["created_at"],
            charts=raw["charts"],
            values=raw["values"],
            base_needed=raw["base_needed"],
            stages=tuple(Stage.from_json(s) for s in raw["stages"]),
            preflight=tuple(Gate.from_json(g) for g in raw.get("preflight", ())),
            notes=tuple(raw.get("notes", ())),
            message=None if message is None else MessageRef(message["channel"], message["ts"]),
            aborted=bool(raw.get("aborted")),
            promoted_at=raw.get("promoted_at"),
        )


@dataclass(frozen=True)
class StageView:
    """A stage as shown: its state and approvers from its change (if any)."""

    index: int
    stage: Stage
    state: StageState
    change: Change | None = None

    @property
    def approvers(self) -> tuple[str, ...]:
        return () if self.change is None else tuple(a.user_id for a in self.change.approvals)


@dataclass(frozen=True)
class InstallView(Result):
    """The plan with every stage's live state (`install plan|status`, the plan message)."""

    plan: InstallPlan
    stages: tuple[StageView, ...]
    current: int | None  # the stage that needs attention now (None: done or aborted)
    headline: str = ""
    fresh: bool = False  # just planned: front ends post it as the plan message

    @property
    def current_change(self) -> Change | None:
        return None if self.current is None else self.stages[self.current].change


@dataclass(frozen=True)
class InstallActed(Result):
    """The answer to start / advance / abort, with the plan as it is now."""

    plan_id: str
    action: str
    outcome: ActionOutcome
    message: str
    view: InstallView | None = None
