"""In-memory fakes for the staged install: Helm releases kept in a dict (with injectable
failures that leave nothing behind, as the port promises), a preflight that answers what
the test says, and a cluster seeded with a running Istio 1.29.6 and meshed namespaces."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from commands.changes.hooks import ChangeHooks, PipelineSettings
from commands.changes.model import Gate, GateStatus, ObjectRef
from commands.core.ports import Services
from commands.core.registry import Registry
from commands.install import commands as install_commands
from commands.install.model import (
    KIND_CONTROL_PLANE,
    KIND_RETIRE,
    KIND_WAVE,
    InstallSettings,
)
from commands.install.ports import (
    HelmFailed,
    HelmUnavailable,
    InstallKit,
    PreflightOutcome,
    Release,
)
from commands.install.releases import HelmReleases
from commands.install.verify import ControlPlaneVerifier, WaveVerifier
from commands.install.waves import WaveWrites
from tests.unit.changes.fakes import ObjectCluster, ScriptedMetrics, change_services
from tests.unit.fakes import MemoryStore, MovingClock


@dataclass
class FakeHelm:
    versions: tuple[str, ...] = ("1.29.6", "1.30.3")
    releases: dict[tuple[str, str], Release] = field(default_factory=dict)
    fail_install: list[str] = field(default_factory=list)  # release names to fail once
    calls: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return "charts from /charts"

    def chart_versions(self) -> Sequence[str]:
        return self.versions

    def release(self, namespace: str, name: str) -> Release | None:
        return self.releases.get((namespace, name))

    def install(
        self,
        namespace: str,
        name: str,
        chart: str,
        version: str,
        values: Mapping[str, Any],
        *,
        dry_run: bool = False,
        timeout_s: float = 300.0,
    ) -> Release:
        if version not in self.versions:
            raise HelmFailed(f"chart {chart} {version} not found")
        release = Release(name, namespace, chart, version, 1, "deployed", copy.deepcopy(values))
        if dry_run:
            return release
        self.calls.append(f"install {name} {chart} {version}")
        if name in self.fail_install:
            self.fail_install.remove(name)
            raise HelmFailed(f"release {name} failed: timed out waiting for the condition")
        if (namespace, name) in self.releases:
            raise HelmFailed(f"cannot re-use a name that is still in use: {name}")
        self.releases[(namespace, name)] = release
        return release

    def uninstall(self, namespace: str, name: str, *, timeout_s: float = 300.0) -> None:
        self.calls.append(f"uninstall {name}")
        self.releases.pop((namespace, name), None)


@dataclass
class FakeHelmClients:
    helm: FakeHelm | None = None

    def for_cluster(self, cluster: str) -> FakeHelm:
        if self.helm is None:
            raise HelmUnavailable(
                "Helm is not available: pip install 'meshbot[install]' (Python >= 3.12)"
            )
        return self.helm


@dataclass
class FakePreflight:
    gates: tuple[Gate, ...] = (Gate("preflight", GateStatus.PASS, "ready"),)
    overlay: dict[str, Any] = field(default_factory=dict)
    runs: list[str] = field(default_factory=list)

    def run(self, services: Services, cluster: str, version: str) -> PreflightOutcome | str:
        self.runs.append(version)
        return PreflightOutcome(self.gates, self.overlay, "ready")


class LabelCluster(ObjectCluster):
    """The object fake, with the label selectors planning uses (`k=v`, `k`)."""

    def list_objects(
        self,
        api_version: str,
        plural: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> Sequence[dict[str, Any]]:
        found = super().list_objects(api_version, plural, namespace=namespace)
        if not label_selector:
            return found
        key, _, value = label_selector.partition("=")
        return [
            o
            for o in found
            if key in ((o.get("metadata") or {}).get("labels") or {})
            and (not value or o["metadata"]["labels"][key] == value)
        ]


def deployment(
    ns: str, name: str, labels: dict[str, str] | None = None, image: str = "app:1"
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": name}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
        },
    }


def pod(
    ns: str, name: str, revision: str = "default", tag: str = "1.29.6", ready: bool = True
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "annotations": {"sidecar.istio.io/status": f'{{"revision": "{revision}"}}'},
        },
        "spec": {
            "containers": [
                {"name": "app", "image": "app:1"},
                {"name": "istio-proxy", "image": f"docker.io/istio/proxyv2:{tag}"},
            ]
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "lastTransitionTime": "2027-01-15T08:00:00Z",
                }
            ],
        },
    }


def webhook(name: str, service: str) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": "namespace.sidecar-injector.istio.io",
                "clientConfig": {"service": {"name": service, "namespace": "istio-system"}},
                "namespaceSelector": {"matchLabels": {"istio-injection": "enabled"}},
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }
        ],
    }


NAMESPACES = {"quiet": (1, 0.1), "shop": (3, 50.0), "cart": (2, 5.0), "pay": (4, 80.0)}


def seeded_cluster() -> LabelCluster:
    cluster = LabelCluster(
        served={
            "security.istio.io": ("v1",),
            "apps": ("v1",),
            "admissionregistration.k8s.io": ("v1",),
        }
    )
    cluster.add(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}},
        "namespaces",
    )
    cluster.add(
        deployment(
            "istio-system",
            "istiod",
            {"app": "istiod", "istio.io/rev": "default"},
            "docker.io/istio/pilot:1.29.6",
        ),
        "deployments",
    )
    cluster.add(webhook("istio-sidecar-injector", "istiod"), "mutatingwebhookconfigurations")
    cluster.add(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "plain"}}, "namespaces"
    )
    for ns, (pods, _) in NAMESPACES.items():
        cluster.add(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"istio-injection": "enabled", "team": ns}},
            },
            "namespaces",
        )
        cluster.add(deployment(ns, f"{ns}-api"), "deployments")
        for i in range(pods):
            cluster.add(pod(ns, f"{ns}-api-{i}"), "pods")
    return cluster


def traffic_metrics() -> ScriptedMetrics:
    from commands.core.ports import Sample

    metrics = ScriptedMetrics()
    metrics.on(
        "rate(istio_requests_total",
        lambda at: [
            Sample({"destination_workload_namespace": ns}, rps)
            for ns, (_, rps) in NAMESPACES.items()
        ],
    )
    return metrics


@dataclass
class Bed:
    services: Services
    cluster: LabelCluster
    helm: FakeHelm
    preflight: FakePreflight
    clock: MovingClock
    metrics: ScriptedMetrics
    registry: Registry


def install_hooks(settings: InstallSettings, clients: Any) -> ChangeHooks:
    hooks = ChangeHooks()
    hooks.register_applier(KIND_CONTROL_PLANE, HelmReleases(clients))
    hooks.register_applier(KIND_RETIRE, HelmReleases(clients))
    hooks.register_applier(KIND_WAVE, WaveWrites())
    hooks.register_verifier(KIND_CONTROL_PLANE, ControlPlaneVerifier(settings))
    hooks.register_verifier(KIND_WAVE, WaveVerifier(settings))
    return hooks


def replica(bed: Bed, name: str, cluster: Any = None, helm: Any = None) -> Services:
    """Another replica on the same store, cluster and Helm (or the ports given)."""
    kit = bed.services.kit(InstallKit)
    clients = FakeHelmClients(helm) if helm is not None else kit.helm
    return change_services(
        cluster or bed.cluster,
        store=bed.services.store,  # type: ignore[arg-type]
        metrics=bed.metrics,
        clock=bed.clock,
        settings=PipelineSettings(hold_retry_s=5.0, apply_lease_s=30.0),
        hooks=install_hooks(kit.settings, clients),
        kits=(InstallKit(kit.settings, clients, kit.preflight),),
        replica_id=name,
    )


def install_bed(
    settings: InstallSettings | None = None,
    *,
    helm: FakeHelm | None = None,
    helm_available: bool = True,
    cluster: LabelCluster | None = None,
) -> Bed:
    settings = settings or InstallSettings(wave_size=2, bake_window_s=60.0, rollout_wait_s=120.0)
    cluster = cluster or seeded_cluster()
    helm = helm or FakeHelm()
    helm.releases.setdefault(
        ("istio-system", "istiod"),
        Release(
            "istiod",
            "istio-system",
            "istiod",
            "1.29.6",
            1,
            "deployed",
            {"global": {"tag": "1.29.6"}},
        ),
    )
    clients = FakeHelmClients(helm if helm_available else None)
    preflight = FakePreflight()
    hooks = install_hooks(settings, clients)
    clock = MovingClock()
    metrics = traffic_metrics()
    services = change_services(
        cluster,
        store=MemoryStore(clock=clock),
        metrics=metrics,
        clock=clock,
        settings=PipelineSettings(hold_retry_s=5.0, apply_lease_s=30.0),
        hooks=hooks,
        kits=(InstallKit(settings, clients, preflight),),
    )
    registry = Registry()
    install_commands.register(registry)
    return Bed(services, cluster, helm, preflight, clock, metrics, registry)


def ns_ref(name: str) -> ObjectRef:
    return ObjectRef("v1", "Namespace", "namespaces", name)


def big_cluster(namespaces: int, pods_per_namespace: int) -> LabelCluster:
    """A running 1.29.6 mesh with `namespaces` meshed namespaces of one Deployment each."""
    cluster = seeded_cluster()
    for key in [k for k in cluster.objects if k[2] in NAMESPACES or k[3] in NAMESPACES]:
        del cluster.objects[key]
    for n in range(namespaces):
        ns = f"team-{n:03d}"
        cluster.add(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"istio-injection": "enabled"}},
            },
            "namespaces",
        )
        cluster.add(deployment(ns, "api"), "deployments")
        for i in range(pods_per_namespace):
            cluster.add(pod(ns, f"api-{i}"), "pods")
    return cluster
