"""Sizing advice: sidecar, istiod and gateway resources from node sizes and current load.

The advice starts from the production base overlay (manifests/istio/production.yaml,
mirrored in BASE so the pure core needs no file) and adjusts it with rules a platform
engineer can check by hand; each adjustment carries its reason in the output. The
result is an `IstioOperator` overlay that `istioctl install -f` takes as is.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from commands.preflight.model import NodeInfo, PodInfo

MI = 1024 * 1024
GI = 1024 * MI

# The production base overlay; tests check manifests/istio/production.yaml says the same.
BASE: dict[str, Any] = {
    "apiVersion": "install.istio.io/v1alpha1",
    "kind": "IstioOperator",
    "spec": {
        "profile": "default",
        "components": {
            "pilot": {
                "enabled": True,
                "k8s": {
                    "resources": {
                        "requests": {"cpu": "200m", "memory": "256Mi"},
                        "limits": {"cpu": "1000m", "memory": "1Gi"},
                    },
                    "hpaSpec": {"minReplicas": 2, "maxReplicas": 5},
                },
            },
            "ingressGateways": [
                {
                    "name": "istio-ingressgateway",
                    "enabled": True,
                    "k8s": {
                        "resources": {
                            "requests": {"cpu": "500m", "memory": "512Mi"},
                            "limits": {"cpu": "2000m", "memory": "1Gi"},
                        },
                        "hpaSpec": {"minReplicas": 2, "maxReplicas": 5},
                    },
                }
            ],
        },
        "values": {
            "global": {
                "proxy": {
                    "resources": {
                        "requests": {"cpu": "50m", "memory": "64Mi"},
                        "limits": {"cpu": "500m", "memory": "256Mi"},
                    }
                }
            }
        },
    },
}
# Per-node agents of the ambient profile (Helm chart defaults).
ZTUNNEL_REQUESTS = (200, 512 * MI)
CNI_REQUESTS = (100, 100 * MI)


@dataclass(frozen=True)
class Sizing:
    proxy_cpu_m: int
    proxy_mem: int
    proxy_cpu_limit_m: int
    proxy_mem_limit: int
    concurrency: int
    per_node_cpu_m: int  # ambient agents per node (0 for sidecar profiles)
    per_node_mem: int
    istio_operator: dict[str, Any]
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"istio_operator": self.istio_operator, "reasons": list(self.reasons)}


def cpu_text(milli: int) -> str:
    return f"{milli}m"


def mem_text(size: int) -> str:
    if size % GI == 0:
        return f"{size // GI}Gi"
    return f"{math.ceil(size / MI)}Mi"


def parse_cpu(text: str) -> int:
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


def parse_mem(text: str) -> int:
    units = {"Ki": 1024, "Mi": MI, "Gi": GI}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(text)


@dataclass
class ProxyResources:
    """The sidecar's requests and limits (millicores, bytes) while the rules adjust them."""

    cpu_req: int
    mem_req: int
    cpu_lim: int
    mem_lim: int

    @classmethod
    def parse(cls, resources: dict[str, Any]) -> ProxyResources:
        return cls(
            cpu_req=parse_cpu(resources["requests"]["cpu"]),
            mem_req=parse_mem(resources["requests"]["memory"]),
            cpu_lim=parse_cpu(resources["limits"]["cpu"]),
            mem_lim=parse_mem(resources["limits"]["memory"]),
        )

    def to_overlay(self) -> dict[str, Any]:
        return {
            "requests": {"cpu": cpu_text(self.cpu_req), "memory": mem_text(self.mem_req)},
            "limits": {"cpu": cpu_text(self.cpu_lim), "memory": mem_text(self.mem_lim)},
        }


def recommend(
    nodes: Sequence[NodeInfo],
    pods: Sequence[PodInfo],
    meshed_pods: int,
    service_count: int,
    profile: str,
    base: dict[str, Any] | None = None,
) -> Sizing:
    """The overlay for this cluster: the base, adjusted by size and load, with reasons."""
    overlay = copy.deepcopy(base or BASE)
    spec = overlay.setdefault("spec", {})
    spec["profile"] = profile
    components = spec.setdefault("components", {})
    proxy = spec.setdefault("values", {}).setdefault("global", {}).setdefault("proxy", {})
    resources = proxy.setdefault(
        "resources", copy.deepcopy(BASE["spec"]["values"]["global"]["proxy"]["resources"])
    )
    reasons: list[str] = []
    sidecar = size_proxy(ProxyResources.parse(resources), nodes, pods, service_count, reasons)
    concurrency = max(1, min(2, math.ceil(sidecar.cpu_lim / 1000)))
    reasons.append(
        f"proxy concurrency {concurrency}: worker threads matching the {sidecar.cpu_lim}m CPU limit"
    )
    resources.update(sidecar.to_overlay())
    spec.setdefault("meshConfig", {}).setdefault("defaultConfig", {})["concurrency"] = concurrency
    proxies = meshed_pods if profile != "ambient" else len(nodes)
    size_control_plane(components, nodes, proxies, reasons)
    per_node_cpu, per_node_mem = shape_for_profile(components, profile, reasons)
    return Sizing(
        proxy_cpu_m=sidecar.cpu_req if profile != "ambient" else 0,
        proxy_mem=sidecar.mem_req if profile != "ambient" else 0,
        proxy_cpu_limit_m=sidecar.cpu_lim,
        proxy_mem_limit=sidecar.mem_lim,
        concurrency=concurrency,
        per_node_cpu_m=per_node_cpu,
        per_node_mem=per_node_mem,
        istio_operator=overlay,
        reasons=tuple(reasons),
    )


def size_proxy(
    proxy: ProxyResources,
    nodes: Sequence[NodeInfo],
    pods: Sequence[PodInfo],
    service_count: int,
    reasons: list[str],
) -> ProxyResources:
    """The sidecar's resources: busier for busy pods, more memory for a large mesh, and a
    CPU limit no bigger than a quarter of the smallest node."""
    app_cpu = [p.cpu_request_m for p in pods if p.cpu_request_m > 0]
    typical_app_cpu = int(median(app_cpu)) if app_cpu else 0
    if typical_app_cpu >= 500:
        proxy.cpu_req = max(proxy.cpu_req, 100)
        proxy.cpu_lim = max(proxy.cpu_lim, 1000)
        reasons.append(
            f"typical pod requests {typical_app_cpu}m CPU: busy pods need a busier proxy, "
            f"so proxy requests {proxy.cpu_req}m and limit {proxy.cpu_lim}m"
        )
    # Envoy's memory grows with the configuration it holds: every service in the mesh.
    if service_count > 1000:
        proxy.mem_req = max(proxy.mem_req, 128 * MI)
        proxy.mem_lim = max(proxy.mem_lim, 512 * MI)
        reasons.append(
            f"{service_count} services: each proxy holds config for all of them; "
            "memory requests 128Mi, limit 512Mi (or scope it with a Sidecar resource)"
        )
    alloc = [n.allocatable_cpu_m for n in nodes if n.allocatable_cpu_m]
    smallest = min(alloc) if alloc else None
    if smallest is not None and proxy.cpu_lim > smallest // 4:
        proxy.cpu_lim = max(proxy.cpu_req, smallest // 4 // 100 * 100)
        reasons.append(
            f"smallest node has {smallest}m allocatable: proxy CPU limit capped at "
            f"{proxy.cpu_lim}m (a quarter of the node)"
        )
    return proxy


def size_control_plane(
    components: dict[str, Any], nodes: Sequence[NodeInfo], proxies: int, reasons: list[str]
) -> None:
    """istiod's resources by how many proxies it pushes to; HPA minimums by zones."""
    zones = {n.labels.get("topology.kubernetes.io/zone") for n in nodes} - {None}
    pilot = components.setdefault("pilot", {}).setdefault("k8s", {})
    if proxies > 5000:
        pilot["resources"] = {
            "requests": {"cpu": "1000m", "memory": "2Gi"},
            "limits": {"cpu": "2000m", "memory": "4Gi"},
        }
        reasons.append(f"{proxies} proxies to push config to: istiod requests 1000m/2Gi")
    elif proxies > 1000:
        pilot["resources"] = {
            "requests": {"cpu": "500m", "memory": "1Gi"},
            "limits": {"cpu": "2000m", "memory": "2Gi"},
        }
        reasons.append(f"{proxies} proxies to push config to: istiod requests 500m/1Gi")
    min_replicas = 3 if len(zones) >= 3 and len(nodes) >= 50 else 2
    pilot.setdefault("hpaSpec", {})["minReplicas"] = min_replicas
    pilot["hpaSpec"].setdefault("maxReplicas", 5)
    if min_replicas == 3:
        reasons.append(f"{len(zones)} zones and {len(nodes)} nodes: istiod HPA minReplicas 3")
    for gateway in components.get("ingressGateways") or []:
        gateway.setdefault("k8s", {}).setdefault("hpaSpec", {})["minReplicas"] = min_replicas


def shape_for_profile(
    components: dict[str, Any], profile: str, reasons: list[str]
) -> tuple[int, int]:
    """What the profile adds or drops; returns the per-node agents' CPU and memory."""
    if profile == "ambient":
        components["cni"] = {"enabled": True}
        components["ztunnel"] = {
            "enabled": True,
            "k8s": {
                "resources": {
                    "requests": {
                        "cpu": cpu_text(ZTUNNEL_REQUESTS[0]),
                        "memory": mem_text(ZTUNNEL_REQUESTS[1]),
                    }
                }
            },
        }
        reasons.append("ambient: ztunnel and istio-cni on every node instead of sidecars")
        return ZTUNNEL_REQUESTS[0] + CNI_REQUESTS[0], ZTUNNEL_REQUESTS[1] + CNI_REQUESTS[1]
    if profile == "minimal":
        components.pop("ingressGateways", None)
        reasons.append("minimal: no ingress gateway")
    return 0, 0
