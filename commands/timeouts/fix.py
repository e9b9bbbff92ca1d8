"""From "set these values for this host" to a change for the pipeline.

`timeouts set` and `timeouts fix` end the same way: one or more route edits become
whole desired VirtualServices (read fresh, only `timeout`/`retries` of one route
changed, or a minimal new VirtualService when the host has none) handed to the change
pipeline, which dry-runs, diffs, asks for approval, applies with a drift check and
keeps the snapshot for Rollback. What differs is how the route is found: by host and
`route=` here, with a clear question when the host is ambiguous.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from commands.changes.model import ObjectChange, ObjectRef, Proposal, Risk
from commands.core.ports import JSON, Cluster
from commands.timeouts.audit import Facts
from commands.timeouts.istio import CLUSTER_DOMAIN, half_qualified
from commands.timeouts.model import Route, RouteEdit, RouteRef, ServiceRecord
from commands.timeouts.routes import apply_edit, minimal_virtual_service, routes_for_host
from commands.timeouts.suggest import short

KIND = "timeouts"


class Refused(Exception):
    """The edit cannot be proposed as asked; the message says why and what to do."""


def known_hosts(facts: Facts) -> set[str]:
    """Hosts a user may name: Services, ServiceEntry hosts, VirtualService hosts and
    destinations (as Istio resolved them)."""
    return (
        {r.host for r in facts.services}
        | set(facts.entries)
        | {h for r in facts.routes for h in (*r.hosts, *r.destinations) if "*" not in h}
    )


def resolve_host(text: str, facts: Facts) -> str:
    """What the user typed (`payments`, `payments.payments`, `payments/payments`, a FQDN,
    a ServiceEntry host such as `api.example.com`) → one known host. This is the bot's
    shorthand for people; inside a VirtualService Istio's own rule applies."""
    raw = text.strip().lower()
    known = known_hosts(facts)
    if "/" in raw:
        namespace, _, name = raw.partition("/")
        host = f"{name}.{namespace}.{CLUSTER_DOMAIN}"
    elif "." not in raw:
        matches = sorted(
            {r.host for r in facts.services if r.name == raw}
            | {h for h in known if h.split(".")[0] == raw and h.endswith(CLUSTER_DOMAIN)}
        )
        if len(matches) > 1:
            listed = ", ".join(f"`{short(m)}`" for m in matches)
            raise Refused(
                f"`{text}` names several services ({listed}): say which, e.g. "
                f"`service={short(matches[0])}`"
            )
        if not matches:
            raise Refused(_unknown(text, known))
        return matches[0]
    elif raw in known:
        return raw
    else:
        pair = half_qualified(raw)
        host = f"{pair[0]}.{pair[1]}.{CLUSTER_DOMAIN}" if pair else raw
    if host not in known:
        raise Refused(_unknown(text, known))
    return host


def _unknown(text: str, known: set[str]) -> str:
    first = text.split(".")[0].split("/")[-1]
    close = sorted(h for h in known if first and first[:3] in h.split(".")[0])[:5]
    hint = f" Did you mean {', '.join(f'`{short(h)}`' for h in close)}?" if close else ""
    return (
        f"unknown host `{text}`: no Service and no VirtualService host matches it in this "
        f"cluster.{hint}"
    )


def find_route(host: str, routes: Sequence[Route], wanted: str | None) -> Route | None:
    """The one route for `host` (None: it has no VirtualService); refuses when several
    VirtualServices or routes match and `route=` does not pick exactly one. Without
    `route=` only the mesh routes of the host count; `route=` may also name a route
    bound to a gateway that forwards to the host."""
    candidates = [r for r in routes_for_host(routes, host) if r.forwards]
    if wanted:
        reachable = [
            r
            for r in routes
            if r.forwards and r.unused is None and (host in r.hosts or host in r.destinations)
        ]
        picked = [r for r in reachable if _matches(r, wanted, reachable)]
        if len(picked) == 1:
            return picked[0]
        listed = _listing(reachable)
        if not picked:
            raise Refused(f"no route `{wanted}` for {short(host)}. Its routes: {listed}")
        raise Refused(
            f"`route={wanted}` matches several routes of {short(host)}: {_listing(picked)}"
        )
    if not candidates:
        others = routes_for_host(routes, host)
        if others:
            raise Refused(
                f"the routes for {short(host)} ({', '.join(r.label for r in others)}) answer "
                "with a redirect or a direct response: no request reaches an upstream, so a "
                "timeout or retries there would have no effect"
            )
        return None
    if len(candidates) == 1:
        return candidates[0]
    vss = sorted({f"{r.ref.namespace}/{r.ref.vs_name}" for r in candidates})
    what = (
        f"{len(vss)} VirtualServices ({', '.join(vss)})"
        if len(vss) > 1
        else f"{len(candidates)} routes in {vss[0]}"
    )
    raise Refused(
        f"{short(host)} is matched by {what}; say which with `route=`: {_listing(candidates)}"
    )


def _matches(route: Route, wanted: str, candidates: Sequence[Route]) -> bool:
    refs = [route.ref] if route.root is None else [route.ref, route.root]
    return any(_ref_matches(ref, wanted, candidates) for ref in refs)


def _ref_matches(ref: RouteRef, wanted: str, candidates: Sequence[Route]) -> bool:
    if "/" in wanted:
        vs, _, route = wanted.partition("/")
        return vs == ref.vs_name and route in (ref.route_id, f"#{ref.index}")
    names = {r.ref.vs_name for r in candidates}
    if wanted == ref.vs_name:
        return sum(1 for r in candidates if r.ref.vs_name == wanted) == 1
    return wanted == ref.name or (len(names) == 1 and wanted == f"#{ref.index}")


def _listing(routes: Sequence[Route]) -> str:
    return "; ".join(
        f"`route={r.ref.selector}` ({r.label} → {', '.join(short(d) for d in r.destinations)})"
        for r in routes
    )


@dataclass(frozen=True)
class Target:
    ref: ObjectRef
    desired: JSON
    label: str


def build_objects(
    cluster: Cluster, facts: Facts, edits: Sequence[RouteEdit]
) -> tuple[ObjectChange, ...]:
    """Whole desired objects for the edits, read fresh; several edits to one
    VirtualService become one object. Refuses when a route moved since it was seen."""
    api_version = facts.api_version
    if api_version is None:
        raise Refused("this cluster serves no networking.istio.io version: cannot write routes")
    desired: dict[ObjectRef, JSON] = {}
    for edit in edits:
        if edit.route is None:
            ref, body = _new_virtual_service(cluster, facts, api_version, edit)
            desired[ref] = body
            continue
        r = edit.route
        ref = ObjectRef(
            r.api_version or api_version,
            "VirtualService",
            "virtualservices",
            r.vs_name,
            r.namespace,
        )
        live = desired.get(ref) or cluster.get_object(ref)
        if live is None:
            raise Refused(
                f"VirtualService {r.namespace}/{r.vs_name} no longer exists: "
                "run `/mesh timeouts audit` again"
            )
        http = (live.get("spec") or {}).get("http") or []
        if r.index >= len(http) or (http[r.index].get("name") or None) != r.name:
            raise Refused(
                f"{r.label} moved since it was read (routes were added or renamed): "
                "run `/mesh timeouts audit` again"
            )
        if edit.seen is not None and http[r.index] != edit.seen and ref not in desired:
            raise Refused(
                f"{r.label} was edited since the audit (drift): nothing proposed. "
                "Run `/mesh timeouts audit` again to see it as it is now"
            )
        desired[ref] = apply_edit(live, r.index, edit)
    return tuple(ObjectChange(ref, body) for ref, body in desired.items())


def _new_virtual_service(
    cluster: Cluster, facts: Facts, api_version: str, edit: RouteEdit
) -> tuple[ObjectRef, JSON]:
    if routes_for_host(facts.routes, edit.host):
        raise Refused(f"{short(edit.host)} has a VirtualService now: run the audit again")
    if edit.host in facts.entries:  # a ServiceEntry host: beside its ServiceEntry
        namespace = facts.entries[edit.host]
        name = edit.host.replace("*", "wildcard").replace(".", "-")[:63].strip("-")
    else:
        parts = edit.host.split(".")
        name, namespace = parts[0], parts[1] if len(parts) > 1 else "default"
    taken = {(vs["metadata"]["namespace"], vs["metadata"]["name"]) for vs in facts.virtual_services}
    if (namespace, name) in taken:
        name = f"{name}-timeouts"
    ref = ObjectRef(api_version, "VirtualService", "virtualservices", name, namespace)
    if cluster.get_object(ref) is not None:
        raise Refused(f"VirtualService {namespace}/{name} appeared meanwhile: run the audit again")
    return ref, minimal_virtual_service(api_version, namespace, name, edit.host, edit)


def proposal(
    cluster: str,
    title: str,
    objects: tuple[ObjectChange, ...],
    edits: Sequence[RouteEdit],
    why: Sequence[str],
    risks: Sequence[Risk],
) -> Proposal:
    hosts = sorted({e.host for e in edits})
    namespaces = sorted(
        {h.split(".")[1] for h in hosts if h.endswith(CLUSTER_DOMAIN) and len(h.split(".")) > 1}
    )
    summary = tuple(e.describe() for e in edits) + tuple(why)
    return Proposal(
        kind=KIND,
        cluster=cluster,
        title=title,
        objects=objects,
        risks=tuple(risks),
        summary=summary,
        verify={"hosts": hosts, "namespaces": namespaces},
    )


def known_service(records: Sequence[ServiceRecord], host: str) -> bool:
    return any(r.host == host for r in records)
