"""VirtualServices as istiod hands them to Envoy: names resolved, delegates merged.

A delegate VirtualService (no `hosts`) is never applied on its own; a root route with
`delegate:` is replaced, in place, by the delegate's routes, each merged with the root
route (Istio's `mergeVirtualServices` / `mergeHTTPRoute`):

- fields the delegate route leaves unset come whole from the root route: `timeout`,
  `retries`, `fault`, `mirror`, `mirrorPercent(age)`, `mirrors`, `directResponse`,
  `rewrite`, `corsPolicy`, `headers` (no deep merge: a delegate's `retries` replaces
  the root's entirely). `route`, `redirect` and `delegate` are never inherited;
- each delegate match is merged with every root match it does not conflict with; one
  delegate match that conflicts with all of them drops the whole delegate route;
- a missing delegate, or one not exported to the root's namespace, drops only that
  root route; only one level of delegation exists;
- the root's names resolve in the root's namespace and the delegate's in its own.

Everything dropped is said in a note, so the audit never judges a route Envoy never
gets and never misses why a route vanished.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from commands.timeouts.istio import MESH, exported_to, resolve_gateway, resolve_host
from commands.timeouts.model import RouteRef
from commands.timeouts.shape import http_route, mapping, strings

JSON = Any
INHERITED = (
    "rewrite",
    "directResponse",
    "timeout",
    "retries",
    "fault",
    "mirror",
    "mirrorPercent",
    "mirrorPercentage",
    "corsPolicy",
    "mirrors",
    "headers",
)
_STRING_MATCHES = ("uri", "scheme", "method", "authority")
_MAP_MATCHES = ("headers", "withoutHeaders", "queryParams")


@dataclass(frozen=True)
class VirtualService:
    """One VirtualService object with Istio's resolution applied to its top level."""

    api_version: str
    namespace: str
    name: str
    hosts: tuple[str, ...]
    gateways: tuple[str, ...]  # resolved; `mesh` when the object lists none
    export_to: tuple[str, ...]
    created: str
    http: tuple[JSON, ...]  # routes with destination/mirror hosts and match gateways resolved
    raw_http: tuple[JSON, ...]  # routes as written
    tcp: int = 0
    tls: int = 0

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def is_delegate(self) -> bool:
        return not self.hosts

    def ref(self, index: int) -> RouteRef:
        name = self.raw_http[index].get("name") if isinstance(self.raw_http[index], dict) else None
        return RouteRef(self.api_version, self.namespace, self.name, index, name or None)


@dataclass(frozen=True)
class MergedRoute:
    """One HTTP route of a root (or plain) VirtualService, after delegation."""

    vs: VirtualService  # the VirtualService whose hosts and gateways it serves
    spec: JSON  # the route Envoy gets (merged, names resolved)
    ref: RouteRef  # the route object holding it as written
    raw: JSON
    root: RouteRef | None = None
    root_raw: JSON = None
    inherited: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Merged:
    virtual_services: tuple[VirtualService, ...]  # every object read, delegates too
    routes: tuple[MergedRoute, ...]
    notes: tuple[str, ...]


def read_virtual_service(obj: JSON) -> VirtualService:
    meta = mapping(obj.get("metadata"))
    namespace = str(meta.get("namespace") or "default")
    spec = mapping(obj.get("spec"))
    listed = spec.get("http")
    raw_http = tuple(  # one entry per route as written, so indexes match the object
        h if isinstance(h, dict) else {} for h in (listed if isinstance(listed, list) else [])
    )
    gateways = tuple(resolve_gateway(g, namespace) for g in strings(spec.get("gateways")))
    return VirtualService(
        api_version=str(obj.get("apiVersion") or ""),
        namespace=namespace,
        name=str(meta.get("name") or "?"),
        hosts=tuple(resolve_host(h, namespace) for h in strings(spec.get("hosts"))),
        gateways=gateways or (MESH,),
        export_to=tuple(strings(spec.get("exportTo"))),
        created=str(meta.get("creationTimestamp") or ""),
        http=tuple(_resolved(http_route(h), namespace) for h in raw_http),
        raw_http=raw_http,
        tcp=len(spec["tcp"]) if isinstance(spec.get("tcp"), list) else 0,
        tls=len(spec["tls"]) if isinstance(spec.get("tls"), list) else 0,
    )


def _resolved(http: JSON, namespace: str) -> JSON:
    """A copy of one route with its names resolved; only what changes is copied (a
    large mesh has tens of thousands of routes), the rest is shared and never changed."""
    out = dict(http)
    if isinstance(out.get("match"), list):
        out["match"] = [_with_gateways(m, namespace) for m in out["match"]]
    if isinstance(out.get("route"), list):
        out["route"] = [_with_host(t, namespace) for t in out["route"]]
    mirror = out.get("mirror")
    if isinstance(mirror, dict) and mirror.get("host"):
        out["mirror"] = {**mirror, "host": resolve_host(str(mirror["host"]), namespace)}
    if isinstance(out.get("mirrors"), list):
        out["mirrors"] = [_with_host(m, namespace) for m in out["mirrors"]]
    return out


def _with_gateways(match: Any, namespace: str) -> Any:
    if not isinstance(match, dict) or not match.get("gateways"):
        return match
    return {**match, "gateways": [resolve_gateway(str(g), namespace) for g in match["gateways"]]}


def _with_host(target: Any, namespace: str) -> Any:
    destination = target.get("destination") if isinstance(target, dict) else None
    if not isinstance(destination, dict) or not destination.get("host"):
        return target
    host = resolve_host(str(destination["host"]), namespace)
    return {**target, "destination": {**destination, "host": host}}


def merge(objects: Iterable[JSON]) -> Merged:
    services = tuple(read_virtual_service(o) for o in objects)
    delegates = {(v.namespace, v.name): v for v in services if v.is_delegate}
    used: set[tuple[str, str]] = set()
    routes: list[MergedRoute] = []
    notes: list[str] = []
    for vs in services:
        if vs.is_delegate:
            continue
        for index, http in enumerate(vs.http):
            pointer = http.get("delegate")
            if not isinstance(pointer, dict):
                routes.append(MergedRoute(vs, http, vs.ref(index), vs.raw_http[index]))
                continue
            key = (str(pointer.get("namespace") or vs.namespace), str(pointer.get("name") or ""))
            used.add(key)
            routes.extend(_expand(vs, index, key, delegates.get(key), notes))
    for key, delegate in sorted(delegates.items()):
        if key not in used:
            notes.append(
                f"VirtualService {delegate.label} has no hosts, so it is a delegate, and no root "
                "VirtualService delegates to it: Istio applies none of its routes"
            )
        elif delegate.gateways != (MESH,) or delegate.tcp or delegate.tls:
            notes.append(
                f"delegate VirtualService {delegate.label} sets gateways, tcp or tls: Istio "
                "ignores them there (only the root's apply) and its validation refuses them"
            )
    return Merged(services, tuple(routes), tuple(notes))


def _expand(
    root: VirtualService,
    index: int,
    key: tuple[str, str],
    delegate: VirtualService | None,
    notes: list[str],
) -> list[MergedRoute]:
    root_ref = root.ref(index)
    where = f"{root_ref.label} delegates to {key[0]}/{key[1]}"
    if delegate is None:
        notes.append(
            f"{where}, which does not exist (or has hosts, so it is no delegate): Istio drops "
            "that root route; requests it would match go to the routes after it"
        )
        return []
    if not exported_to(delegate.export_to, delegate.namespace, root.namespace):
        notes.append(
            f"{where}, which is not exported to namespace {root.namespace}: Istio drops that "
            "root route"
        )
        return []
    root_http = root.http[index]
    merged: list[MergedRoute] = []
    for child_index, child in enumerate(delegate.http):
        child_ref = delegate.ref(child_index)
        if isinstance(child.get("delegate"), dict):
            notes.append(
                f"{child_ref.label} delegates again: Istio supports one level of delegation "
                "(validation refuses it), so that route is never applied"
            )
            continue
        spec = _merge_route(root_http, child)
        if spec is None:
            notes.append(
                f"{child_ref.label}: its match conflicts with every match of {root_ref.label} "
                "(it must narrow the root's match), so Istio drops it"
            )
            continue
        inherited = frozenset(
            f for f in INHERITED if child.get(f) is None and root_http.get(f) is not None
        )
        merged.append(
            MergedRoute(
                root,
                spec,
                child_ref,
                delegate.raw_http[child_index],
                root_ref,
                root.raw_http[index],
                inherited,
            )
        )
    return merged


def _merge_route(root: JSON, child: JSON) -> JSON | None:
    matches = _merge_matches(root.get("match") or [], child.get("match") or [])
    if matches is None:
        return None
    out = copy.deepcopy(child)
    if matches:
        out["match"] = matches
    out["name"] = _joined(root.get("name"), child.get("name"))
    if not out["name"]:
        out.pop("name")
    for name in INHERITED:
        if out.get(name) is None and root.get(name) is not None:
            out[name] = copy.deepcopy(root[name])
    return out


def _joined(root: Any, child: Any) -> str:
    if child and root:
        return f"{root}-{child}"
    return str(child or root or "")


def _merge_matches(root: Sequence[JSON], child: Sequence[JSON]) -> list[JSON] | None:
    """Istio's `mergeHTTPMatchRequests`; None: a conflict drops the route."""
    if not root:
        return [copy.deepcopy(m) for m in child]
    if not child:
        return [copy.deepcopy(m) for m in root]
    out: list[JSON] = []
    for leaf in child:
        fits = [r for r in root if not has_conflict(r, leaf)]
        if not fits:
            return None
        out.extend(_merge_match(r, leaf) for r in fits)
    return out or None


def _merge_match(root: JSON, leaf: JSON) -> JSON:
    out = copy.deepcopy(leaf)
    name = _joined(root.get("name"), leaf.get("name"))
    if name:
        out["name"] = name
    for key in _STRING_MATCHES:
        if out.get(key) is None and root.get(key) is not None:
            out[key] = copy.deepcopy(root[key])
    for key in ("sourceNamespace", "statPrefix"):
        if not out.get(key) and root.get(key):
            out[key] = root[key]
    for key in (*_MAP_MATCHES, "sourceLabels"):
        combined = {**(root.get(key) or {}), **(leaf.get(key) or {})}
        if combined:
            out[key] = combined
    if not out.get("port") and root.get("port"):
        out["port"] = root["port"]
    if not out.get("gateways") and root.get("gateways"):
        out["gateways"] = list(root["gateways"])
    return out


def has_conflict(root: JSON, leaf: JSON) -> bool:
    """Istio's `hasConflict`: can `leaf` not be read as a narrowing of `root`?"""
    for key in _STRING_MATCHES:
        if _string_conflict(root.get(key), leaf.get(key)):
            return True
    for key in _MAP_MATCHES:
        root_map = root.get(key) or {}
        for name, value in (leaf.get(key) or {}).items():
            if _string_conflict(root_map.get(name), value):
                return True
    if bool(root.get("ignoreUriCase")) != bool(leaf.get("ignoreUriCase")):
        return True
    root_port, leaf_port = int(root.get("port") or 0), int(leaf.get("port") or 0)
    if root_port and leaf_port and root_port != leaf_port:
        return True
    source_ns = root.get("sourceNamespace") or ""
    if source_ns and (leaf.get("sourceNamespace") or "") != source_ns:
        return True
    root_labels = root.get("sourceLabels") or {}
    for name, value in (leaf.get("sourceLabels") or {}).items():
        if name in root_labels and root_labels[name] != value:
            return True
    root_gateways, leaf_gateways = root.get("gateways") or [], leaf.get("gateways") or []
    if root_gateways and leaf_gateways:
        return len(root_gateways) < len(leaf_gateways) or not set(leaf_gateways) <= set(
            root_gateways
        )
    return False


def _string_conflict(root: Any, leaf: Any) -> bool:
    """Istio's `stringMatchConflict` on StringMatch objects (None: not set)."""
    if root is None or leaf is None:
        return False
    r_exact, r_prefix, r_regex = (str(root.get(k) or "") for k in ("exact", "prefix", "regex"))
    l_exact, l_prefix, l_regex = (str(leaf.get(k) or "") for k in ("exact", "prefix", "regex"))
    if r_regex and (l_regex or l_prefix or l_exact):
        return True
    if l_regex and (r_regex or r_prefix or r_exact):
        return True
    if r_exact:
        return bool(l_prefix) or l_exact != r_exact
    if r_prefix:
        if l_prefix:
            return not l_prefix.startswith(r_prefix)
        if l_exact:
            return not l_exact.startswith(r_prefix)
    return True
