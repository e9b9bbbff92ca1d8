"""The MeshedPods port: which meshed pods run on a node (for a steal alert).

Why this exists: a steal alert is only actionable when it says whose latency suffers,
so it lists the node's pods that carry an `istio-proxy` container (a sidecar, whether
injected as a container or as a native sidecar init container). One field-selected,
paged list (`spec.nodeName=<node>`), read as raw JSON: no model objects are built.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes.client.exceptions import ApiException

from bot.adapters.kube.transport import Transport
from commands.core.errors import ClusterUnavailable

PROXY = "istio-proxy"
PAGE = 500


class WatchReadsMixin:
    name: str
    transport: Transport

    def meshed_pods_on_node(self, node: str) -> list[str]:
        found: list[str] = []
        token: str | None = None
        action = f"list pods on {node}"
        while True:
            query: list[tuple[str, Any]] = [("fieldSelector", f"spec.nodeName={node}")]
            query.append(("limit", PAGE))
            if token:
                query.append(("continue", token))
            try:
                sent = self.transport.send("GET", "/api/v1/pods", query=query, action=action)
                body: dict[str, Any] = json.loads(sent.data)
            except ApiException as exc:
                raise ClusterUnavailable(
                    f"cluster {self.name}: API server answered {exc.status} to {action}"
                ) from exc
            except ValueError as exc:
                raise ClusterUnavailable(
                    f"cluster {self.name}: cannot {action} (the answer was not JSON)"
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
