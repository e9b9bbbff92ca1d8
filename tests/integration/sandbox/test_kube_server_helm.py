"""Istio's own charts installed by real Helm (helm-sdkpy) into the test server.

Helm runs with its default release storage (Secrets, sent as protobuf) and ``wait=True``
(watch-list informers, Deployment status from the controllers). The charts' webhooks
then inject pods as Istio would, per revision; a server restart keeps every release,
and a Helm in another process uninstalls them. Needs Python >= 3.12 and the project's
``install`` extra; CI runs it (a missing Helm fails there instead of skipping).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.kube import KubeTestServer
from tests.fixtures.kube import KUBECTL
from tests.fixtures.shared import missing, shared_path

NODES = "\n---\n".join(
    f"""
apiVersion: v1
kind: Node
metadata: {{name: node-{i}, labels: {{kubernetes.io/os: linux}}}}
status:
  conditions: [{{type: Ready, status: "True"}}]
  nodeInfo: {{kubeletVersion: v1.33.2}}
"""
    for i in (1, 2)
)
HUB = "docker.io/istio"
pytestmark = pytest.mark.helm


def _helm() -> Any:
    if sys.version_info < (3, 12):
        missing("Helm tests need Python >= 3.12 with the install extra (helm-sdkpy)")
    try:
        import helm_sdkpy
    except ImportError:
        missing("helm-sdkpy is not installed (pip install -e '.[test,install]' on Python 3.12)")
    return helm_sdkpy


@pytest.fixture
def helm() -> Any:
    return _helm()


@pytest.fixture
def charts() -> Path:
    return shared_path("istio-charts")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KubeTestServer]:
    server = KubeTestServer(controllers=True, ready_seconds=0.05)
    server.start()
    server.load_seed(NODES)
    try:
        yield server
    finally:
        server.stop()


def _kubectl(kubeconfig: Path, tmp: Path) -> Callable[..., Any]:
    def run(*args: str, stdin: str | None = None) -> Any:
        result = subprocess.run(
            [KUBECTL, "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp / "kc"), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout) if "-ojson" in args else result.stdout

    return run


def _install(helm: Any, kubeconfig: Path, name: str, chart: Path, values: dict[str, Any]) -> Any:
    config = helm.Configuration(namespace="istio-system", kubeconfig=str(kubeconfig))
    action = helm.Install(config).run(
        name, str(chart), values=values, create_namespace=True, wait=True, timeout=120
    )
    return asyncio.run(action)


def _wait_for(predicate: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: shop, namespace: {ns}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: shop}}}}
  template:
    metadata: {{labels: {{app: shop}}}}
    spec: {{containers: [{{name: shop, image: registry.example.com/shop:1.0}}]}}
"""

UNINSTALL_ELSEWHERE = """
import asyncio, json, sys
import helm_sdkpy as h
cfg = h.Configuration(namespace="istio-system", kubeconfig=sys.argv[1])
async def main():
    listed = await h.List(cfg).run(all=True) or []
    out = {"listed": sorted((r["name"], r["info"]["status"], r["version"]) for r in listed)}
    for name in ("istiod-1-30-3", "istiod", "istio-base"):
        done = await h.Uninstall(cfg).run(name, wait=True, timeout=120)
        out[name] = done["release"]["info"]["status"]
    print(json.dumps(out))
asyncio.run(main())
"""


def test_istio_charts_install_inject_and_survive_a_restart(
    helm: Any, charts: Path, cluster: KubeTestServer, tmp_path: Path
) -> None:
    kubeconfig = cluster.write_kubeconfig(tmp_path / "kubeconfig")
    kubectl = _kubectl(kubeconfig, tmp_path)
    started, requests_before = time.perf_counter(), cluster.request_count

    _install(
        helm,
        kubeconfig,
        "istio-base",
        charts / "1.30.3/base",
        {"global": {"hub": HUB, "tag": "1.30.3"}},
    )
    old = _install(
        helm,
        kubeconfig,
        "istiod",
        charts / "1.29.6/istio-control/istio-discovery",
        {"global": {"hub": HUB, "tag": "1.29.6"}},
    )
    new = _install(
        helm,
        kubeconfig,
        "istiod-1-30-3",
        charts / "1.30.3/istio-control/istio-discovery",
        {"global": {"hub": HUB, "tag": "1.30.3"}, "revision": "1-30-3"},
    )
    print(
        f"\nhelm install base + istiod 1.29.6 + istiod 1.30.3 (wait=True): "
        f"{time.perf_counter() - started:.2f}s, {cluster.request_count - requests_before} requests"
    )

    assert old["info"]["status"] == new["info"]["status"] == "deployed"
    releases = kubectl("get", "secrets", "-n", "istio-system", "-l", "owner=helm", "-ojson")
    assert sorted(s["metadata"]["labels"]["name"] for s in releases["items"]) == [
        "istio-base",
        "istiod",
        "istiod-1-30-3",
    ]
    assert {s["type"] for s in releases["items"]} == {"helm.sh/release.v1"}
    for name in ("istiod", "istiod-1-30-3"):
        deployment = kubectl("get", "deployment", name, "-n", "istio-system", "-ojson")
        assert deployment["status"]["availableReplicas"] == 1
    hooks = kubectl("get", "mutatingwebhookconfigurations", "-o", "name").split()
    assert (
        "mutatingwebhookconfiguration.admissionregistration.k8s.io/istio-sidecar-injector-1-30-3"
        in hooks
    )

    # Sidecar injection by the webhooks the charts installed, per revision.
    kubectl("create", "namespace", "legacy")
    kubectl("label", "namespace", "legacy", "istio-injection=enabled")
    kubectl("create", "namespace", "canary")
    kubectl("label", "namespace", "canary", "istio.io/rev=1-30-3")
    kubectl("create", "namespace", "outside")
    for ns in ("legacy", "canary", "outside"):
        kubectl("apply", "-f", "-", stdin=APP.format(ns=ns))

    def pods(ns: str) -> list[dict[str, Any]]:
        return kubectl("get", "pods", "-n", ns, "-ojson")["items"]

    for ns in ("legacy", "canary", "outside"):
        _wait_for(lambda ns=ns: len(pods(ns)) == 2, f"pods in {ns}")
    proxies = {
        ns: Counter(
            (
                c["image"],
                c.get("restartPolicy"),
                json.loads(p["metadata"]["annotations"][STATUS])["revision"],
            )
            for p in pods(ns)
            for c in p["spec"].get("initContainers", [])
            if c["name"] == "istio-proxy"
        )
        for ns in ("legacy", "canary")
    }
    # Kubelets >= 1.33 make istiod 1.29/1.30 inject native sidecars (init containers).
    assert proxies == {
        "legacy": Counter({(f"{HUB}/proxyv2:1.29.6", "Always", "default"): 2}),
        "canary": Counter({(f"{HUB}/proxyv2:1.30.3", "Always", "1-30-3"): 2}),
    }
    assert all(STATUS not in (p["metadata"].get("annotations") or {}) for p in pods("outside"))

    # The gateway chart on the new revision (wait=True: its LoadBalancer gets an address).
    gateway_config = helm.Configuration(namespace="istio-ingress", kubeconfig=str(kubeconfig))
    asyncio.run(
        helm.Install(gateway_config).run(
            "gateway",
            str(charts / "1.30.3/gateway"),
            values={"global": {"hub": HUB, "tag": "1.30.3"}, "revision": "1-30-3"},
            create_namespace=True,
            wait=True,
            timeout=120,
        )
    )
    (gateway_pod,) = pods("istio-ingress")
    (proxy,) = gateway_pod["spec"]["containers"]
    assert (proxy["name"], proxy["image"]) == ("istio-proxy", f"{HUB}/proxyv2:1.30.3")
    assert json.loads(gateway_pod["metadata"]["annotations"][STATUS])["revision"] == "1-30-3"
    asyncio.run(helm.Uninstall(gateway_config).run("gateway", wait=True, timeout=120))

    # Restart: the state survives as Helm's Secrets; a Helm in another process uninstalls.
    state = cluster.save_state(tmp_path / "state.json")
    port = cluster.port
    cluster.stop()
    restarted = KubeTestServer(port=port, controllers=True, ready_seconds=0.05)
    restarted.restore_state(state)
    restarted.start()
    try:
        result = subprocess.run(
            [sys.executable, "-c", UNINSTALL_ELSEWHERE, str(kubeconfig)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        out = json.loads(result.stdout.strip().splitlines()[-1])
        assert out["listed"] == [
            ["istio-base", "deployed", 1],
            ["istiod", "deployed", 1],
            ["istiod-1-30-3", "deployed", 1],
        ]
        assert {out[n] for n in ("istiod-1-30-3", "istiod", "istio-base")} == {"uninstalled"}
        left = kubectl(
            "get",
            "deployments,mutatingwebhookconfigurations,secrets",
            "-n",
            "istio-system",
            "-o",
            "name",
        )
        assert left.split() == []
    finally:
        restarted.stop()


STATUS = "sidecar.istio.io/status"
