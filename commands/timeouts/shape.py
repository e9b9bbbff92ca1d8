"""A VirtualService's spec cut to the shape Istio's schema allows, before it is judged.

The API server validates VirtualServices against Istio's CRD schema, but a cluster may
run without it (an old CRD, validation off) and the audit must still never crash on
what it reads. So every field the audit uses is taken only when it has the type the
schema gives it; anything else is treated as unset — it would not have been accepted,
and istiod could not have read it either. The object as written is kept apart for
edits and drift checks; this copy is only read.
"""

from __future__ import annotations

from typing import Any

JSON = Any
_STRING_MATCH_KEYS = ("exact", "prefix", "regex")


def strings(value: Any) -> list[str]:
    return [str(v) for v in value if isinstance(v, str | int)] if isinstance(value, list) else []


def mapping(value: Any) -> dict[str, Any]:
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def whole(value: Any) -> int | None:
    """An integer field (attempts, port, weight), as Go's JSON decoding would take it."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _string_match(value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    return {k: str(value[k]) for k in _STRING_MATCH_KEYS if isinstance(value.get(k), str | int)}


def _match(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    out: dict[str, Any] = {}
    for key in ("uri", "scheme", "method", "authority"):
        found = _string_match(value.get(key))
        if found is not None:
            out[key] = found
    for key in ("headers", "withoutHeaders", "queryParams"):
        entries = {
            k: m for k, v in mapping(value.get(key)).items() if (m := _string_match(v)) is not None
        }
        if entries:
            out[key] = entries
    labels = {k: str(v) for k, v in mapping(value.get("sourceLabels")).items()}
    if labels:
        out["sourceLabels"] = labels
    for key in ("name", "sourceNamespace", "statPrefix"):
        if isinstance(value.get(key), str):
            out[key] = value[key]
    if value.get("ignoreUriCase") is True:
        out["ignoreUriCase"] = True
    port = whole(value.get("port"))
    if port:
        out["port"] = port
    if strings(value.get("gateways")):
        out["gateways"] = strings(value.get("gateways"))
    return out


def _destination(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    out = {k: v for k, v in value.items() if k not in ("destination", "weight")}
    out["destination"] = {
        **mapping(value.get("destination")),
        "host": str(mapping(value.get("destination")).get("host") or ""),
    }
    weight = whole(value.get("weight"))
    if weight is not None:
        out["weight"] = weight
    return out


def _percentage(value: Any) -> dict[str, float] | None:
    if not isinstance(value, dict):
        return None
    number = value.get("value")
    if isinstance(number, bool) or not isinstance(number, int | float):
        return {}
    return {"value": float(number)}


def _retries(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    out: dict[str, Any] = {}
    attempts = whole(value.get("attempts"))
    if attempts is not None:
        out["attempts"] = attempts
    for key in ("perTryTimeout", "retryOn"):
        if isinstance(value.get(key), str | int) and not isinstance(value.get(key), bool):
            out[key] = str(value[key])
    return out


def http_route(value: Any) -> JSON:
    """One `http` route cut to the schema's shape."""
    if not isinstance(value, dict):
        return {}
    out: dict[str, Any] = {}
    if isinstance(value.get("name"), str):
        out["name"] = value["name"]
    if isinstance(value.get("match"), list):
        out["match"] = [m for m in (_match(v) for v in value["match"]) if m is not None]
    if isinstance(value.get("route"), list):
        out["route"] = [d for d in (_destination(v) for v in value["route"]) if d is not None]
    if isinstance(value.get("timeout"), str | int) and not isinstance(value.get("timeout"), bool):
        out["timeout"] = str(value["timeout"])
    retries = _retries(value.get("retries"))
    if retries is not None:
        out["retries"] = retries
    delegate = value.get("delegate")
    if isinstance(delegate, dict) and isinstance(delegate.get("name"), str):
        out["delegate"] = {
            "name": delegate["name"],
            "namespace": str(delegate.get("namespace") or ""),
        }
    for key in ("redirect", "directResponse", "rewrite", "corsPolicy", "headers", "fault"):
        if isinstance(value.get(key), dict):
            out[key] = value[key]
    mirror = value.get("mirror")
    if isinstance(mirror, dict):
        out["mirror"] = {**mirror, "host": str(mirror.get("host") or "")}
    for key in ("mirrorPercentage",):
        found = _percentage(value.get(key))
        if found is not None:
            out[key] = found
    if value.get("mirrorPercent") is not None:
        out["mirrorPercent"] = value["mirrorPercent"]
    if isinstance(value.get("mirrors"), list):
        out["mirrors"] = [
            {
                "destination": {"host": str(mapping(m.get("destination")).get("host") or "")},
                **({"percentage": p} if (p := _percentage(m.get("percentage"))) else {}),
            }
            for m in value["mirrors"]
            if isinstance(m, dict)
        ]
    return out
