"""The MeshedPods port: which meshed pods run on a node (for a steal alert).

Why this exists: a steal alert is only actionable when it says whose latency suffers,
so it lists the node's pods that carry an `istio-proxy` container (a sidecar, whether
injected as a container or as a native sidecar init container). One field-selected,
paged list (`spec.nodeName=<node>`), read as raw JSON: no model objects are built.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from commands.core.errors import ClusterUnavailable

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

PROXY = "istio-proxy"
PAGE = 500


class WatchReadsMixin:
    name: str
    timeout_s: float

    if TYPE_CHECKING:

        @property
        def api(self) -> ApiClient: ...

    def meshed_pods_on_node(self, node: str) -> list[str]:
        core = k8s.CoreV1Api(self.api)
        found: list[str] = []
        token: str | None = None
        while True:
            try:
                response = core.list_pod_for_all_namespaces(
                    field_selector=f"spec.nodeName={node}",
                    limit=PAGE,
                    _continue=token,
                    _preload_content=False,
                    _request_timeout=self.timeout_s,
                )
                body: dict[str, Any] = json.loads(response.data)  # type: ignore[attr-defined]
            except ApiException as exc:
                raise ClusterUnavailable(
                    f"cluster {self.name}: API server answered {exc.status} to list pods on {node}"
                ) from exc
            except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                raise ClusterUnavailable(
                    f"cluster {self.name}: cannot list pods on {node} ({exc.__class__.__name__})"
                ) from exc
            for pod in body.get("items", []):
                spec = pod.get("spec", {})
                containers = spec.get("containers", []) + spec.get("initContainers", [])
                if any(c.get("name") == PROXY for c in containers):
                    meta = pod.get("metadata", {})
                    found.append(f"{meta.get('namespace')}/{meta.get('name')}")
            token = (body.get("metadata") or {}).get("continue") or None
            if not token:
                return sorted(found)
