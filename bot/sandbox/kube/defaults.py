"""Defaulting of built-in objects, as kube-apiserver does before it stores them.

Only the defaults that clients or the sandbox's own controllers read back: a Secret
without ``type`` is ``Opaque``; workloads get their replica count and update strategy
(Deployment RollingUpdate 25%/25%, StatefulSet RollingUpdate with partition 0,
DaemonSet RollingUpdate maxUnavailable 1), revision history and progress deadline — the
values the rollout controllers work with and that ``kubectl get -o yaml`` shows. Pod
spec defaults (dnsPolicy, restartPolicy, …) are not applied.
"""

from __future__ import annotations

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


def apply_defaults(kind: str, group: str, obj: dict[str, Any]) -> None:
    """Fill in ``obj``'s defaults in place (built-in kinds only)."""
    if group == "" and kind == "Secret":
        if not obj.get("type"):
            obj["type"] = "Opaque"
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
