"""The connection to one cluster: config loading, timeouts and error translation.

One `ApiClient` per configured cluster, built from a kubeconfig context or in-cluster
config by the client's own loaders. Every call carries a request timeout so a dead API
server gives an answer in bounded time, and client exceptions become
`ClusterUnavailable` with a message a user can act on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from bot.adapters.kube.inventory import InventoryMixin
from bot.adapters.kube.objects import ObjectsMixin
from bot.adapters.kube.virtualservices import VirtualServicesMixin
from bot.adapters.kube.watch_reads import WatchReadsMixin
from commands.core.errors import ClusterUnavailable


@contextmanager
def _translated(cluster: str, action: str) -> Iterator[None]:
    try:
        yield
    except ApiException as exc:
        reason = exc.reason or "error"
        raise ClusterUnavailable(
            f"cluster {cluster}: API server answered {exc.status} {reason} to {action}"
        ) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise ClusterUnavailable(f"cluster {cluster}: API server unreachable ({action})") from exc


class KubeCluster(InventoryMixin, VirtualServicesMixin, ObjectsMixin, WatchReadsMixin):
    def __init__(
        self,
        name: str,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        in_cluster: bool = False,
        timeout_s: float = 10.0,
    ) -> None:
        self.name = name
        self._kubeconfig = kubeconfig
        self._context = context
        self._in_cluster = in_cluster
        self.timeout_s = timeout_s
        self._api: k8s.ApiClient | None = None

    @property
    def api(self) -> k8s.ApiClient:
        if self._api is None:
            self._api = self._build()
        return self._api

    def _build(self) -> k8s.ApiClient:
        configuration = k8s.Configuration()
        try:
            if self._in_cluster:
                k8s_config.load_incluster_config(client_configuration=configuration)
            else:
                k8s_config.load_kube_config(
                    config_file=self._kubeconfig,
                    context=self._context,
                    client_configuration=configuration,
                )
        except (ConfigException, OSError) as exc:
            raise ClusterUnavailable(f"cluster {self.name}: cannot load its config: {exc}") from exc
        # No silent retries under our timeouts: a dead API server must answer within
        # `timeout_s`, not four times that; callers decide what to retry.
        configuration.retries = 0
        return k8s.ApiClient(configuration)

    def server_version(self) -> str:
        with _translated(self.name, "GET /version"):
            info = k8s.VersionApi(self.api).get_code(_request_timeout=self.timeout_s)
        return str(info.git_version)

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None
