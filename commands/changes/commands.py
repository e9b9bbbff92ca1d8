"""The commands every change shares: look at one, list recent ones, approve, reject, roll back.

Slack buttons dispatch these same commands (the button carries only the change id), so
a click and a typed `/mesh change approve chg-…` go through one parser, one role check
and one pipeline. Approving needs the approver role and rolling back the operator role
at the registry; the pipeline then applies the change's own policy on top.
"""

from __future__ import annotations

from commands.changes.hooks import ChangesKit
from commands.changes.machine import is_change_id
from commands.changes.model import ChangeView
from commands.changes.pipeline import Pipeline
from commands.core import clusters
from commands.core.errors import PortError
from commands.core.model import Denied, Failure, Result, Role, UsageError
from commands.core.ports import Services
from commands.core.refusals import RefusalScope
from commands.core.registry import Args, CommandSpec, Context, Param, Registry

ID = Param("id", "the change id, e.g. chg-7xq2m4ab", required=True, placeholder="ID")
CLUSTER = Param("cluster", "the cluster (default: the only configured one)", placeholder="NAME")


def pick_cluster(ctx: Context, args: Args) -> str | UsageError | Denied:
    """The `cluster=` option resolved by the shared rules (default, channel restriction)."""
    return clusters.pick_cluster(ctx.services, args.get("cluster"), ctx.caller)


def _checked_id(args: Args) -> str | UsageError:
    change_id = str(args.get("id", "")).strip().lower()
    if not is_change_id(change_id):
        return UsageError(f"`{change_id}` is not a change id (they look like chg-7xq2m4ab)")
    return change_id


def _show(ctx: Context, args: Args) -> Result:
    change_id = _checked_id(args)
    if isinstance(change_id, UsageError):
        return change_id
    change = Pipeline(ctx.services).find(change_id)
    if change is None:
        return Failure(f"there is no change `{change_id}` (it may be past retention)")
    return ChangeView(change)


def _history(ctx: Context, args: Args) -> Result:
    cluster = args.get("cluster")
    if cluster is not None and cluster not in ctx.services.clusters:
        return UsageError(f"no cluster named `{cluster}`")
    return Pipeline(ctx.services).history(cluster, int(args.get("limit", 20)))


def _approve(ctx: Context, args: Args) -> Result:
    change_id = _checked_id(args)
    if isinstance(change_id, UsageError):
        return change_id
    return Pipeline(ctx.services).approve(change_id, ctx.caller, args.get("override"))


def _reject(ctx: Context, args: Args) -> Result:
    change_id = _checked_id(args)
    if isinstance(change_id, UsageError):
        return change_id
    return Pipeline(ctx.services).reject(change_id, ctx.caller, args.get("reason", ""))


def _rollback(ctx: Context, args: Args) -> Result:
    change_id = _checked_id(args)
    if isinstance(change_id, UsageError):
        return change_id
    return Pipeline(ctx.services).rollback(change_id, ctx.caller, args.get("reason", ""))


def _change_scope(services: Services, args: Args) -> RefusalScope | None:
    """A refused approve/reject/rollback is recorded in the stream of the change's cluster."""
    change_id = str(args.get("id", "")).strip().lower()
    if not is_change_id(change_id):
        return None
    try:
        change = Pipeline(services).find(change_id)
    except PortError:
        return None
    if change is None:
        return None
    return RefusalScope(change.cluster, {"change": change.id, "kind": change.kind})


def _limit(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 200:
        raise ValueError("must be between 1 and 200")
    return value


def register(registry: Registry) -> None:
    registry.register_all(
        [
            CommandSpec(
                "change",
                "Show one change: diff, gates, risks, approvals and its timeline",
                _show,
                needs=(ChangesKit,),
                positionals=(ID,),
            ),
            CommandSpec(
                "history",
                "List recent changes, newest first",
                _history,
                needs=(ChangesKit,),
                options=(
                    CLUSTER,
                    Param("limit", "how many (1-200)", default=20, convert=_limit, placeholder="N"),
                ),
            ),
            CommandSpec(
                "change approve",
                "Approve a proposed change (the last approval needed applies it)",
                _approve,
                needs=(ChangesKit,),
                changes_state=True,
                refusal_scope=_change_scope,
                role=Role.APPROVER,
                positionals=(ID,),
                options=(
                    Param(
                        "override",
                        "approve past failed gates; the reason is recorded in the audit",
                        placeholder='"reason"',
                    ),
                ),
                details="You cannot approve a change you proposed.",
            ),
            CommandSpec(
                "change reject",
                "Reject a proposed change (approvers, or its requester to withdraw it)",
                _reject,
                needs=(ChangesKit,),
                changes_state=True,
                refusal_scope=_change_scope,
                role=Role.OPERATOR,
                positionals=(ID,),
                options=(Param("reason", "why", placeholder='"reason"'),),
            ),
            CommandSpec(
                "change rollback",
                "Restore the objects an applied change wrote, exactly as they were",
                _rollback,
                needs=(ChangesKit,),
                changes_state=True,
                refusal_scope=_change_scope,
                role=Role.OPERATOR,
                positionals=(ID,),
                options=(Param("reason", "why", placeholder='"reason"'),),
                details="Refused, with nothing written, if someone changed the objects since.",
            ),
        ]
    )
