"""`/mesh timeouts audit|set|fix`: VirtualService timeouts and retries that fight the app.

The classic mesh incident — the app times out at 1.5 s and retries while the mesh is
still waiting and retrying on its own — is invisible to Istio's own checks. `audit`
(viewer) reads every VirtualService, the apps' timeouts and live traffic and reports
findings with stable ids; `set` and `fix` (operator) turn values into a change for the
pipeline, after running the same rules on the result: a combination the audit would
flag is refused unless `force=true`, which is recorded in the proposal and the audit
stream.
"""

from __future__ import annotations

from collections.abc import Sequence

from commands.changes.hooks import ChangesKit
from commands.changes.model import ObjectChange, Risk
from commands.changes.pipeline import Pipeline
from commands.core.clusters import pick_cluster
from commands.core.model import Denied, Failure, Result, Role, UsageError
from commands.core.registry import Args, CommandSpec, Context, Param, Registry
from commands.timeouts.audit import Facts, audit, gather, recall, remember, settings_of
from commands.timeouts.durations import (
    DURATION_HELP,
    DurationError,
    format_duration,
    parse_duration,
    parse_retry_on,
)
from commands.timeouts.fix import Refused, build_objects, find_route, proposal, resolve_host
from commands.timeouts.model import Finding, Route, RouteEdit, TimeoutsSettings
from commands.timeouts.policy import DEFAULT_ATTEMPTS
from commands.timeouts.ports import VirtualServices
from commands.timeouts.rules import violations
from commands.timeouts.suggest import edits_for, short

MAX_RETRIES = 100
CLUSTER = Param("cluster", "the cluster (default: the only configured one)", placeholder="NAME")


def _cluster(ctx: Context, args: Args) -> str | UsageError | Denied:
    return pick_cluster(ctx.services, args.get("cluster"), ctx.caller)


def _usage(ctx: Context, name: str) -> str:
    spec = ctx.registry.get(name)
    return ctx.registry.usage_of(spec) if spec is not None else f"{ctx.registry.prefix} {name}"


# ---- audit ---------------------------------------------------------------------------------


def _audit(ctx: Context, args: Args) -> Result:
    cluster = _cluster(ctx, args)
    if not isinstance(cluster, str):
        return cluster
    namespace = args.get("namespace")
    scope = args.get("scope")
    if scope == "all" and namespace:
        return UsageError(
            "say `all` or `namespace=NS`, not both", usage=_usage(ctx, "timeouts audit")
        )
    services = ctx.services
    now = services.clock.now()
    settings = settings_of(services)
    facts = gather(services, cluster)
    report = audit(facts, cluster, None if scope == "all" else namespace, settings, now)
    remember(services, report, now)
    return report


# ---- set -----------------------------------------------------------------------------------


def _duration_arg(name: str, raw: str | None, settings: TimeoutsSettings) -> int | None:
    if raw is None:
        return None
    try:
        ms = parse_duration(raw)
    except DurationError as exc:
        raise Refused(f"`{name}=`: {exc}") from None
    limit = settings.max_timeout_ms
    if ms > limit:
        raise Refused(
            f"`{name}={raw}` is above {format_duration(limit)}, the longest {name} meshbot sets on "
            "a route (`timeouts.max_timeout`): a request allowed to run that long is not bounded "
            "in any useful way. Use a shorter value, or raise `timeouts.max_timeout` if you mean it"
        )
    return ms


def _edit_from_args(args: Args, settings: TimeoutsSettings) -> RouteEdit:
    timeout = _duration_arg("timeout", args.get("timeout"), settings)
    per_try = _duration_arg("per-try", args.get("per-try"), settings)
    attempts: int | None = None
    raw_retries = args.get("retries")
    if raw_retries is not None:
        if not str(raw_retries).isdigit():
            raise Refused(f"`retries={raw_retries}`: a whole number of retries (0 turns them off)")
        attempts = int(raw_retries)
        if attempts > MAX_RETRIES:
            raise Refused(
                f"`retries={attempts}`: more than {MAX_RETRIES} retries is never what you want"
            )
    retry_on = None
    if args.get("retry-on"):
        try:
            retry_on = parse_retry_on(str(args.get("retry-on")))
        except ValueError as exc:
            raise Refused(f"`retry-on=`: {exc}") from None
    if attempts == 0 and (per_try is not None or retry_on):
        raise Refused("`per-try=`/`retry-on=` have no effect with `retries=0`; drop them")
    return RouteEdit(
        host="",
        route=None,
        timeout_ms=timeout,
        attempts=attempts,
        per_try_ms=per_try,
        retry_on=retry_on,
    )


def _set(ctx: Context, args: Args) -> Result:
    cluster = _cluster(ctx, args)
    if not isinstance(cluster, str):
        return cluster
    usage = _usage(ctx, "timeouts set")
    force = args.get("force") == "true"
    try:
        values = _edit_from_args(args, settings_of(ctx.services))
        facts = gather(ctx.services, cluster)
        host = resolve_host(str(args.get("service")), facts)
        route = find_route(host, facts.routes, args.get("route"))
    except Refused as exc:
        return UsageError(str(exc), usage=usage, command="timeouts set")
    args_of = (values.timeout_ms, values.attempts, values.per_try_ms, values.retry_on)
    if route is None:
        edits: tuple[RouteEdit, ...] = (RouteEdit(host, None, *args_of),)
    else:
        edits = edits_for(route, *args_of)
    return _propose(ctx, cluster, facts, edits, (), force, f"timeouts set {short(host)}", usage)


def _affected(
    facts: Facts, edits: Sequence[RouteEdit], objects: Sequence[ObjectChange]
) -> list[Route]:
    """The routes an edit changes: the edited route objects (a root's edit reaches every
    route delegated from it) and every route of a new VirtualService."""
    edited = {e.route for e in edits if e.route is not None}
    created = {(o.ref.namespace, o.ref.name) for o in objects if o.observed is None}
    return [
        r
        for r in facts.routes
        if r.ref in edited or r.root in edited or (r.ref.namespace, r.ref.vs_name) in created
    ]


def _flagged(facts: Facts, routes: Sequence[Route], settings: TimeoutsSettings) -> list[Finding]:
    registry = facts.registry
    return [f for r in routes for f in violations(r, facts.facts_for(r), settings, registry)]


def _propose(
    ctx: Context,
    cluster: str,
    facts: Facts,
    edits: Sequence[RouteEdit],
    why: Sequence[str],
    force: bool,
    what: str,
    usage: str,
    *,
    only_new: bool = False,
) -> Result:
    settings = settings_of(ctx.services)
    cluster_port = ctx.services.clusters[cluster]
    try:
        objects = build_objects(cluster_port, facts, edits)
    except Refused as exc:
        return UsageError(str(exc), usage=usage, command=what)
    after = facts.with_objects([o.desired for o in objects if o.desired is not None])
    flagged = _flagged(after, _affected(after, edits, objects), settings)
    if only_new:  # a fix is not refused for what it leaves as it was
        known = {f.id for f in _flagged(facts, _affected(facts, edits, objects), settings)}
        flagged = [f for f in flagged if f.id not in known]
    risks = [Risk(f"{f.rule}: {f.message}", f.severity.value) for f in flagged]
    if flagged and not force:
        lines = "; ".join(f"{f.rule}: {f.message}" for f in flagged)
        return UsageError(
            f"refused, nothing proposed — the audit would flag the result: {lines}. Change the "
            "values, or add `force=true` to propose it anyway (recorded in the audit log)",
            usage=usage,
            command=what,
        )
    for note in facts.notes:
        risks.append(Risk(f"not checked: {note}", "info"))
    title = "Timeouts: " + "; ".join(e.describe() for e in edits)
    if force and flagged:
        title += " (forced)"
        ctx.services.store.append_audit(
            cluster,
            {
                "event": "timeouts-force",
                "actor": ctx.caller.user_id,
                "cluster": cluster,
                "result": "forced",
                "detail": (what + ": " + "; ".join(f.rule for f in flagged))[:1000],
            },
        )
        risks.insert(0, Risk(f"proposed with force=true by {ctx.caller.user_id}", "error"))
    return Pipeline(ctx.services).propose(
        proposal(cluster, title[:300], objects, edits, why, risks), ctx.caller
    )


# ---- fix -----------------------------------------------------------------------------------


def _fix(ctx: Context, args: Args) -> Result:
    cluster = _cluster(ctx, args)
    if not isinstance(cluster, str):
        return cluster
    usage = _usage(ctx, "timeouts fix")
    finding_id = str(args.get("id")).strip().lower()
    found = recall(ctx.services, cluster, finding_id, ctx.services.clock.now())
    if isinstance(found, str):
        return Failure(found)
    if found.suggestion is None:
        return Failure(f"finding {finding_id} has no suggested fix; use `/mesh timeouts set`")
    facts = gather(ctx.services, cluster)
    why = (f"fixes {found.id} ({found.rule}: {found.subject})", *found.suggestion.why)
    return _propose(
        ctx,
        cluster,
        facts,
        found.suggestion.edits,
        why,
        args.get("force") == "true",
        f"timeouts fix {finding_id}",
        usage,
        only_new=True,
    )


def register(registry: Registry) -> None:
    registry.register_all(
        [
            CommandSpec(
                name="timeouts audit",
                summary="find VirtualService timeouts and retries that fight the application",
                handler=_audit,
                needs=(ChangesKit, TimeoutsSettings),
                cluster_needs=(VirtualServices,),
                role=Role.VIEWER,
                positionals=(Param("scope", "`all` namespaces (the default)", choices=("all",)),),
                options=(Param("namespace", "only this namespace", placeholder="NS"), CLUSTER),
                details=(
                    "Reads VirtualServices as Istio merges them (delegates into their roots, "
                    "gateway-bound routes apart from mesh ones, no check of redirect or "
                    "directResponse routes). Per HTTP route: no timeout (info unless it "
                    "matters), perTryTimeout that never fires or is never retried, retries that "
                    "cannot fit ((attempts+1) x perTryTimeout ≤ timeout), mesh timeout not "
                    "above the app's, timeouts below the observed p99; per call path: stacked "
                    "retries beyond the amplification threshold. Each finding has a stable id "
                    "and a fix line (`timeouts fix ID` when the bot can apply it)."
                ),
            ),
            CommandSpec(
                name="timeouts set",
                summary="propose timeout/retries for a service's route (through approval)",
                handler=_set,
                needs=(ChangesKit, TimeoutsSettings),
                cluster_needs=(VirtualServices,),
                role=Role.OPERATOR,
                changes_state=True,
                options=(
                    Param(
                        "service",
                        "the host: name, name.namespace or FQDN",
                        required=True,
                        placeholder="HOST",
                    ),
                    Param("timeout", DURATION_HELP, required=True, placeholder="2s"),
                    Param(
                        "retries",
                        f"retries after the first try (Istio default {DEFAULT_ATTEMPTS})",
                        placeholder="N",
                    ),
                    Param("per-try", "timeout of each try", placeholder="500ms"),
                    Param("retry-on", "Envoy retry policies / status codes", placeholder="5xx,…"),
                    Param("route", "VS/ROUTE when several routes match", placeholder="NAME"),
                    Param(
                        "force",
                        "propose even what the audit would flag (recorded)",
                        choices=("true", "false"),
                    ),
                    CLUSTER,
                ),
            ),
            CommandSpec(
                name="timeouts fix",
                summary="propose the suggested fix of an audit finding",
                handler=_fix,
                needs=(ChangesKit, TimeoutsSettings),
                cluster_needs=(VirtualServices,),
                role=Role.OPERATOR,
                changes_state=True,
                positionals=(
                    Param(
                        "id", "a finding id from the audit", required=True, placeholder="FINDING_ID"
                    ),
                ),
                options=(
                    Param("force", "propose even if flagged (recorded)", choices=("true", "false")),
                    CLUSTER,
                ),
            ),
        ]
    )


__all__ = ["format_duration", "register"]
