"""`/mesh preflight` against the real parts: the Kubernetes API test server through the
official client, and a real Prometheus over an hour of simulated node metrics whose node
names are the seeds' nodes. The problem seed must give exactly its listed problems."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.kube import KubeCluster
from bot.adapters.prometheus import PrometheusMetrics
from bot.sandbox.kube import KubeTestServer
from bot.sandbox.kube.seeds import seed_path
from bot.sandbox.metrics import Scenario
from bot.sandbox.prometheus_runner import PrometheusProcess, start_backfilled
from commands.core.model import Caller, Failure, Role
from commands.core.ports import Services
from commands.core.registry import Registry
from commands.core.wiring import Kits
from commands.preflight.commands import register
from commands.preflight.model import PreflightReport, PreflightSettings, Status
from tests.fixtures.prometheus import require_prometheus
from tests.unit.fakes import FixedClock, MemoryStore

pytestmark = pytest.mark.prometheus

# Every node of the healthy and problems seeds, plus two noisy neighbours for the steal
# test. node-no-nfd has no CPU-flag series (no --collector.cpu.info), so it stays unknown.
SCENARIO = """
name: preflight-nodes
description: the seeds' nodes over 75 minutes; node-noisy steals from 20m, node-spiky 30-40m
reporters: [destination]
services: []
nodes:
  - {name: node-ok-1, instance: 10.0.0.69:9100, cpus: 2, steal: 0.5, flags: [aes, avx2]}
  - {name: node-ok-2, instance: 10.0.0.70:9100, cpus: 2, steal: 0.5, flags: [aes, avx2]}
  - {name: node-no-aes, instance: 10.0.0.96:9100, cpus: 2, steal: 0.5, flags: [sse4]}
  - {name: node-no-nfd, instance: 10.0.0.95:9100, cpus: 2, steal: 0.5}
  - {name: node-mem-pressure, instance: 10.0.0.50:9100, cpus: 2, steal: 0.5, flags: [aes, avx2]}
  - {name: node-not-ready, instance: 10.0.0.192:9100, cpus: 2, steal: 0.5, flags: [aes, avx2]}
  - {name: node-cpu-full, instance: 10.0.0.85:9100, cpus: 2, steal: 0.5, flags: [aes, avx2]}
  - {name: node-a, instance: 10.0.0.94:9100, cpus: 2, steal: 0.3, flags: [aes, avx2]}
  - {name: node-b, instance: 10.0.0.95:9101, cpus: 2, steal: 0.3, flags: [aes, avx2]}
  - {name: node-c, instance: 10.0.0.96:9101, cpus: 2, steal: 0.3, flags: [aes, avx2]}
  - {name: node-noisy, instance: 10.0.1.1:9100, cpus: 2, steal: 2, flags: [aes], hypervisor: true}
  - {name: node-spiky, instance: 10.0.1.2:9100, cpus: 2, steal: 1, flags: [aes], hypervisor: true}
events:
  - {at: 20m, node: node-noisy, steal: 30}
  - {at: 30m, node: node-spiky, steal: 20}
  - {at: 40m, node: node-spiky, steal: 1}
"""
EXTRA_NODES = """
apiVersion: v1
kind: Node
metadata:
  name: {name}
  labels: {{kubernetes.io/arch: amd64, feature.node.kubernetes.io/cpu-cpuid.AESNI: 'true',
    feature.node.kubernetes.io/cpu-cpuid.AVX2: 'true'}}
status:
  allocatable: {{cpu: 7910m, memory: 31568Mi, pods: '110'}}
  conditions: [{{type: Ready, status: 'True'}}]
  nodeInfo: {{machineID: m, systemUUID: s, bootID: b, kernelVersion: 6.8.0, osImage: x,
    containerRuntimeVersion: 'containerd://1.7.27', kubeletVersion: v1.33.2,
    kubeProxyVersion: v1.33.2, architecture: amd64, operatingSystem: linux}}
"""
PROBLEMS = {
    ("node.cpu-flags", "node-no-aes", "warn"),
    ("node.cpu-flags", "node-no-nfd", "unknown"),
    ("node.conditions", "node-mem-pressure", "fail"),
    ("node.conditions", "node-not-ready", "fail"),
    ("node.headroom", "node-cpu-full", "fail"),
    ("namespace.pod-security", "secure", "fail"),
    ("pod.proxy-uid", "legacy/old-app-0", "fail"),
    ("pod.port-collision", "legacy/exporter-0", "fail"),
    ("service.protocol", "legacy/old-app", "warn"),
    ("pod.host-network", "shop/node-agent-0", "warn"),
}


@pytest.fixture(scope="module")
def node_history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusProcess]:
    """A real Prometheus holding 75 minutes of the scenario, ending a minute ago."""
    require_prometheus()
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    server = start_backfilled(
        Scenario.load(SCENARIO),
        end - timedelta(minutes=75),
        end,
        step_s=15,
        workdir=tmp_path_factory.mktemp("preflight-prometheus"),
    )
    yield server
    server.stop()


def services_for(
    kubeconfig: Path, prometheus_url: str | None, timeout_s: float = 5.0
) -> tuple[Services, KubeCluster, PrometheusMetrics | None]:
    cluster = KubeCluster("lab", kubeconfig=str(kubeconfig), context="sandbox", timeout_s=timeout_s)
    metrics = PrometheusMetrics(prometheus_url, timeout_s=3) if prometheus_url else None
    store = MemoryStore()
    clock = FixedClock(time.time())
    services = Services(
        store=store,
        lease=store,
        clusters={"lab": cluster},
        metrics={"lab": metrics} if metrics else {},
        clock=clock,
        version="test",
        replica_id="r",
        kits=Kits([PreflightSettings()]),
    )
    return services, cluster, metrics


def preflight(
    kubeconfig: Path, prometheus_url: str | None, text: str = "preflight", timeout_s: float = 5.0
) -> object:
    services, cluster, metrics = services_for(kubeconfig, prometheus_url, timeout_s)
    registry = Registry()
    register(registry)
    try:
        return registry.dispatch(text, Caller("U_VIEWER", Role.VIEWER), services)
    finally:
        cluster.close()
        if metrics is not None:
            metrics.close()


def preflight_report(kubeconfig: Path, prometheus_url: str | None) -> PreflightReport:
    """`preflight` that must come back as a report, not a failure."""
    report = preflight(kubeconfig, prometheus_url)
    assert isinstance(report, PreflightReport), report
    return report


def not_passing(report: PreflightReport) -> set[tuple[str, str, str]]:
    return {
        (c.id, c.subject.label, c.status.value)
        for c in report.checks
        if c.status is not Status.PASS
    }


def test_the_problem_seed_gives_exactly_its_problems(
    kube_server: KubeTestServer, kubeconfig: Path, node_history: PrometheusProcess
) -> None:
    kube_server.load_seed(seed_path("problems"))
    report = preflight_report(kubeconfig, node_history.url)
    assert not_passing(report) == PROBLEMS
    steal = [c for c in report.checks if c.id == "node.steal"]
    assert len(steal) == 7 and all(
        c.evidence["avg_pct_1h"] == pytest.approx(0.5, abs=0.2) for c in steal
    )
    [no_aes] = [
        c for c in report.checks if c.id == "node.cpu-flags" and c.subject.name == "node-no-aes"
    ]
    assert (
        no_aes.evidence["AESNI"] is False
        and no_aes.evidence["source"] == "node-feature-discovery labels"
    )


def test_the_healthy_seed_has_no_failures(
    kube_server: KubeTestServer, kubeconfig: Path, node_history: PrometheusProcess
) -> None:
    kube_server.load_seed(seed_path("healthy"))
    report = preflight_report(kubeconfig, node_history.url)
    assert not_passing(report) == set()
    assert report.summary["fail"] == 0


def test_steal_over_the_last_hour_from_real_prometheus(
    kube_server: KubeTestServer, kubeconfig: Path, node_history: PrometheusProcess
) -> None:
    kube_server.load_seed(seed_path("healthy"))
    for name in ("node-noisy", "node-spiky"):
        kube_server.load_seed(EXTRA_NODES.format(name=name))
    report = preflight_report(kubeconfig, node_history.url)
    steal = {c.subject.name: c for c in report.checks if c.id == "node.steal"}
    assert steal["node-noisy"].status is Status.FAIL
    assert steal["node-noisy"].evidence["avg_pct_1h"] > 20
    assert steal["node-spiky"].status is Status.WARN  # the hour is fine, one window is not
    assert steal["node-spiky"].evidence["avg_pct_1h"] < 5
    assert steal["node-spiky"].evidence["worst_5m_pct"] > 15
    assert steal["node-noisy"].evidence["hypervisor"] is False  # NFD labels win over metrics
    assert steal["node-a"].status is Status.PASS


def test_prometheus_down_leaves_metric_checks_unknown_and_the_rest_runs(
    kube_server: KubeTestServer, kubeconfig: Path
) -> None:
    kube_server.load_seed(seed_path("problems"))
    started = time.monotonic()
    report = preflight(kubeconfig, "http://127.0.0.1:9")
    assert time.monotonic() - started < 5
    assert isinstance(report, PreflightReport), report
    steal = [c for c in report.checks if c.id == "node.steal"]
    assert steal and all(c.status is Status.UNKNOWN and "Prometheus" in c.message for c in steal)
    assert ("node.conditions", "node-not-ready", "fail") in not_passing(report)


def test_an_unreachable_or_hanging_api_server_answers_in_bounded_time(
    kube_server: KubeTestServer, kubeconfig: Path, tmp_path: Path
) -> None:
    kube_server.faults.add("GET", r"^/version", hang=10)
    started = time.monotonic()
    hung = preflight(kubeconfig, None, timeout_s=0.5)
    assert time.monotonic() - started < 1.5  # one timeout, no silent client retries
    assert isinstance(hung, Failure) and "GET /version timed out after 0.5 s" in hung.message
    assert "unreachable" not in hung.message  # a hang is not a refused connection
    dead = tmp_path / "dead.kubeconfig"
    dead.write_text(kubeconfig.read_text().replace(kube_server.url, "http://127.0.0.1:9"))
    started = time.monotonic()
    refused = preflight(dead, None, timeout_s=1.0)
    assert time.monotonic() - started < 4
    assert isinstance(refused, Failure) and "lab: API server unreachable" in refused.message


def test_a_list_we_may_not_read_is_unknown_and_denied_permissions_fail(
    kube_server: KubeTestServer, kubeconfig: Path
) -> None:
    kube_server.load_seed(seed_path("healthy"))
    kube_server.faults.add("GET", r"^/api/v1/services", status=403)
    kube_server.deny("create", "clusterroles", "rbac.authorization.k8s.io")
    report = preflight_report(kubeconfig, None)
    [services] = [c for c in report.checks if c.id == "service.protocol"]
    assert services.status is Status.UNKNOWN and "403" in services.message
    [perms] = [c for c in report.checks if c.id == "cluster.install-permissions"]
    assert perms.status is Status.FAIL
    assert perms.evidence["denied"] == ["create clusterroles.rbac.authorization.k8s.io"]
    assert {c.status for c in report.checks if c.id == "node.conditions"} == {Status.PASS}


def test_lists_are_paged_with_only_the_requests_the_pages_need(
    kube_server: KubeTestServer, kubeconfig: Path
) -> None:
    from bot.sandbox.kube.seeds import generate_large_cluster

    kube_server.load_objects(generate_large_cluster(nodes=30, pods=250))
    services, cluster, _ = services_for(kubeconfig, None)
    cluster.page_size = 100
    registry = Registry()
    register(registry)
    kube_server.reset_stats()
    try:
        report = registry.dispatch("preflight", Caller("me", Role.VIEWER), services)
    finally:
        cluster.close()
    assert isinstance(report, PreflightReport)
    paths = [r.path for r in kube_server.requests]
    assert sum(p.startswith("/api/v1/pods") for p in paths) == 3
    assert sum(p.startswith("/api/v1/nodes") for p in paths) == 1
    assert all("limit=100" in p for p in paths if p.startswith(("/api/v1/pods", "/api/v1/nodes")))
