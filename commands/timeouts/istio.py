"""How Istio names things in a VirtualService: hosts, gateways, export, wildcards.

The audit must see the same host Envoy sees, or it judges the wrong route. Istio
(`ResolveShortnameToFQDN`) expands only names *without a dot*, in the namespace of
the object being read: `reviews` in `shop` is `reviews.shop.svc.cluster.local`, but
`reviews.shop` stays `reviews.shop` — not a registry name, so Envoy has no cluster for
it unless a ServiceEntry declares exactly that host. `wikipedia.org` stays as written.
Gateways resolve to `namespace/name` (`gw` → `<vs ns>/gw`, `./gw` likewise, the legacy
`gw.ns.svc.cluster.local` → `ns/gw`); `mesh` means every sidecar.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

CLUSTER_DOMAIN = "svc.cluster.local"
MESH = "mesh"


def resolve_host(host: str, namespace: str) -> str:
    """A host of a VirtualService in `namespace`, as Istio resolves it."""
    name = host.strip().lower()
    if not name or name == "*" or "." in name or ":" in name:  # IPv4 has dots, IPv6 colons
        return name
    return f"{name}.{namespace}.{CLUSTER_DOMAIN}"


def resolve_gateway(name: str, namespace: str) -> str:
    """A `gateways:` entry as `namespace/name` (or `mesh`)."""
    if name == MESH:
        return name
    if "/" in name:
        head, _, tail = name.partition("/")
        return f"{namespace}/{tail}" if head == "." else name
    if "." not in name:
        return f"{namespace}/{name}"
    first, _, rest = name.partition(".")
    return f"{rest.split('.')[0]}/{first}"


def half_qualified(host: str) -> tuple[str, str] | None:
    """`reviews.shop` or `reviews.shop.svc` → ("reviews", "shop"): a name Istio keeps as
    written although it looks like a service's; None for anything else."""
    parts = host.split(".")
    shaped = len(parts) == 2 or (len(parts) == 3 and parts[2] == "svc")
    if shaped and parts[0] and parts[1] and "*" not in host:
        return parts[0], parts[1]
    return None


def host_matches(pattern: str, host: str) -> bool:
    """Does a VirtualService host (maybe `*.example.com` or `*`) cover `host`?"""
    if pattern == host or pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return False


def hosts_intersect(a: str, b: str) -> bool:
    """Two host patterns that can name the same request (either covers the other)."""
    return host_matches(a, b) or host_matches(b, a)


def exported_to(export_to: Sequence[str], owner_namespace: str, namespace: str) -> bool:
    """Is an object of `owner_namespace` with `exportTo` visible from `namespace`?
    Empty `exportTo` is the mesh default, which we take as `*` (Istio's own default)."""
    if not export_to:
        return True
    visible = {owner_namespace if e == "." else e for e in export_to}
    return "*" in visible or namespace in visible


def server_hosts_accept(
    server_hosts: Iterable[str], gateway_namespace: str, vs_namespace: str, vs_hosts: Sequence[str]
) -> bool:
    """Does a Gateway's `servers[].hosts` list take a VirtualService of `vs_namespace`
    with `vs_hosts`? (`ns/host`, `./host`, `*/host`; then host patterns intersect.)"""
    for entry in server_hosts:
        namespace, _, pattern = entry.rpartition("/")
        if namespace == ".":
            namespace = gateway_namespace
        if namespace not in ("", "*", vs_namespace):
            continue
        if any(hosts_intersect(pattern.lower(), h) for h in vs_hosts):
            return True
    return False
