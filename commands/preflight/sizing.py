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

    cpu_req = parse_cpu(resources["requests"]["cpu"])
    mem_req = parse_mem(resources["requests"]["memory"])
    cpu_lim = parse_cpu(resources["limits"]["cpu"])
    mem_lim = parse_mem(resources["limits"]["memory"])

    app_cpu = [p.cpu_request_m for p in pods if p.cpu_request_m > 0]
    typical_app_cpu = int(median(app_cpu)) if app_cpu else 0
    if typical_app_cpu >= 500:
        cpu_req = max(cpu_req, 100)
        cpu_lim = max(cpu_lim, 1000)
        reasons.append(
            f"typical pod requests {typical_app_cpu}m CPU: busy pods need a busier proxy, "
            f"so proxy requests {cpu_req}m and limit {cpu_lim}m"
        )
    # Envoy's memory grows with the configuration it holds: every service in the mesh.
    if service_count > 1000:
        mem_req = max(mem_req, 128 * MI)
        mem_lim = max(mem_lim, 512 * MI)
        reasons.append(
            f"{service_count} services: each proxy holds config for all of them; "
            "memory requests 128Mi, limit 512Mi (or scope it with a Sidecar resource)"
        )
    alloc = [n.allocatable_cpu_m for n in nodes if n.allocatable_cpu_m]
    smallest = min(alloc) if alloc else None
    if smallest is not None and cpu_lim > smallest // 4:
        cpu_lim = max(cpu_req, smallest // 4 // 100 * 100)
        reasons.append(
            f"smallest node has {smallest}m allocatable: proxy CPU limit capped at {cpu_lim}m "
            "(a quarter of the node)"
        )
    concurrency = max(1, min(2, math.ceil(cpu_lim / 1000)))
    reasons.append(
        f"proxy concurrency {concurrency}: worker threads matching the {cpu_lim}m CPU limit"
    )
    resources["requests"] = {"cpu": cpu_text(cpu_req), "memory": mem_text(mem_req)}
    resources["limits"] = {"cpu": cpu_text(cpu_lim), "memory": mem_text(mem_lim)}
    spec.setdefault("meshConfig", {}).setdefault("defaultConfig", {})["concurrency"] = concurrency

    zones = {n.labels.get("topology.kubernetes.io/zone") for n in nodes} - {None}
    pilot = components.setdefault("pilot", {}).setdefault("k8s", {})
    proxies = meshed_pods if profile != "ambient" else len(nodes)
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

    per_node_cpu = per_node_mem = 0
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
        per_node_cpu = ZTUNNEL_REQUESTS[0] + CNI_REQUESTS[0]
        per_node_mem = ZTUNNEL_REQUESTS[1] + CNI_REQUESTS[1]
        reasons.append("ambient: ztunnel and istio-cni on every node instead of sidecars")
    elif profile == "minimal":
        components.pop("ingressGateways", None)
        reasons.append("minimal: no ingress gateway")
    return Sizing(
        proxy_cpu_m=cpu_req if profile != "ambient" else 0,
        proxy_mem=mem_req if profile != "ambient" else 0,
        proxy_cpu_limit_m=cpu_lim,
        proxy_mem_limit=mem_lim,
        concurrency=concurrency,
        per_node_cpu_m=per_node_cpu,
        per_node_mem=per_node_mem,
        istio_operator=overlay,
        reasons=tuple(reasons),
    )
