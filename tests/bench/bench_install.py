"""Benchmark: planning a staged install of 300 namespaces / 30,000 pods, and Kubernetes
requests per wave as the wave grows, each against a naive way measured in the same run.

Run from the repo root: ``python -m tests.bench.bench_install``. The Kubernetes test
server runs in this process with the real kube adapter talking to it over HTTP; planning
runs in a child process so its peak RSS is its own. Helm and preflight are stand-ins
(preflight has its own benchmark; Helm is one release read). Targets: planning ≤ 5 s and
≤ 300 MB; requests (and objects read) per wave grow with the wave, not with the cluster.

The naive planner reads each namespace's pods with its own request (as `kubectl get pods
-n NS` in a loop would); the naive wave checks its rollout by listing every pod of the
cluster (`kubectl get pods -A`).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

NAMESPACES, PODS_PER_NAMESPACE = 300, 100
WAVE_SIZES = (1, 5, 20)


def cluster_objects(namespaces: int, pods: int) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "istiod",
                "namespace": "istio-system",
                "labels": {"app": "istiod", "istio.io/rev": "default"},
            },
            "spec": {
                "selector": {"matchLabels": {"app": "istiod"}},
                "template": {
                    "metadata": {"labels": {"app": "istiod"}},
                    "spec": {"containers": [{"name": "discovery", "image": "pilot:1.29.6"}]},
                },
            },
        },
    ]
    for n in range(namespaces):
        ns = f"team-{n:03d}"
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"istio-injection": "enabled"}},
            }
        )
        objects.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "api", "namespace": ns},
                "spec": {
                    "replicas": pods,
                    "selector": {"matchLabels": {"app": "api"}},
                    "template": {
                        "metadata": {"labels": {"app": "api"}},
                        "spec": {"containers": [{"name": "api", "image": "api:1"}]},
                    },
                },
            }
        )
        for i in range(pods):
            objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": f"api-{i}",
                        "namespace": ns,
                        "labels": {"app": "api"},
                        "annotations": {"sidecar.istio.io/status": '{"revision":"default"}'},
                    },
                    "spec": {
                        "containers": [
                            {"name": "api", "image": "api:1"},
                            {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.29.6"},
                        ]
                    },
                    "status": {"phase": "Running"},
                }
            )
    return objects


class StandInHelm:
    """One release (the running istiod), nothing installed."""

    def describe(self) -> str:
        return "stand-in"

    def chart_versions(self) -> Sequence[str]:
        return ("1.29.6", "1.30.3")

    def release(self, namespace: str, name: str) -> Any:
        from commands.install.ports import Release

        if name != "istiod":
            return None
        return Release("istiod", namespace, "istiod", "1.29.6", 1, "deployed", {})

    def install(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def uninstall(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError


class Counting:
    """The kube adapter, counting the objects its lists return."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.objects_read = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def list_objects(self, *args: Any, **kwargs: Any) -> Sequence[Mapping[str, Any]]:
        found = self.inner.list_objects(*args, **kwargs)
        self.objects_read += len(found)
        return found


def services_for(cluster: Any) -> Any:
    from bot.core.runtime import SystemClock
    from bot.install.wiring import register_hooks
    from commands.changes.hooks import ChangeHooks, ChangesKit
    from commands.core.ports import Services
    from commands.core.wiring import Kits
    from commands.install.model import InstallSettings
    from commands.install.ports import InstallKit, PreflightOutcome
    from tests.unit.fakes import MemoryStore

    class Clients:
        def for_cluster(self, name: str) -> StandInHelm:
            return StandInHelm()

    class NoPreflight:
        def run(self, services: Any, cluster: str, version: str) -> PreflightOutcome:
            return PreflightOutcome(())

    settings = InstallSettings(wave_size=3)
    hooks = ChangeHooks()
    register_hooks(hooks, settings, Clients())
    store = MemoryStore()
    return Services(
        store=store,
        lease=store,
        clusters={"large": cluster},
        metrics={},
        clock=SystemClock(),
        version="bench",
        replica_id="bench",
        kits=Kits([ChangesKit(hooks=hooks), InstallKit(settings, Clients(), NoPreflight())]),
    )


def child_plan(kubeconfig: str, naive: bool) -> dict[str, Any]:
    from bot.adapters.kube import KubeCluster
    from commands.core.model import Caller, Role
    from commands.core.registry import Registry
    from commands.install import commands
    from commands.install.model import InstallView

    kube = KubeCluster("large", kubeconfig=kubeconfig, context="sandbox", timeout_s=60)
    started = time.perf_counter()
    if naive:
        namespaces = kube.list_objects("v1", "namespaces")
        pods = 0
        for ns in namespaces:
            pods += len(kube.list_objects("v1", "pods", namespace=ns["metadata"]["name"]))
        kube.list_objects("apps/v1", "deployments")
        result: dict[str, Any] = {"pods": pods}
    else:
        registry = Registry()
        commands.register(registry)
        view = registry.dispatch(
            "install plan version=1.30.3", Caller("bench", Role.OPERATOR), services_for(kube)
        )
        assert isinstance(view, InstallView), view
        result = {"stages": len(view.plan.stages), "pods": sum(s.pods for s in view.plan.stages)}
    result["seconds"] = time.perf_counter() - started
    kube.close()
    return result


def run_child(kind: str, kubeconfig: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.bench_install", "--child", kind, kubeconfig],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def wave_requests(server: Any, kubeconfig: str, size: int) -> tuple[int, int, int, int]:
    """(requests, objects read) to propose, apply and check the rollout of a wave of
    `size` namespaces; then the naive rollout check's (requests, objects read)."""
    from bot.adapters.kube import KubeCluster
    from commands.changes.pipeline import Pipeline
    from commands.core.model import Caller, Role
    from commands.install.model import InstallPlan, Stage
    from commands.install.plans import Plans
    from commands.install.stages import wave
    from commands.install.waves import rollout

    kube = Counting(KubeCluster("large", kubeconfig=kubeconfig, context="sandbox", timeout_s=60))
    services = services_for(kube)
    first = int(wave_requests.offset)  # type: ignore[attr-defined]
    wave_requests.offset += size  # type: ignore[attr-defined]
    names = tuple(f"team-{n:03d}" for n in range(first, first + size))
    plan = InstallPlan(
        "inst-benchaaa", "large", "1.30.3", "1-30-3", "default", "1.29.6", "istiod",
        "bench", time.time(), "stand-in", {}, False,
        (Stage("install-wave", "wave", namespaces=names),),
    )  # fmt: skip
    Plans(services).add(plan)
    before = server.request_count
    proposal = wave(kube, plan, 0, time.time())
    pipeline = Pipeline(services)
    proposed = pipeline.propose(proposal, Caller("alice", Role.OPERATOR))  # type: ignore[arg-type]
    pipeline.approve(proposed.change.id, Caller("bob", Role.APPROVER))  # type: ignore[attr-defined]
    rollout(kube, names, (), "1-30-3", "1.30.3")
    ours = (server.request_count - before, kube.objects_read)
    kube.objects_read = 0
    before = server.request_count
    every = kube.list_objects("v1", "pods")
    [p for p in every if p["metadata"]["namespace"] in names]
    naive = (server.request_count - before, kube.objects_read)
    kube.close()
    return (*ours, *naive)


wave_requests.offset = 0  # type: ignore[attr-defined]


def main() -> None:
    from bot.sandbox.kube import KubeTestServer

    print(f"cluster: {NAMESPACES} meshed namespaces, {NAMESPACES * PODS_PER_NAMESPACE} pods")
    with tempfile.TemporaryDirectory() as tmp, KubeTestServer(version="v1.33.2") as server:
        server.load_objects(cluster_objects(NAMESPACES, PODS_PER_NAMESPACE))
        kubeconfig = str(server.write_kubeconfig(Path(tmp) / "kubeconfig"))
        before = server.request_count
        ours = run_child("plan", kubeconfig)
        ours_requests = server.request_count - before
        before = server.request_count
        naive = run_child("naive", kubeconfig)
        naive_requests = server.request_count - before
        ratio = naive["seconds"] / ours["seconds"] if ours["seconds"] else float("inf")
        print(f"{'planning':28}{'meshbot':>12}{'naive':>12}{'ratio':>9}")
        print(f"{'seconds':28}{ours['seconds']:>12.2f}{naive['seconds']:>12.2f}{ratio:>8.1f}x")
        print(f"{'peak RSS (MB)':28}{ours['rss_mb']:>12.0f}{naive['rss_mb']:>12.0f}")
        print(f"{'Kubernetes requests':28}{ours_requests:>12}{naive_requests:>12}")
        print(f"plan: {ours['stages']} stages, {ours['pods']} pods in waves")
        plan_ok = ours["seconds"] <= 5 and ours["rss_mb"] <= 300
        print("planning targets (≤5 s, ≤300 MB):", "met" if plan_ok else "NOT MET")
        print()
        print(
            f"{'wave of N namespaces':22}{'requests':>10}{'objects read':>14}"
            f"{'naive req':>11}{'naive read':>12}"
        )
        for size in WAVE_SIZES:
            req, read, naive_req, naive_read = wave_requests(server, kubeconfig, size)
            print(f"{size:<22}{req:>10}{read:>14}{naive_req:>11}{naive_read:>12}")
        print(
            "requests per wave = namespaces + workloads, read + dry run + write, plus one pod "
            "list per namespace; the naive rollout check reads every pod of the cluster"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        figures = child_plan(sys.argv[3], naive=sys.argv[2] == "naive")
        figures["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(figures))
    else:
        main()
