"""The reliability tests' own fixtures: meshbot over HTTP with one real cluster."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.sandbox.kube import KubeTestServer
from tests.fixtures.meshbot import RunningBot

SHOP = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {mtls: {mode: STRICT}}
---
apiVersion: v1
kind: Pod
metadata: {name: orders-1, namespace: shop, labels: {app: orders}}
spec:
  containers:
  - {name: orders, image: orders:1}
  - {name: istio-proxy, image: proxyv2:1.30.0}
status: {phase: Running}
"""


@pytest.fixture
def mesh_bot(
    configured_http_bot: Callable[[str], RunningBot],
    kube_server_with_istio: KubeTestServer,
    kubeconfig: Path,
) -> RunningBot:
    """meshbot over HTTP with one cluster `prod` (a shop namespace on STRICT), its
    commands allowed from #mesh-ops only."""
    kube_server_with_istio.load_seed(SHOP)
    return configured_http_bot(
        f"clusters:\n  prod:\n    kubeconfig: {kubeconfig}\n    context: sandbox\n"
        "    channels: [C_OPS]\n"
    )
