"""The istiod chart's values, from preflight's sizing overlay, never below the floors.

Why this exists: preflight already sized the control plane and the sidecars for this
cluster (an IstioOperator overlay); a Helm install needs the same numbers as chart
values. The seed guide's numbers are the floor — istiod 200m/256Mi requests and
1000m/1Gi limits with at least 2 replicas, the proxy 50m/64Mi requests and 500m/256Mi
limits — so a small cluster's sizing never installs something weaker than that.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

JSON = Any
MI = 1024 * 1024
GI = 1024 * MI
ISTIOD_FLOOR = {"requests": ("200m", "256Mi"), "limits": ("1000m", "1Gi")}
PROXY_FLOOR = {"requests": ("50m", "64Mi"), "limits": ("500m", "256Mi")}
HPA_MIN_FLOOR = 2


def cpu_milli(text: object) -> int:
    value = str(text).strip()
    return int(float(value[:-1])) if value.endswith("m") else int(float(value) * 1000)


def mem_bytes(text: object) -> int:
    value = str(text).strip()
    for suffix, factor in (("Ki", 1024), ("Mi", MI), ("Gi", GI), ("K", 1000), ("M", 10**6)):
        if value.endswith(suffix):
            return int(float(value[: -len(suffix)]) * factor)
    return int(float(value))


def _mem_text(size: int) -> str:
    return f"{size // GI}Gi" if size % GI == 0 else f"{-(-size // MI)}Mi"


def at_least(given: Mapping[str, Any] | None, floor: Mapping[str, tuple[str, str]]) -> JSON:
    """Kubernetes resources `given`, each value raised to the floor where it is lower."""
    out: dict[str, dict[str, str]] = {}
    for part, (cpu_floor, mem_floor) in floor.items():
        have = (given or {}).get(part) or {}
        cpu = max(cpu_milli(have.get("cpu", cpu_floor)), cpu_milli(cpu_floor))
        mem = max(mem_bytes(have.get("memory", mem_floor)), mem_bytes(mem_floor))
        out[part] = {"cpu": f"{cpu}m", "memory": _mem_text(mem)}
    return out


def istiod_values(overlay: Mapping[str, Any], *, revision: str) -> JSON:
    """The istiod chart's values for `revision`, sized by preflight's overlay. Images are
    the chart's own (the Helm adapter fills in the cluster's hub where a chart has none)."""
    spec = overlay.get("spec") or {}
    pilot = ((spec.get("components") or {}).get("pilot") or {}).get("k8s") or {}
    proxy = (((spec.get("values") or {}).get("global") or {}).get("proxy") or {}).get("resources")
    hpa_min = int((pilot.get("hpaSpec") or {}).get("minReplicas") or HPA_MIN_FLOOR)
    concurrency = ((spec.get("meshConfig") or {}).get("defaultConfig") or {}).get("concurrency")
    values: dict[str, Any] = {
        "revision": revision,
        "global": {"proxy": {"resources": at_least(proxy, PROXY_FLOOR)}},
        "pilot": {
            "resources": at_least(pilot.get("resources"), ISTIOD_FLOOR),
            "autoscaleMin": max(HPA_MIN_FLOOR, hpa_min),
        },
    }
    if concurrency is not None:
        values["meshConfig"] = {"defaultConfig": {"concurrency": int(concurrency)}}
    return values
