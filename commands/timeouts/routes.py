"""VirtualService JSON ↔ the routes the timeout rules judge, and the edited object.

Kept apart from the rules because this is the part that knows Istio's object shape:
short host names resolve against the VirtualService's namespace (as Istio resolves
them), durations come as strings, `retries` absent means Istio's default policy. The
edit side changes only `timeout` and `retries` of one route and leaves every other
field as it was, so the diff a reviewer sees is exactly those lines.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from commands.timeouts.durations import DurationError, format_duration, parse_duration
from commands.timeouts.model import RetrySpec, Route, RouteEdit, RouteRef

JSON = Any
CLUSTER_DOMAIN = "svc.cluster.local"
MANAGED_BY = {"app.kubernetes.io/managed-by": "meshbot"}


def fqdn(host: str, namespace: str) -> str:
    """Istio's resolution of a short host in a rule living in `namespace`."""
    host = host.strip().lower()
    if host.startswith("*") or host.endswith("." + CLUSTER_DOMAIN):
        return host
    parts = host.split(".")
    if len(parts) == 1:
        return f"{host}.{namespace}.{CLUSTER_DOMAIN}"
    if len(parts) == 2:
        return f"{host}.{CLUSTER_DOMAIN}"
    if len(parts) == 3 and parts[2] == "svc":
        return f"{host}.cluster.local"
    return host


def _duration(raw: Any) -> int | None:
    if raw in (None, ""):
        return None
    try:
        return parse_duration(str(raw))
    except DurationError:
        return None  # the server accepted it; an unparseable value is treated as unset


def routes_of(vs: JSON) -> list[Route]:
    meta = vs.get("metadata") or {}
    namespace = str(meta.get("namespace") or "default")
    name = str(meta.get("name") or "?")
    spec = vs.get("spec") or {}
    hosts = tuple(fqdn(h, namespace) for h in spec.get("hosts") or [])
    gateways = tuple(str(g) for g in spec.get("gateways") or [])
    mesh = not gateways or "mesh" in gateways
    found = []
    for index, http in enumerate(spec.get("http") or []):
        destinations = []
        for target in http.get("route") or []:
            host = ((target or {}).get("destination") or {}).get("host")
            if host:
                destinations.append(fqdn(str(host), namespace))
        raw_retries = http.get("retries")
        retries = None
        if isinstance(raw_retries, dict):
            retry_on = raw_retries.get("retryOn")
            retries = RetrySpec(
                attempts=int(raw_retries.get("attempts") or 0),
                per_try_ms=_duration(raw_retries.get("perTryTimeout")),
                retry_on=str(retry_on) if retry_on else None,
            )
        found.append(
            Route(
                ref=RouteRef(
                    api_version=str(vs.get("apiVersion") or ""),
                    namespace=namespace,
                    vs_name=name,
                    index=index,
                    name=http.get("name") or None,
                ),
                hosts=hosts,
                destinations=tuple(dict.fromkeys(destinations)),
                mesh=mesh,
                gateways=gateways,
                timeout_ms=_duration(http.get("timeout")),
                retries=retries,
                raw=copy.deepcopy(http),
            )
        )
    return found


def routes_for_host(routes: Sequence[Route], host: str) -> list[Route]:
    """Mesh routes that decide traffic to `host`: the VirtualService is for that host."""
    return [r for r in routes if r.mesh and host in r.hosts]


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
    if edit.attempts == 0:
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


def route_with(route: Route, edit: RouteEdit) -> Route:
    """The route as it would be after `edit` (to run the rules on a proposal)."""
    retries = route.retries
    if edit.attempts is not None or edit.per_try_ms is not None or edit.retry_on:
        base = retries or RetrySpec(attempts=2)
        attempts = base.attempts if edit.attempts is None else edit.attempts
        per_try = edit.per_try_ms if edit.per_try_ms is not None else base.per_try_ms
        retries = RetrySpec(
            attempts=attempts,
            per_try_ms=None if attempts == 0 else per_try,
            retry_on=None if attempts == 0 else (edit.retry_on or base.retry_on),
        )
    return Route(
        ref=route.ref,
        hosts=route.hosts,
        destinations=route.destinations,
        mesh=route.mesh,
        gateways=route.gateways,
        timeout_ms=edit.timeout_ms if edit.timeout_ms is not None else route.timeout_ms,
        retries=retries,
        raw=route.raw,
    )
