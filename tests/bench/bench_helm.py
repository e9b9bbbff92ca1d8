"""Benchmark: installing istiod revision 1-30-3 with Helm into the test server, and its dry run.

Run from the repo root: ``python -m tests.bench.bench_helm [--rounds 3]`` (Python >= 3.12
with the install extra). The server holds base + istiod 1.29.6 first; each round then
measures, on Istio's own 1.30.3 istiod chart from ../shared/istio-charts:

- the adapter's install (Helm's default Secret storage, wait until Available, atomic),
  then its uninstall;
- plain helm-sdkpy doing the same install in-process, with a fresh Configuration as
  the adapter and the subprocess have (what the adapter adds: the name check, the
  chart lookup, the image defaults);
- Helm with ``HELM_DRIVER=memory`` in a subprocess (the Go runtime reads the driver once,
  at load): what keeping releases in the cluster costs — and what a restart would lose;
- the adapter's dry run (reads pass through, writes answered locally), against the naive
  dry run of installing and uninstalling again.

Figures are medians over the rounds: wall time, API requests and how many of them wrote.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bot.adapters.helm import HelmFromConfig
from bot.core.settings import ClusterConfig, ClusterInstallConfig
from bot.sandbox.kube import KubeTestServer

CHARTS = Path(__file__).resolve().parents[2] / ".." / "shared" / "istio-charts"
NS, NAME = "istio-system", "istiod-1-30-3"
VALUES = {"revision": "1-30-3"}
PLAIN_VALUES = {"revision": "1-30-3", "global": {"hub": "docker.io/istio", "tag": "1.30.3"}}
NODES = """
apiVersion: v1
kind: Node
metadata: {name: node-1, labels: {kubernetes.io/os: linux}}
status:
  conditions: [{type: Ready, status: "True"}]
  nodeInfo: {kubeletVersion: v1.33.2}
"""
MEMORY_DRIVER = """
import asyncio, json, sys, time
import helm_sdkpy as h
cfg = h.Configuration(namespace="istio-system", kubeconfig=sys.argv[1])
started = time.perf_counter()
asyncio.run(h.Install(cfg).run("istiod-1-30-3", sys.argv[2], values=json.loads(sys.argv[3]),
            create_namespace=True, wait=True, timeout=120, rollback_on_failure=True))
print(json.dumps({"seconds": time.perf_counter() - started}), flush=True)
sys.stdin.readline()
asyncio.run(h.Uninstall(cfg).run("istiod-1-30-3", wait=True, timeout=120))
"""


class Meter:
    def __init__(self, server: KubeTestServer) -> None:
        self.server = server
        self.figures: dict[str, list[tuple[float, int, int]]] = {}

    def measure(self, label: str, action: Callable[[], object]) -> None:
        first = self.server.request_count
        started = time.perf_counter()
        action()
        seconds = time.perf_counter() - started
        self.record(label, seconds, first)

    def record(self, label: str, seconds: float, first: int) -> None:
        sent = self.server.requests[first:]
        writes = sum(1 for r in sent if r.method != "GET")
        self.figures.setdefault(label, []).append((seconds, len(sent), writes))

    def median(self, label: str) -> tuple[float, float, float]:
        rows = self.figures[label]
        return (
            statistics.median(r[0] for r in rows),
            statistics.median(r[1] for r in rows),
            statistics.median(r[2] for r in rows),
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    import helm_sdkpy

    charts = CHARTS.resolve()
    chart = charts / "1.30.3" / "istio-control" / "istio-discovery"
    with tempfile.TemporaryDirectory() as tmp:
        server = KubeTestServer(controllers=True, ready_seconds=0.05)
        server.start()
        try:
            server.load_seed(NODES)
            kubeconfig = server.write_kubeconfig(Path(tmp) / "kubeconfig")
            config = ClusterConfig(
                kubeconfig=kubeconfig, install=ClusterInstallConfig(charts=str(charts))
            )
            clients = HelmFromConfig({"bench": config})
            helm = clients.for_cluster("bench")
            helm.install(NS, "istio-base", "base", "1.30.3", {}, timeout_s=120)
            helm.install(NS, "istiod", "istiod", "1.29.6", {}, timeout_s=120)
            meter = Meter(server)

            def plain_install() -> None:
                plain = helm_sdkpy.Configuration(namespace=NS, kubeconfig=str(kubeconfig))
                asyncio.run(
                    helm_sdkpy.Install(plain).run(
                        NAME, str(chart), values=PLAIN_VALUES, create_namespace=True,
                        wait=True, timeout=120, rollback_on_failure=True,
                    )
                )  # fmt: skip

            def install_and_uninstall() -> None:
                helm.install(NS, NAME, "istiod", "1.30.3", VALUES, timeout_s=120)
                helm.uninstall(NS, NAME, timeout_s=120)

            for _ in range(rounds):
                meter.measure(
                    "adapter install",
                    lambda: helm.install(NS, NAME, "istiod", "1.30.3", VALUES, timeout_s=120),
                )
                meter.measure("adapter uninstall", lambda: helm.uninstall(NS, NAME))
                meter.measure("helm-sdkpy install", plain_install)
                helm.uninstall(NS, NAME)
                memory_install(meter, kubeconfig, chart)
                meter.measure(
                    "adapter dry run",
                    lambda: helm.install(NS, NAME, "istiod", "1.30.3", VALUES, dry_run=True),
                )
                meter.measure("install + uninstall", install_and_uninstall)
            clients.close()
        finally:
            server.stop()
    report(meter, rounds)


def memory_install(meter: Meter, kubeconfig: Path, chart: Path) -> None:
    """Helm with HELM_DRIVER=memory in a subprocess; timed inside it, around the install."""
    # its own HOME: Helm keeps a discovery cache under $HOME/.kube (never the repo)
    env = {"HELM_DRIVER": "memory", "PATH": "/usr/bin:/bin", "HOME": str(kubeconfig.parent)}
    first = meter.server.request_count
    command = [sys.executable, "-c", MEMORY_DRIVER, str(kubeconfig), str(chart)]
    child = subprocess.Popen(
        [*command, json.dumps(PLAIN_VALUES)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert child.stdout is not None and child.stdin is not None
    line = child.stdout.readline()
    meter.record("HELM_DRIVER=memory install", json.loads(line)["seconds"], first)
    child.stdin.write("\n")
    child.stdin.flush()
    child.wait(timeout=300)


def report(meter: Meter, rounds: int) -> None:
    print(f"istiod 1.30.3 as revision 1-30-3 beside 1.29.6, median of {rounds} rounds")
    print(f"{'':30} {'seconds':>8} {'requests':>9} {'writes':>7}")
    for label in meter.figures:
        seconds, requests, writes = meter.median(label)
        print(f"{label:30} {seconds:8.2f} {requests:9.0f} {writes:7.0f}")
    adapter, plain = meter.median("adapter install"), meter.median("helm-sdkpy install")
    memory = meter.median("HELM_DRIVER=memory install")
    dry, naive = meter.median("adapter dry run"), meter.median("install + uninstall")
    print(f"adapter / plain helm-sdkpy:     {adapter[0] / plain[0]:.2f}x time, "
          f"{adapter[1] - plain[1]:+.0f} requests")  # fmt: skip
    print(f"Secrets / memory storage:       {plain[0] / memory[0]:.2f}x time, "
          f"{plain[1] - memory[1]:+.0f} requests (plain helm-sdkpy both)")  # fmt: skip
    print(f"dry run / install + uninstall:  {dry[0] / naive[0]:.2f}x time, "
          f"{dry[1] / naive[1]:.2f}x requests, {dry[2]:.0f} vs {naive[2]:.0f} writes")  # fmt: skip


if __name__ == "__main__":
    main()
