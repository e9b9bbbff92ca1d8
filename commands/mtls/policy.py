"""Which mTLS mode applies where: PeerAuthentication precedence, sidecar coverage.

Istio resolves PeerAuthentications by scope — workload (a selector) over namespace (no
selector, in the namespace) over mesh (no selector, in the root namespace) — and a
mode of UNSET inherits from the scope above; with nothing at all the mode is
PERMISSIVE. When two policies share a scope Istio quietly uses the oldest one; the bot
does not guess like that: it names both and refuses to migrate until one is removed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from commands.mtls.model import ISTIO_DEFAULT_MODE, MODES, Coverage, Effective, PeerAuth

JSON = Any
SIDECAR = "istio-proxy"
GONE_PHASES = ("Succeeded", "Failed")


def peer_auth(obj: JSON) -> PeerAuth:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    mode = str(((spec.get("mtls") or {}).get("mode")) or "UNSET").upper()
    labels = ((spec.get("selector") or {}).get("matchLabels")) or {}
    ports = spec.get("portLevelMtls") or {}
    return PeerAuth(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        mode=mode if mode in MODES else "UNSET",
        selector=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
        port_modes=tuple(
            sorted((str(p), str((m or {}).get("mode", "UNSET"))) for p, m in ports.items())
        ),
        created=str(meta.get("creationTimestamp", "")),
    )


def effective_mode(policies: Iterable[PeerAuth], namespace: str, root: str) -> Effective:
    mine = [p for p in policies if p.namespace == namespace]
    mesh = [p for p in policies if p.namespace == root and not p.selector]
    namespace_wide = [p for p in mine if not p.selector]
    workload = tuple(p for p in mine if p.selector)
    conflicts = []
    if len(mesh) > 1:
        conflicts.append(
            "several mesh-wide PeerAuthentications: " + ", ".join(p.label for p in mesh)
        )
    if namespace != root and len(namespace_wide) > 1:
        conflicts.append(
            f"several namespace-wide PeerAuthentications in {namespace}: "
            + ", ".join(p.label for p in namespace_wide)
        )
    mesh_policy = mesh[0] if len(mesh) == 1 else None
    ns_policy = namespace_wide[0] if len(namespace_wide) == 1 and namespace != root else None
    if conflicts:
        mode, source = "UNKNOWN", "conflicting PeerAuthentications"
    elif ns_policy is not None and ns_policy.mode != "UNSET":
        mode, source = ns_policy.mode, f"namespace PeerAuthentication {ns_policy.label}"
    elif mesh_policy is not None and mesh_policy.mode != "UNSET":
        mode, source = mesh_policy.mode, f"mesh PeerAuthentication {mesh_policy.label}"
    else:
        mode, source = ISTIO_DEFAULT_MODE, "Istio's default (no PeerAuthentication sets a mode)"
    return Effective(namespace, mode, source, ns_policy, mesh_policy, workload, tuple(conflicts))


def mesh_mode(policies: Iterable[PeerAuth], root: str) -> str:
    mesh = [p for p in policies if p.namespace == root and not p.selector]
    if len(mesh) > 1:
        return "UNKNOWN"
    if mesh and mesh[0].mode != "UNSET":
        return mesh[0].mode
    return ISTIO_DEFAULT_MODE


def overrides_against(effective: Effective, target: str) -> list[str]:
    """Workload and port-level policies that keep some pods off `target` mode."""
    return effective.kept_off(target)


def has_sidecar(pod: JSON) -> bool:
    spec = pod.get("spec") or {}
    containers = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
    return any(c.get("name") == SIDECAR for c in containers)


def coverage(pods: Iterable[JSON]) -> Coverage:
    """Live pods (not Succeeded/Failed) and those without an istio-proxy container."""
    live = [p for p in pods if (p.get("status") or {}).get("phase") not in GONE_PHASES]
    missing = tuple(
        sorted(str((p.get("metadata") or {}).get("name", "?")) for p in live if not has_sidecar(p))
    )
    return Coverage(len(live), missing)


def is_meshed(namespace: JSON, pods: Iterable[JSON]) -> bool:
    labels = (namespace.get("metadata") or {}).get("labels") or {}
    if labels.get("istio-injection") == "enabled" or "istio.io/rev" in labels:
        return True
    return any(has_sidecar(p) for p in pods)
