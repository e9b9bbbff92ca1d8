"""`/mesh install plan|start|advance|abort|status`: a staged install, one gate at a time.

Why this exists: this is the front door of the capability. `plan` reads the cluster and
runs preflight (a failing check becomes a gate on the control-plane stage: approvers
may override it with a reason, as for mTLS), stores the plan and shows it; `start`
proposes the control plane; `advance` proposes the next stage once the current one is
verified; `abort` rolls the current stage back (or withdraws its proposal) and stops.
Each stage is a change in the change pipeline: approvals, apply, bake, rollback and
audit are the pipeline's. Only one replica advances a plan at a time (a lease), so a
double click proposes a stage once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import replace

from commands.changes.commands import pick_cluster
from commands.changes.hooks import ChangesKit
from commands.changes.model import ChangeProposed, ChangeState
from commands.changes.pipeline import Pipeline
from commands.core.errors import PortError
from commands.core.model import (
    ActionOutcome,
    Caller,
    Denied,
    Failure,
    Result,
    Role,
    Text,
    UsageError,
)
from commands.core.registry import Args, CommandSpec, Context, Param, Registry
from commands.core.wording import listing
from commands.install.model import (
    KIND_WAVE,
    InstallActed,
    InstallPlan,
    StageState,
)
from commands.install.planning import (
    REVISION,
    VERSION,
    PlanInputs,
    build_plan,
    is_plan_id,
    low_risk,
    new_plan_id,
    parse_waves,
    revision_of,
)
from commands.install.plans import Plans, view
from commands.install.ports import InstallKit
from commands.install.proposing import propose_stage

LEASE_S = 60.0
ROLL_BACK_ON_ABORT = frozenset(
    {ChangeState.VERIFYING, ChangeState.VERIFIED, ChangeState.FAILED, ChangeState.INTERRUPTED}
)
BOT = "meshbot"


def _plan(ctx: Context, args: Args) -> Result:
    services = ctx.services
    kit = services.kit(InstallKit)
    cluster_name = pick_cluster(ctx, args)
    if not isinstance(cluster_name, str):
        return cluster_name
    version = str(args.get("version", "")).strip()
    if not VERSION.match(version):
        return UsageError(f"`version={version}` is not an Istio version like 1.30.3")
    revision = str(args.get("revision") or revision_of(version))
    if not REVISION.match(revision) or revision == "default":
        return UsageError(f"`revision={revision}` is not a revision name like 1-30-3")
    explicit = None
    if args.get("waves"):
        parsed = parse_waves(str(args.get("waves")))
        if isinstance(parsed, UsageError):
            return parsed
        explicit = parsed
    try:
        helm = kit.helm.for_cluster(cluster_name)
        offered = list(helm.chart_versions())
    except PortError as exc:
        return Failure(f"Helm cannot be used for cluster {cluster_name}: {exc}")
    if version not in offered:
        return UsageError(
            f"the chart source ({helm.describe()}) has no Istio {version} "
            f"(it has {listing(offered, shown=8) or 'none'})"
        )
    preflight = kit.preflight.run(services, cluster_name, version)
    cluster = services.clusters[cluster_name]
    inputs = PlanInputs(
        new_plan_id(),
        cluster_name,
        version,
        revision,
        ctx.caller.user_id,
        services.clock.now(),
        explicit,
    )
    plan = build_plan(
        inputs, cluster, services.metrics.get(cluster_name), helm, preflight, kit.settings
    )
    if not isinstance(plan, InstallPlan):
        return plan
    other = Plans(services).make_current(plan)
    if other is not None:
        return Failure(
            f"an install is under way on {cluster_name}: {other.id} (Istio {other.version}). "
            f"Finish it or `install abort {other.id}` first; nothing was planned"
        )
    headline = "Planned. `start` proposes the control plane"
    if plan.preflight_failed:
        headline += " (preflight failed: an approver must override it with a reason)"
    return view(services, plan, headline, fresh=True)


def _checked(ctx: Context, args: Args) -> InstallPlan | Result:
    plan_id = str(args.get("id", "")).strip().lower()
    if not is_plan_id(plan_id):
        return UsageError(f"`{plan_id}` is not an install plan id (they look like inst-7xq2m4ab)")
    plan = Plans(ctx.services).find(plan_id)
    if plan is None:
        return Failure(f"there is no install plan `{plan_id}` (it may be past retention)")
    return plan


def _status(ctx: Context, args: Args) -> Result:
    plan = _checked(ctx, args)
    if not isinstance(plan, InstallPlan):
        return plan
    return view(ctx.services, plan)


def _acted(
    ctx: Context, plan: InstallPlan, action: str, outcome: ActionOutcome, message: str
) -> InstallActed:
    fresh = Plans(ctx.services).find(plan.id) or plan
    return InstallActed(plan.id, action, outcome, message, view(ctx.services, fresh))


def _locked(
    ctx: Context, plan: InstallPlan, action: str, work: Callable[[], InstallActed]
) -> InstallActed:
    """One replica at a time moves a plan: a double click or two replicas propose once."""
    lease = ctx.services.lease
    name = f"install:{plan.id}"
    holder = f"{ctx.services.replica_id}:{secrets.token_hex(4)}"
    if not lease.acquire(name, holder, LEASE_S):
        return _acted(
            ctx, plan, action, ActionOutcome.NOOP, f"{plan.id} is being moved on right now"
        )
    try:
        return work()
    finally:
        lease.release(name, holder)


def _advance_to(
    ctx: Context, plan: InstallPlan, index: int, action: str, caller: Caller
) -> InstallActed:
    result = propose_stage(ctx.services, plan, index, caller)
    if not isinstance(result, ChangeProposed):
        return _acted(ctx, plan, action, ActionOutcome.REFUSED, _said(result))
    change_id = result.change.id
    Plans(ctx.services).update(
        plan, lambda p: p.with_stage(index, replace(p.stages[index], change_id=change_id))
    )
    title = plan.stages[index].title
    return _acted(
        ctx,
        plan,
        action,
        ActionOutcome.DONE,
        f"Proposed {title} as {change_id}: approve it on the plan",
    )


def _said(result: Result) -> str:
    """What a result that is not a proposal says, in one line."""
    if isinstance(result, Failure):
        return result.message
    if isinstance(result, UsageError):
        return result.problem
    if isinstance(result, Text):
        return " ".join((result.title, *result.lines))
    if isinstance(result, Denied):
        return result.reason
    return type(result).__name__


def _start(ctx: Context, args: Args) -> Result:
    plan = _checked(ctx, args)
    if not isinstance(plan, InstallPlan):
        return plan
    return _locked(ctx, plan, "start", lambda: _move_on(ctx, plan.id, "start", ctx.caller))


def _advance(ctx: Context, args: Args) -> Result:
    plan = _checked(ctx, args)
    if not isinstance(plan, InstallPlan):
        return plan
    return _locked(ctx, plan, "advance", lambda: _move_on(ctx, plan.id, "advance", ctx.caller))


def _move_on(ctx: Context, plan_id: str, action: str, caller: Caller) -> InstallActed:
    plan = Plans(ctx.services).find(plan_id)
    assert plan is not None
    shown = view(ctx.services, plan)
    if plan.aborted:
        return _acted(ctx, plan, action, ActionOutcome.REFUSED, f"{plan.id} was aborted")
    if shown.current is None:
        return _acted(
            ctx, plan, action, ActionOutcome.NOOP, f"every stage of {plan.id} is verified"
        )
    current = shown.stages[shown.current]
    if action == "start" and shown.current != 0:
        return _acted(
            ctx, plan, action, ActionOutcome.NOOP, f"{plan.id} has started already; use advance"
        )
    if action == "advance" and shown.current == 0 and current.state is StageState.PENDING:
        return _acted(
            ctx, plan, action, ActionOutcome.REFUSED, f"{plan.id} has not started: use start"
        )
    if current.state in (StageState.PENDING, StageState.ROLLED_BACK):
        return _advance_to(ctx, plan, shown.current, action, caller)
    said = {
        StageState.PROPOSED: "waits for approval",
        StageState.APPLYING: "is being applied",
        StageState.BAKING: "is baking; advance once it is verified",
        StageState.FAILED: "failed: roll it back (its Rollback button) or abort",
    }[current.state]
    return _acted(ctx, plan, action, ActionOutcome.REFUSED, f"{current.stage.title} {said}")


def _abort(ctx: Context, args: Args) -> Result:
    plan = _checked(ctx, args)
    if not isinstance(plan, InstallPlan):
        return plan
    return _locked(ctx, plan, "abort", lambda: _do_abort(ctx, plan.id))


def _do_abort(ctx: Context, plan_id: str) -> InstallActed:
    plans = Plans(ctx.services)
    plan = plans.find(plan_id)
    assert plan is not None
    if plan.aborted:
        return _acted(ctx, plan, "abort", ActionOutcome.NOOP, f"{plan.id} is aborted already")
    shown = view(ctx.services, plan)
    pipeline = Pipeline(ctx.services)
    said = "nothing was in flight"
    change = shown.current_change
    if change is not None and change.state in (
        ChangeState.APPROVED,
        ChangeState.APPLYING,
        ChangeState.ROLLING_BACK,
    ):
        return _acted(
            ctx,
            plan,
            "abort",
            ActionOutcome.REFUSED,
            f"{change.id} is {change.state.value}; abort once it has settled",
        )
    if change is not None and change.state in ROLL_BACK_ON_ABORT | {ChangeState.PROPOSED}:
        if change.state is ChangeState.PROPOSED:
            acted = pipeline.reject(change.id, ctx.caller, "install aborted")
        else:
            acted = pipeline.rollback(change.id, ctx.caller, "install aborted")
        if acted.outcome is not ActionOutcome.DONE:
            return _acted(
                ctx, plan, "abort", ActionOutcome.REFUSED, f"not aborted: {acted.message}"
            )
        said = acted.message
    plans.update(plan, lambda p: replace(p, aborted=True))
    return _acted(ctx, plan, "abort", ActionOutcome.DONE, f"Aborted {plan.id}: {said}")


def auto_advance(ctx: Context, change_id: str) -> InstallActed | None:
    """After a verified wave: when the policy allows, propose the next wave by itself if
    it is low risk (approval still as the policy says). None when it does not apply."""
    services = ctx.services
    settings = services.kit(InstallKit).settings
    if settings.auto_advance != "low-risk":
        return None
    change = Pipeline(services).find(change_id)
    if change is None or change.kind != KIND_WAVE or change.state is not ChangeState.VERIFIED:
        return None
    plan = Plans(services).find(str(change.verify.get("install", "")))
    if plan is None or plan.aborted:
        return None
    shown = view(services, plan)
    if shown.current is None or shown.stages[shown.current].state is not StageState.PENDING:
        return None
    if not low_risk(plan.stages[shown.current], settings):
        return None
    return _locked(
        ctx, plan, "advance", lambda: _move_on(ctx, plan.id, "advance", Caller(BOT, Role.OPERATOR))
    )


PLAN_ID = Param("id", "the install plan id", required=True, placeholder="ID")
CLUSTER = Param("cluster", "the cluster (default: the only configured one)", placeholder="NAME")
NEEDS = (ChangesKit, InstallKit)


def register(registry: Registry) -> None:
    registry.register_all(
        [
            CommandSpec(
                "install plan",
                "Plan a staged, revision-based Istio install: preflight, stages, waves",
                _plan,
                needs=NEEDS,
                role=Role.OPERATOR,
                changes_state=True,
                options=(
                    Param(
                        "version",
                        "the Istio version to install",
                        required=True,
                        placeholder="X.Y.Z",
                    ),
                    Param(
                        "revision",
                        "the new revision's name (default: from the version)",
                        placeholder="REV",
                    ),
                    CLUSTER,
                    Param(
                        "waves",
                        "explicit namespace waves: `,` between namespaces, `/` between waves",
                        placeholder="NS,NS/NS",
                    ),
                ),
                details="Stages: control plane (istiod beside the running one, Helm), gateways "
                "(if any), namespace waves (lowest risk first), promote (the default tag), "
                "retire (the old revision, never automatic). Each stage is a change to approve.",
                examples=(
                    "install plan version=1.30.3",
                    "install plan version=1.30.3 waves=shop/pay,cart",
                ),
            ),
            CommandSpec(
                "install start",
                "Propose the first stage (the control plane) of an install plan",
                _start,
                needs=NEEDS,
                role=Role.OPERATOR,
                changes_state=True,
                positionals=(PLAN_ID,),
                examples=("install start inst-7xq2m4ab",),
            ),
            CommandSpec(
                "install advance",
                "Propose the next stage once the current one is verified",
                _advance,
                needs=NEEDS,
                role=Role.OPERATOR,
                changes_state=True,
                positionals=(PLAN_ID,),
                examples=("install advance inst-7xq2m4ab",),
            ),
            CommandSpec(
                "install abort",
                "Roll back the current stage (or withdraw its proposal) and stop the install",
                _abort,
                needs=NEEDS,
                role=Role.OPERATOR,
                changes_state=True,
                positionals=(PLAN_ID,),
                examples=("install abort inst-7xq2m4ab",),
            ),
            CommandSpec(
                "install status",
                "Every stage of an install plan with its state and approvers",
                _status,
                needs=NEEDS,
                positionals=(PLAN_ID,),
                examples=("install status inst-7xq2m4ab",),
            ),
        ]
    )
