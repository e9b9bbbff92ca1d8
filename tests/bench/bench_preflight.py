"""Benchmark: the whole preflight of the generated 2,000-node / 30,000-pod cluster, and the
naive way (the client's full model objects, unpaged; one PromQL query per node), measured
in the same run.

Run from the repo root: ``python -m tests.bench.bench_preflight``. The test server runs
in this process; each approach runs in its own child process so its peak RSS is its own.
Prometheus is a real server (no targets: steal is unknown, the query cost is real); without
/usr/bin/prometheus the PromQL figures are skipped. Targets: preflight ≤ 10 s (aim 5),
peak RSS < 300 MB, Kubernetes requests = the pages, ≤ 4 PromQL queries.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

NODES, PODS = 2000, 30000


class CountingMetrics:
    """A real PrometheusMetrics that counts the queries sent through it."""

    def __init__(self, url: str) -> None:
        from bot.adapters.prometheus import PrometheusMetrics

        self.inner = PrometheusMetrics(url, timeout_s=10)
        self.count = 0

    def describe(self) -> str:
        return self.inner.describe()

    def ping(self) -> str:
        return self.inner.ping()

    def query(self, promql: str, *, at: float | None = None) -> Sequence[Any]:
        self.count += 1
        return self.inner.query(promql, at=at)

    def close(self) -> None:
        self.inner.close()


def child_fast(kubeconfig: str, prom_url: str | None) -> dict[str, Any]:
    from bot.adapters.kube import KubeCluster
    from bot.core.runtime import SystemClock
    from commands.core.model import Caller, Role
    from commands.core.ports import Services
    from commands.core.registry import Registry
    from commands.core.wiring import Kits
    from commands.preflight.commands import register
    from commands.preflight.model import PreflightReport, PreflightSettings

    cluster = KubeCluster("large", kubeconfig=kubeconfig, context="sandbox", timeout_s=30)
    metrics = CountingMetrics(prom_url) if prom_url else None
    services = Services(
        store=None,  # type: ignore[arg-type]
        lease=None,  # type: ignore[arg-type]
        clusters={"large": cluster},
        metrics={"large": metrics} if metrics else {},  # type: ignore[dict-item]
        clock=SystemClock(),
        version="bench",
        replica_id="bench",
        kits=Kits([PreflightSettings()]),
    )
    registry = Registry()
    register(registry)
    started = time.perf_counter()
    report = registry.dispatch("preflight", Caller("bench", Role.VIEWER), services)
    seconds = time.perf_counter() - started
    assert isinstance(report, PreflightReport), report
    cluster.close()
    return {
        "seconds": seconds,
        "queries": metrics.count if metrics else None,
        "results": len(report.checks),
        "summary": report.summary,
    }


def child_naive(kubeconfig: str, prom_url: str | None) -> dict[str, Any]:
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(kubeconfig, context="sandbox", client_configuration=configuration)
    api = client.ApiClient(configuration)
    core = client.CoreV1Api(api)
    started = time.perf_counter()
    nodes = core.list_node(_request_timeout=60).items
    pods = core.list_pod_for_all_namespaces(_request_timeout=60).items
    core.list_namespace(_request_timeout=60)
    core.list_service_for_all_namespaces(_request_timeout=60)
    queries = 0
    if prom_url:
        metrics = CountingMetrics(prom_url)
        for node in nodes:
            name = node.metadata.name
            metrics.query(
                f'100 * avg(rate(node_cpu_seconds_total{{mode="steal",node="{name}"}}[1h]))'
            )
        queries = metrics.count
        metrics.close()
    seconds = time.perf_counter() - started
    api.close()
    return {"seconds": seconds, "queries": queries, "nodes": len(nodes), "pods": len(pods)}


def run_child(kind: str, kubeconfig: str, prom_url: str | None) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.bench.bench_preflight",
            "--child",
            kind,
            kubeconfig,
            prom_url or "",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} child failed:\n{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    from bot.sandbox.kube import KubeTestServer, generate_large_cluster
    from bot.sandbox.prometheus_runner import PrometheusProcess, prometheus_available

    with KubeTestServer(version="v1.33.2") as server, tempfile.TemporaryDirectory() as tmp:
        server.load_objects(generate_large_cluster(nodes=NODES, pods=PODS, seed=0))
        kubeconfig = str(server.write_kubeconfig(Path(tmp) / "kubeconfig"))
        prom = None
        if prometheus_available():
            workdir = Path(tmp) / "prometheus"
            workdir.mkdir()
            prom = PrometheusProcess([], workdir=workdir).start()
        try:
            url = prom.url if prom else None
            server.reset_stats()
            fast = run_child("fast", kubeconfig, url)
            fast["requests"] = server.request_count
            server.reset_stats()
            naive = run_child("naive", kubeconfig, url)
            naive["requests"] = server.request_count
        finally:
            if prom is not None:
                prom.stop()
    print(f"cluster: {NODES} nodes, {PODS} pods; Prometheus: {'real' if prom else 'absent'}")
    print(f"{'':28}{'preflight':>12}{'naive':>12}{'ratio':>9}")
    rows = [
        ("wall time (s)", fast["seconds"], naive["seconds"]),
        ("peak RSS (MB)", fast["rss_mb"], naive["rss_mb"]),
        ("Kubernetes requests", fast["requests"], naive["requests"]),
        ("PromQL queries", fast["queries"] or 0, naive["queries"] or 0),
    ]
    for label, ours, theirs in rows:
        ratio = f"{theirs / ours:.1f}x" if ours else "-"
        print(f"{label:28}{ours:>12.1f}{theirs:>12.1f}{ratio:>9}")
    print(
        "note: the naive column only fetches the data (no checks run), so its time is a "
        "lower bound; preflight's includes every check and the sizing advice."
    )
    print(f"preflight results: {fast['results']} {fast['summary']}")
    ok = fast["seconds"] <= 10 and fast["rss_mb"] < 300 and (fast["queries"] or 0) <= 4
    print("targets (≤10 s, <300 MB, ≤4 queries):", "met" if ok else "NOT MET")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, kubeconfig, prom_url = sys.argv[2], sys.argv[3], sys.argv[4] or None
        figures = (child_fast if kind == "fast" else child_naive)(kubeconfig, prom_url)
        figures["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(figures))
    else:
        main()
