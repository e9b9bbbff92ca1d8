"""The connection to one cluster: config loading and the transport every request uses.

One `ApiClient` per configured cluster, built from a kubeconfig context or in-cluster
config by the client's own loaders. Requests go through `Transport` (transport.py):
reads retried on transient failures, writes only when they cannot have been applied,
each with a request timeout and, inside a command, the command's deadline; failures
become `ClusterUnavailable` with a message a user can act on.
"""

from __future__ import annotations

import json

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from bot.adapters.kube.inventory import InventoryMixin
from bot.adapters.kube.objects import ObjectsMixin
from bot.adapters.kube.transport import Transport
from bot.adapters.kube.virtualservices import VirtualServicesMixin
from bot.adapters.kube.watch_reads import WatchReadsMixin
from commands.core.errors import ClusterUnavailable


class KubeCluster(InventoryMixin, VirtualServicesMixin, ObjectsMixin, WatchReadsMixin):
    def __init__(
        self,
        name: str,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        in_cluster: bool = False,
        timeout_s: float = 10.0,
        deadline_s: float | None = None,
    ) -> None:
        self.name = name
        self._kubeconfig = kubeconfig
        self._context = context
        self._in_cluster = in_cluster
        self.timeout_s = timeout_s
        self._api: k8s.ApiClient | None = None
        self.transport = Transport(name, lambda: self.api, timeout_s, deadline_s)

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
        # No retries inside urllib3: the transport decides what may be sent again.
        configuration.retries = 0
        return k8s.ApiClient(configuration)

    def server_version(self) -> str:
        action = "GET /version"
        try:
            sent = self.transport.send("GET", "/version", action=action)
        except ApiException as exc:
            raise ClusterUnavailable(
                f"cluster {self.name}: API server answered {exc.status} "
                f"{exc.reason or 'error'} to {action}"
            ) from exc
        return str(json.loads(sent.data).get("gitVersion", "unknown"))

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None
