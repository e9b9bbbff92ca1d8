"""Merged VirtualServices → the routes the timeout rules judge, and the edited object.

Kept apart from the rules because this is the part that knows what Envoy ends up
with (route.go `BuildHTTPRoutesForVirtualService` / `TranslateRoute`):

- only a route that forwards (`route:`) has a timeout and retries; `redirect` and
  `directResponse` routes never reach an upstream, whatever else they set;
- routes after a catch-all (no match, or only `uri: {prefix: /}` / `regex: .*`) are
  never built; `match.gateways` narrows a route to those proxies among the
  VirtualService's own `gateways` (a route listing only proxies the object is not bound
  to exists nowhere);
- sidecars take one VirtualService per host, the oldest; a newer one for the same
  hosts is hidden from them (gateways, by contrast, concatenate routes);
- with several destinations, zero weights are dropped; one policy covers them all.

The edit side changes only `timeout` and `retries` of one route and leaves every other
field as it was, so the diff a reviewer sees is exactly those lines.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from commands.timeouts.durations import format_duration, read_route_duration
from commands.timeouts.istio import MESH, half_qualified
from commands.timeouts.merge import Merged, MergedRoute, VirtualService, merge
from commands.timeouts.model import Action, RetrySpec, Route, RouteEdit
from commands.timeouts.policy import DEFAULT_ATTEMPTS
from commands.timeouts.shape import mapping, whole

JSON = Any
MANAGED_BY = {"app.kubernetes.io/managed-by": "meshbot"}
_CATCH_ALL_KEYS = frozenset({"name", "uri", "ignoreUriCase", "statPrefix"})


def effective_routes(objects: Iterable[JSON]) -> tuple[list[Route], list[str]]:
    """Every HTTP route Envoy gets from these VirtualServices, and notes on what Istio
    drops or ignores."""
    merged = merge(objects)
    routes = [_route(m) for m in merged.routes]
    routes = _after_catch_alls(merged, routes)
    unused = [f"{r.label}: {r.unused}" for r in routes if r.unused]
    routes, hidden = _hidden_from_sidecars(merged, routes)
    return routes, [*merged.notes, *unused, *hidden]


def routes_of(vs: JSON) -> list[Route]:
    """The routes of one VirtualService read alone (no delegates resolved)."""
    return effective_routes([vs])[0]


def _action(spec: JSON) -> Action:
    if spec.get("redirect") is not None:
        return Action.REDIRECT
    if spec.get("directResponse") is not None:
        return Action.DIRECT_RESPONSE
    if spec.get("route"):
        return Action.FORWARD
    return Action.NOTHING


def _destinations(spec: JSON) -> tuple[str, ...]:
    targets = [t for t in spec.get("route") or [] if isinstance(t, dict)]
    if len(targets) > 1:
        targets = [t for t in targets if (whole(t.get("weight")) or 0) != 0] or targets
    hosts = [str((t.get("destination") or {}).get("host") or "") for t in targets]
    return tuple(dict.fromkeys(h for h in hosts if h))


def _mirrors(spec: JSON) -> tuple[str, ...]:
    found = []
    mirror = spec.get("mirror")
    percent = spec.get("mirrorPercentage") or {}
    if isinstance(mirror, dict) and mirror.get("host") and percent.get("value", 100) != 0:
        found.append(str(mirror["host"]))
    for entry in spec.get("mirrors") or []:
        host = ((entry or {}).get("destination") or {}).get("host")
        if host and ((entry or {}).get("percentage") or {}).get("value", 100) != 0:
            found.append(str(host))
    return tuple(dict.fromkeys(found))


def _proxies(vs: VirtualService, spec: JSON) -> tuple[str, ...]:
    """Where Envoy builds the route: its VirtualService's gateways, narrowed per match."""
    matches = [m for m in spec.get("match") or [] if isinstance(m, dict)]
    if not matches:
        return vs.gateways
    found: list[str] = []
    for match in matches:
        listed = match.get("gateways") or []
        found.extend(g for g in vs.gateways if not listed or g in listed)
    return tuple(dict.fromkeys(found))


def _retries(raw: Any, problems: list[str]) -> RetrySpec | None:
    if raw is None:
        return None
    block = raw if isinstance(raw, dict) else {}
    per_try = read_route_duration(block.get("perTryTimeout"))
    if per_try.problem:
        problems.append(f"retries.perTryTimeout: {per_try.problem}")
    retry_on = block.get("retryOn")
    return RetrySpec(
        attempts=whole(block.get("attempts")) or 0,
        per_try_ms=per_try.ms,
        retry_on=str(retry_on) if retry_on else None,
    )


def _fault_delay(spec: JSON) -> int | None:
    delay = mapping(mapping(spec.get("fault")).get("delay")).get("fixedDelay")
    return read_route_duration(delay).ms if isinstance(delay, str) else None


def _route(merged: MergedRoute) -> Route:
    spec, vs = merged.spec, merged.vs
    problems: list[str] = []
    timeout = read_route_duration(spec.get("timeout"))
    if timeout.problem:
        problems.append(f"timeout: {timeout.problem}")
    retries = _retries(spec.get("retries"), problems)
    owner = merged.root or merged.ref

    def source(name: str) -> Any:
        if spec.get(name) is None:
            return None
        return owner if name in merged.inherited else merged.ref

    proxies = _proxies(vs, spec)
    unused = None
    if not proxies:
        listed = sorted({g for m in spec.get("match") or [] for g in m.get("gateways") or []})
        unused = (
            f"its match.gateways ({', '.join(listed)}) name none of the proxies "
            f"{vs.label} is bound to ({', '.join(vs.gateways)}): Envoy never gets it"
        )
    destinations = _destinations(spec)
    return Route(
        ref=merged.ref,
        hosts=vs.hosts,
        destinations=destinations,
        proxies=proxies,
        timeout_ms=timeout.ms,
        retries=retries,
        raw=merged.raw,  # as listed: never changed in place (edits copy the object first)
        action=_action(spec),
        root=merged.root,
        root_raw=merged.root_raw,
        timeout_from=source("timeout"),
        retries_from=source("retries"),
        problems=tuple(problems),
        unused=unused,
        fault_delay_ms=_fault_delay(spec),
        mirrors=_mirrors(spec),
        half_qualified=tuple(
            dict.fromkeys(h for h in (*vs.hosts, *destinations) if half_qualified(h))
        ),
        export_to=vs.export_to,
    )


def _is_catch_all(spec: JSON) -> bool:
    matches = [m for m in spec.get("match") or [] if isinstance(m, dict)]
    if not matches:
        return True
    for match in matches:
        if set(match) - _CATCH_ALL_KEYS:
            continue
        uri = match.get("uri")
        if uri is None or uri.get("prefix") == "/" or uri.get("regex") == ".*":
            return True
    return False


def _after_catch_alls(merged: Merged, routes: list[Route]) -> list[Route]:
    out: list[Route] = []
    catch_all: dict[tuple[str, str], Route] = {}
    for spec, route in zip((m.spec for m in merged.routes), routes, strict=True):
        key = route_vs_key(route)
        first = catch_all.get(key)
        if first is not None and route.unused is None:
            route = _unused(
                route,
                f"it comes after {first.label}, which matches every request: Envoy never builds it",
            )
        elif first is None and route.unused is None and _is_catch_all(spec):
            catch_all[key] = route
        out.append(route)
    return out


def route_vs_key(route: Route) -> tuple[str, str]:
    """The VirtualService whose hosts the route serves (the root, for delegated routes)."""
    owner = route.root or route.ref
    return owner.namespace, owner.vs_name


def _unused(route: Route, why: str) -> Route:
    return dataclasses.replace(route, unused=why)


def _hidden_from_sidecars(merged: Merged, routes: list[Route]) -> tuple[list[Route], list[str]]:
    """Sidecars use the oldest mesh VirtualService per host (when every namespace sees
    it); a newer one is hidden from them for that host, and entirely when all its hosts
    are taken."""
    mesh = [v for v in merged.virtual_services if not v.is_delegate and MESH in v.gateways]
    order = sorted(mesh, key=lambda v: (v.created, v.name, v.namespace))
    owner: dict[str, VirtualService] = {}
    taken: dict[tuple[str, str], list[VirtualService]] = {}
    for vs in order:
        taken[(vs.namespace, vs.name)] = [owner[h] for h in vs.hosts if h in owner]
        for host in vs.hosts:
            if host not in owner and (not vs.export_to or "*" in vs.export_to):
                owner[host] = vs
    notes = []
    for vs in order:
        older = taken[(vs.namespace, vs.name)]
        if not older:
            continue
        hosts = ", ".join(h for h in vs.hosts if owner.get(h) is not vs)
        winners = ", ".join(sorted({o.label for o in older}))
        notes.append(
            f"VirtualService {vs.label} is not used by sidecars for {hosts}: the older {winners} "
            "already serves it (sidecars use only the oldest VirtualService per host)"
        )
    out = []
    for route in routes:
        vs_key = route_vs_key(route)
        older = taken.get(vs_key) or []
        if older and route.mesh:
            hidden = tuple(
                h for h in route.hosts if h in owner and owner[h].label != "/".join(vs_key)
            )
            proxies = route.proxies
            unused = route.unused
            if len(hidden) == len(route.hosts):
                proxies = tuple(p for p in route.proxies if p != MESH)
                if not proxies and unused is None:
                    unused = f"sidecars use the older {older[0].label} for the same hosts"
            route = dataclasses.replace(route, proxies=proxies, unused=unused, hidden_hosts=hidden)
        out.append(route)
    return out, notes


def routes_for_host(routes: Sequence[Route], host: str) -> list[Route]:
    """Mesh routes that decide traffic to `host`: the VirtualService is for that host."""
    return [
        r
        for r in routes
        if r.mesh and r.unused is None and host in r.hosts and host not in r.hidden_hosts
    ]


def apply_edit(vs: JSON, index: int, edit: RouteEdit) -> JSON:
    """A copy of `vs` with route `index` set as `edit` says; nothing else changes."""
    desired = copy.deepcopy(vs)
    http = desired["spec"]["http"][index]
    _set(http, edit)
    return desired


def _set(http: JSON, edit: RouteEdit) -> None:
    if edit.timeout_ms is not None:
        http["timeout"] = format_duration(edit.timeout_ms)
    if edit.attempts is None and edit.per_try_ms is None and edit.retry_on is None:
        return
    retries = dict(http.get("retries") or {})
    if edit.attempts is not None:
        retries["attempts"] = edit.attempts
    elif "attempts" not in retries:
        retries["attempts"] = DEFAULT_ATTEMPTS  # a new block must keep Istio's default count
    if retries["attempts"] == 0:
        retries.pop("perTryTimeout", None)
        retries.pop("retryOn", None)
    else:
        if edit.per_try_ms is not None:
            retries["perTryTimeout"] = format_duration(edit.per_try_ms)
        if edit.retry_on:
            retries["retryOn"] = edit.retry_on
    http["retries"] = retries


def minimal_virtual_service(
    api_version: str, namespace: str, name: str, host: str, edit: RouteEdit
) -> JSON:
    """The smallest VirtualService that sets timeouts for `host` and routes as before."""
    http: JSON = {"name": "default", "route": [{"destination": {"host": host}}]}
    _set(http, edit)
    return {
        "apiVersion": api_version,
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY)},
        "spec": {"hosts": [host], "http": [http]},
    }
