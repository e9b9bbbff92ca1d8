"""The Helm port (commands.install.ports) on helm-sdkpy: Istio's charts as Helm releases.

`HelmFromConfig` is what the runtime builds: one `ClusterHelm` per configured cluster,
talking to the API server of that cluster's kubeconfig/context (or in-cluster config)
with Istio's charts from `clusters.<name>.install.charts`. Helm is loaded on first use,
so a meshbot without the `install` extra starts and answers everything else; asking
for Helm then raises HelmUnavailable with what to install (library.py).

    library.py   may Helm be used here (Python, the extra, HELM_DRIVER)
    sources.py   chart sources: a directory, a Helm repository, an OCI registry
    cluster.py   install / release / uninstall for one cluster
    releases.py  Helm's answers as `Release`s; image defaults; credentials scrubbed
    render.py    the dry run's stand-in API server (reads pass through, writes echo)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from types import ModuleType

from bot.adapters.helm.cluster import ClusterHelm
from bot.adapters.helm.library import INSTALL_HINT, load_helm
from bot.adapters.helm.sources import ChartSource, chart_source
from bot.adapters.kube import KubeCluster
from bot.adapters.kube.passthrough import read_through
from bot.core.settings import ClusterConfig
from commands.install.ports import Helm, HelmClients, HelmUnavailable

__all__ = ["INSTALL_HINT", "ClusterHelm", "HelmFromConfig", "load_helm"]


class HelmFromConfig:
    """HelmClients for the configured clusters (`for_cluster` raises HelmUnavailable)."""

    def __init__(
        self,
        clusters: Mapping[str, ClusterConfig],
        *,
        kube: Mapping[str, KubeCluster] | None = None,
        load: Callable[[], ModuleType] = load_helm,
    ) -> None:
        self._clusters = dict(clusters)
        self._kube = dict(kube or {})
        self._own_kube: list[KubeCluster] = []
        self._load = load
        self._built: dict[str, ClusterHelm] = {}
        self._sources: list[ChartSource] = []
        self._lock = threading.Lock()

    def for_cluster(self, cluster: str) -> ClusterHelm:
        with self._lock:
            if cluster in self._built:
                return self._built[cluster]
            config = self._clusters.get(cluster)
            if config is None:
                known = ", ".join(sorted(self._clusters)) or "none"
                raise HelmUnavailable(f"no cluster named {cluster} (configured: {known})")
            helm = self._load()
            kube = self._kube.get(cluster) or self._kube_for(cluster, config)
            source = chart_source(config.install.charts)
            self._sources.append(source)
            built = ClusterHelm(
                cluster,
                helm,
                source,
                forward=lambda path, query: read_through(kube, path, query),
                namespaces=kube,
                kubeconfig=str(config.kubeconfig.expanduser()) if config.kubeconfig else None,
                context=config.context,
                in_cluster=config.in_cluster,
                hub=config.install.hub,
                read_limit_s=config.command_deadline_s,
            )
            self._built[cluster] = built
            return built

    def _kube_for(self, cluster: str, config: ClusterConfig) -> KubeCluster:
        kube = KubeCluster(
            cluster,
            kubeconfig=str(config.kubeconfig.expanduser()) if config.kubeconfig else None,
            context=config.context,
            in_cluster=config.in_cluster,
            timeout_s=config.request_timeout_s,
        )
        self._own_kube.append(kube)
        return kube

    def close(self) -> None:
        for kube in self._own_kube:
            kube.close()
        for source in self._sources:
            close: Callable[[], None] | None = getattr(source, "close", None)
            if close is not None:
                close()


def _conforms(clients: HelmFromConfig, helm: ClusterHelm) -> tuple[HelmClients, Helm]:
    """mypy checks here that the adapter matches the port (both are structural)."""
    return clients, helm
