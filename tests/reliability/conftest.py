"""The reliability tests' own fixtures: meshbot over HTTP with one real cluster."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.sandbox.kube import KubeTestServer
from tests.fixtures.meshbot import RunningBot
from tests.fixtures.seeds import SHOP_STRICT


@pytest.fixture
def mesh_bot(
    configured_http_bot: Callable[[str], RunningBot],
    kube_server_with_istio: KubeTestServer,
    kubeconfig: Path,
) -> RunningBot:
    """meshbot over HTTP with one cluster `prod` (a shop namespace on STRICT), its
    commands allowed from #mesh-ops only."""
    kube_server_with_istio.load_seed(SHOP_STRICT)
    return configured_http_bot(
        f"clusters:\n  prod:\n    kubeconfig: {kubeconfig}\n    context: sandbox\n"
        "    channels: [C_OPS]\n"
    )
