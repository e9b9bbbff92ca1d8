"""In-memory fakes for the preflight: a cluster inventory and a Prometheus answering the
preflight's queries, built from a few lines of data instead of a server."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from commands.core.errors import ClusterUnavailable, MetricsUnavailable
from commands.core.ports import Sample, Services
from commands.core.wiring import Kits
from commands.preflight.model import (
    AccessQuery,
    ControlPlane,
    InventoryForbidden,
    NamespaceInfo,
    NodeCondition,
    NodeInfo,
    PodInfo,
    PreflightSettings,
    ServiceInfo,
)
from commands.preflight.queries import queries
from tests.unit.fakes import FixedClock, MemoryStore

GI = 1024**3
NFD = "feature.node.kubernetes.io/cpu-cpuid."


def node(
    name: str,
    *,
    cpu_m: int = 7910,
    mem: int = 31 * GI,
    flags: Sequence[str] | None = ("AESNI", "AVX2"),
    ready: str = "True",
    pressure: Sequence[str] = (),
    arch: str = "amd64",
    runtime: str = "containerd://1.7.27",
    kernel: str = "6.8.0-1015-aws",
    zone: str = "a",
) -> NodeInfo:
    labels = {"kubernetes.io/arch": arch, "topology.kubernetes.io/zone": zone}
    if flags is not None:
        labels[NFD + "SSE4"] = "true"
        labels.update({NFD + f: "true" for f in flags})
    conditions = [NodeCondition("Ready", ready)]
    conditions += [NodeCondition(p, "True") for p in pressure]
    return NodeInfo(
        name,
        labels,
        cpu_m,
        mem,
        tuple(conditions),
        kernel=kernel,
        runtime=runtime,
        architecture=arch,
    )


def pod(
    namespace: str,
    name: str,
    node_name: str = "n1",
    cpu_m: int = 100,
    mem: int = 128 * 1024**2,
    **kwargs: object,
) -> PodInfo:
    return PodInfo(namespace, name, node_name, cpu_m, mem, **kwargs)  # type: ignore[arg-type]


@dataclass
class FakeInventory:
    name: str = "prod"
    version: str = "v1.33.2"
    nodes: list[NodeInfo] = field(default_factory=lambda: [node("n1")])
    pods: list[PodInfo] = field(default_factory=list)
    namespaces: list[NamespaceInfo] = field(
        default_factory=lambda: [NamespaceInfo("shop", {}), NamespaceInfo("kube-system", {})]
    )
    services: list[ServiceInfo] = field(default_factory=list)
    denied: set[str] = field(default_factory=set)
    forbidden: set[str] = field(default_factory=set)
    plane: ControlPlane = field(default_factory=ControlPlane)
    crds: dict[str, list[str]] = field(default_factory=dict)
    down: bool = False

    def _read(self, what: str) -> None:
        if self.down:
            raise ClusterUnavailable(f"cluster {self.name}: API server unreachable (fake)")
        if what in self.forbidden:
            raise InventoryForbidden(f"cluster {self.name}: our credentials may not list {what}")

    def server_version(self) -> str:
        self._read("version")
        return self.version

    def list_nodes(self) -> list[NodeInfo]:
        self._read("nodes")
        return self.nodes

    def list_pods(self) -> list[PodInfo]:
        self._read("pods")
        return self.pods

    def list_namespaces(self) -> list[NamespaceInfo]:
        self._read("namespaces")
        return self.namespaces

    def list_services(self) -> list[ServiceInfo]:
        self._read("services")
        return self.services

    def review_access(self, queries: Sequence[AccessQuery]) -> list[bool]:
        self._read("selfsubjectaccessreviews")
        return [q.resource not in self.denied for q in queries]

    def istio_control_plane(self) -> ControlPlane:
        self._read("deployments")
        return self.plane

    def crd_served_versions(self, names: Sequence[str]) -> Mapping[str, Sequence[str]]:
        self._read("customresourcedefinitions")
        return {n: v for n, v in self.crds.items() if n in names}


@dataclass
class FakePrometheus:
    """Answers the preflight's three queries from per-node steal and flag tables."""

    steal_avg: dict[str, float] = field(default_factory=dict)
    steal_worst: dict[str, float] = field(default_factory=dict)
    flags: dict[str, list[str]] = field(default_factory=dict)
    label: str = "node"
    down: bool = False
    asked: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return "fake prometheus"

    def ping(self) -> str:
        return "2.42.0"

    def query(self, promql: str, *, at: float | None = None) -> Sequence[Sample]:
        self.asked.append(promql)
        if self.down:
            raise MetricsUnavailable("Prometheus at http://prom:9090 is unreachable")
        texts = queries(PreflightSettings(node_label=self.label))
        if promql == texts["steal_avg"]:
            return [Sample({self.label: n}, v) for n, v in self.steal_avg.items()]
        if promql == texts["steal_worst"]:
            return [Sample({self.label: n}, v) for n, v in self.steal_worst.items()]
        if promql == texts["cpu_flags"]:
            return [
                Sample({self.label: n, "flag": f}, 1.0)
                for n, fs in self.flags.items()
                for f in (fs or ["_present"])
            ]
        raise AssertionError(f"unexpected query {promql}")


def preflight_services(
    cluster: FakeInventory | None = None,
    prometheus: FakePrometheus | None = None,
    settings: PreflightSettings | None = None,
    extra_clusters: Sequence[str] = (),
) -> Services:
    inventory = cluster or FakeInventory()
    clusters: dict[str, object] = {inventory.name: inventory}
    for name in extra_clusters:
        clusters[name] = FakeInventory(name=name)
    memory = MemoryStore()
    return Services(
        store=memory,
        lease=memory,
        clusters=clusters,  # type: ignore[arg-type]
        metrics={inventory.name: prometheus} if prometheus else {},
        clock=FixedClock(),
        version="0.1.0",
        replica_id="replica-1",
        kits=Kits([settings or PreflightSettings()]),
    )
