"""Helm's answers read into the port's terms, and what meshbot adds to the values it sends.

A release as Helm stores it (status, chart, user-supplied values, rendered manifest)
becomes a `Release` with the objects of its manifest; Istio's source-tree charts get an
image registry and tag (they name a development one); Helm's messages lose anything that
looks like a credential before they reach a user or a log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from commands.install.ports import Release

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: istiod's manifest is large
DEV_TAGS = frozenset({"", "latest"})
CLUSTER_SCOPED = frozenset(
    {
        "APIService", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
        "IngressClass", "MutatingWebhookConfiguration", "Namespace", "PersistentVolume",
        "PriorityClass", "RuntimeClass", "StorageClass", "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration",
    }
)  # fmt: skip
SECRETS = (
    (re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"), r"\1[redacted]"),
    (
        re.compile(r"(?i)\b(token|password|secret)([\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"),
        r"\1\2[redacted]",
    ),
    (re.compile(r"eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*"), "[redacted]"),
    (re.compile(r"(://)[^/@\s:]+:[^/@\s]+@"), r"\1[redacted]@"),
)  # fmt: skip


def release_from(data: Mapping[str, Any]) -> Release:
    chart = (data.get("chart") or {}).get("metadata") or {}
    namespace = str(data.get("namespace") or "")
    return Release(
        name=str(data.get("name") or ""),
        namespace=namespace,
        chart=str(chart.get("name") or ""),
        chart_version=str(chart.get("version") or ""),
        revision=int(data.get("version") or 0),
        status=str((data.get("info") or {}).get("status") or "unknown"),
        values=dict(data.get("config") or {}),
        objects=objects_of(str(data.get("manifest") or ""), namespace),
    )


def objects_of(manifest: str, namespace: str) -> tuple[Mapping[str, str], ...]:
    """apiVersion/kind/namespace/name of each object in a rendered manifest."""
    found: list[Mapping[str, str]] = []
    for doc in yaml.load_all(manifest, Loader=LOADER):
        if not isinstance(doc, dict) or not doc.get("kind"):
            continue
        meta = doc.get("metadata") or {}
        kind = str(doc["kind"])
        scoped = "" if kind in CLUSTER_SCOPED else str(meta.get("namespace") or namespace)
        found.append(
            {
                "apiVersion": str(doc.get("apiVersion") or ""),
                "kind": kind,
                "namespace": scoped,
                "name": str(meta.get("name") or ""),
            }
        )
    return tuple(found)


def with_image_defaults(
    values: Mapping[str, Any], ref: str, version: str, hub: str
) -> dict[str, Any]:
    """`values` plus global.hub/global.tag when a source-tree chart leaves only dev ones."""
    given = {key: value for key, value in values.items()}
    chart_global = _chart_global(Path(ref))
    if chart_global is None or str(chart_global.get("tag") or "") not in DEV_TAGS:
        return given
    own = dict(given.get("global") or {})
    own.setdefault("hub", hub)
    own.setdefault("tag", version)
    given["global"] = own
    return given


def _chart_global(chart_dir: Path) -> Mapping[str, Any] | None:
    """The chart's default `global` values (Istio nests them in _internal_defaults_do_not_set)."""
    values_file = chart_dir / "values.yaml"
    if not values_file.is_file():
        return None
    values = yaml.load(values_file.read_text(encoding="utf-8"), Loader=LOADER) or {}
    nested = values.get("_internal_defaults_do_not_set") or {}
    found = nested.get("global") or values.get("global")
    return found if isinstance(found, dict) else {}


def scrub(message: str) -> str:
    for pattern, replacement in SECRETS:
        message = pattern.sub(replacement, message)
    return message
