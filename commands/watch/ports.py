"""What a steal alert reads from a cluster: the meshed pods on a node.

Optional: a cluster adapter without it still gets steal alerts, without the pod list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class MeshedPods(Protocol):
    """The pods with an istio-proxy container on one node (`namespace/name`)."""

    def meshed_pods_on_node(self, node: str) -> Sequence[str]: ...
