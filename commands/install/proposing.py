"""Proposing one stage of an install: the stage's proposal, through the right dry run.

Why this exists: each stage kind is proposed differently — Helm stages are rendered by
Helm's dry run (commands.install.releases), object stages by the API server's (the
pipeline's own `propose`) — and retire waits for promote plus `retire_wait_s`. The
commands module decides *when* a stage is proposed; this module, *how*.
"""

from __future__ import annotations

from commands.changes.model import Proposal
from commands.changes.pipeline import Pipeline
from commands.core.errors import PortError
from commands.core.model import Caller, Failure, Result
from commands.core.ports import Services
from commands.install import stages as build
from commands.install.model import (
    KIND_CONTROL_PLANE,
    KIND_PROMOTE,
    KIND_RETIRE,
    KIND_WAVE,
    InstallPlan,
)
from commands.install.plans import view
from commands.install.ports import InstallKit
from commands.install.releases import propose_releases


def propose_stage(services: Services, plan: InstallPlan, index: int, caller: Caller) -> Result:
    """Build the stage's proposal and hand it to the change pipeline (Helm stages through
    Helm's dry run, object stages through the API server's)."""
    stage = plan.stages[index]
    cluster = services.clusters[plan.cluster]
    kit = services.kit(InstallKit)
    pipeline = Pipeline(services)
    now = services.clock.now()
    proposal: Proposal | Failure
    if stage.kind == KIND_CONTROL_PLANE:
        proposal = build.control_plane(plan, index)
    elif stage.kind == KIND_WAVE:
        proposal = build.wave(cluster, plan, index, now)
    elif stage.kind == KIND_PROMOTE:
        proposal = build.promote(cluster, plan, index)
    else:
        waited = retire_wait_left(services, plan, now)
        if waited is not None:
            return waited
        proposal = build.retire(plan, index)
    if isinstance(proposal, Failure):
        return proposal
    if stage.kind in (KIND_CONTROL_PLANE, KIND_RETIRE):
        try:
            helm = kit.helm.for_cluster(plan.cluster)
        except PortError as exc:
            return Failure(f"Helm cannot be used for cluster {plan.cluster}: {exc}")
        return propose_releases(pipeline.ledger, helm, proposal, caller)
    return pipeline.propose(proposal, caller)


def retire_wait_left(services: Services, plan: InstallPlan, now: float) -> Failure | None:
    """Why the old revision may not be retired yet (promote not applied, or applied less
    than `retire_wait_s` ago), or None."""
    settings = services.kit(InstallKit).settings
    promote = next((s for s in view(services, plan).stages if s.stage.kind == KIND_PROMOTE), None)
    applied = None if promote is None or promote.change is None else promote.change.applied_at
    if applied is None:
        return Failure("the old revision is retired only after the default tag moved (promote)")
    ready_at = applied + settings.retire_wait_s
    if now < ready_at:
        return Failure(
            f"the old revision may be retired {ready_at - now:.0f} s from now "
            f"(install.retire_wait_s after promote), not before"
        )
    return None
