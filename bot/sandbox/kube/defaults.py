"""Defaulting of built-in objects, as kube-apiserver does before it stores them.

Only the defaults that clients or the sandbox's own controllers read back: a Secret
without ``type`` is ``Opaque``; a Service gets its cluster IP and node ports (Helm's wait
looks for them); workloads get their replica count and update strategy
(Deployment RollingUpdate 25%/25%, StatefulSet RollingUpdate with partition 0,
DaemonSet RollingUpdate maxUnavailable 1), revision history and progress deadline — the
values the rollout controllers work with and that ``kubectl get -o yaml`` shows. Pod
spec defaults (dnsPolicy, restartPolicy, …) are not applied.
"""

from __future__ import annotations

import hashlib
from typing import Any


def _rolling(spec: dict[str, Any], key: str, rolling: dict[str, Any]) -> None:
    strategy = spec.setdefault(key, {})
    if not isinstance(strategy, dict):
        return
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        current = strategy.setdefault("rollingUpdate", {})
        if isinstance(current, dict):
            for field, value in rolling.items():
                current.setdefault(field, value)


def _number(key: str, modulo: int) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % modulo


def _service(obj: dict[str, Any]) -> None:
    """The allocations a Service gets: a cluster IP (10.96.0.0/16), node ports for
    NodePort/LoadBalancer (30000-32767), TCP ports with targetPort = port. Derived from the
    Service's name, so an update keeps them, as the real server does."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    meta = obj.get("metadata") or {}
    key = f"{meta.get('namespace')}/{meta.get('name')}"
    kind = spec.setdefault("type", "ClusterIP")
    if kind != "ExternalName":
        if not spec.get("clusterIP"):
            number = _number(key, 65_000) + 10
            spec["clusterIP"] = f"10.96.{number // 256}.{number % 256}"
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        if spec["clusterIP"] != "None":
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("sessionAffinity", "None")
    for i, port in enumerate(spec.get("ports") or ()):
        if not isinstance(port, dict):
            continue
        port.setdefault("protocol", "TCP")
        if "port" in port:
            port.setdefault("targetPort", port["port"])
        if kind in ("NodePort", "LoadBalancer") and not port.get("nodePort"):
            port["nodePort"] = 30000 + _number(f"{key}/{i}", 2768)
    if kind in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if kind == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)


def apply_defaults(kind: str, group: str, obj: dict[str, Any]) -> None:
    """Fill in ``obj``'s defaults in place (built-in kinds only)."""
    if group == "" and kind == "Secret":
        if not obj.get("type"):
            obj["type"] = "Opaque"
        return
    if group == "" and kind == "Service":
        _service(obj)
        return
    if group != "apps" or kind not in ("Deployment", "StatefulSet", "DaemonSet"):
        return
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("revisionHistoryLimit", 10)
    if kind == "Deployment":
        spec.setdefault("replicas", 1)
        spec.setdefault("progressDeadlineSeconds", 600)
        _rolling(spec, "strategy", {"maxUnavailable": "25%", "maxSurge": "25%"})
    elif kind == "StatefulSet":
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        _rolling(spec, "updateStrategy", {"partition": 0})
    else:
        _rolling(spec, "updateStrategy", {"maxUnavailable": 1, "maxSurge": 0})
