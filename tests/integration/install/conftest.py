"""A cluster with Istio 1.29.6 installed by real Helm from Istio's own charts, two
meshed namespaces whose pods run its proxy, and meshbot over the real parts (Slack
emulator with signed requests, real Redis, real Prometheus on the metrics simulator)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app.config import Settings
from bot.app.health import BackgroundServer
from bot.app.runtime import build_runtime, start_sweeper
from bot.app.slack import build_app
from bot.core.dispatch import run_command
from bot.sandbox.kube import KubeTestServer
from bot.sandbox.slack import SignedClient, SlackEmulator
from bot.slack.serve import MAX_BODY_BYTES, slack_wsgi
from commands.changes.model import ChangeState
from commands.changes.pipeline import Pipeline
from commands.core.model import ActionOutcome, Caller, Role
from commands.install.model import InstallActed, InstallView
from commands.install.ports import Helm, InstallKit
from tests.fixtures.kube import KUBECTL
from tests.fixtures.meshbot import RunningBot
from tests.fixtures.shared import missing, shared_path

HUB = "docker.io/istio"
NODES = "\n---\n".join(
    f"""
apiVersion: v1
kind: Node
metadata: {{name: node-{i}, labels: {{kubernetes.io/os: linux}}}}
status:
  conditions: [{{type: Ready, status: "True"}}]
  capacity: {{cpu: "16", memory: 64Gi, pods: "110"}}
  allocatable: {{cpu: "16", memory: 64Gi, pods: "110"}}
  nodeInfo: {{kubeletVersion: v1.33.2, containerRuntimeVersion: containerd://1.7.0}}
"""
    for i in (1, 2)
)
APP = """
apiVersion: v1
kind: Namespace
metadata: {{name: {ns}, labels: {{istio-injection: enabled, team: {ns}}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {app}, namespace: {ns}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: {app}}}}}
  template:
    metadata: {{labels: {{app: {app}}}}}
    spec: {{containers: [{{name: {app}, image: registry.example.com/{app}:1.0}}]}}
"""
WAVES = {"quiet": "ledger", "shop": "cart"}


def sdk() -> Any:
    if sys.version_info < (3, 12):
        missing("the install tests need Python >= 3.12 with the install extra (helm-sdkpy)")
    try:
        import helm_sdkpy
    except ImportError:
        missing("helm-sdkpy is not installed (pip install -e '.[test,install]' on Python 3.12)")
    return helm_sdkpy


def wait_until(predicate: Callable[[], Any], what: str, seconds: float = 60.0) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return found


@pytest.fixture
def istio_cluster(tmp_path: Path) -> Iterator[tuple[KubeTestServer, Path]]:
    helm = sdk()
    charts = shared_path("istio-charts")
    server = KubeTestServer(version="v1.33.2", controllers=True, ready_seconds=0.05)
    server.start()
    try:
        server.load_seed(NODES)
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        for name, chart in (("istio-base", "base"), ("istiod", "istio-control/istio-discovery")):
            config = helm.Configuration(namespace="istio-system", kubeconfig=str(kubeconfig))
            action = helm.Install(config).run(
                name,
                str(charts / "1.29.6" / chart),
                values={"global": {"hub": HUB, "tag": "1.29.6"}},
                create_namespace=True,
                wait=True,
                timeout=120,
            )
            asyncio.run(action)
        server.load_seed("\n---\n".join(APP.format(ns=ns, app=app) for ns, app in WAVES.items()))
        yield server, kubeconfig
    finally:
        server.stop()


def kubectl_json(kubeconfig: Path, tmp: Path, *args: str) -> Any:
    result = subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp / "kc"), *args, "-ojson"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def proxy_tags(kubeconfig: Path, tmp: Path, ns: str) -> list[str]:
    """The istio-proxy image tag of each live pod in `ns`, read with kubectl."""
    tags = []
    for pod in kubectl_json(kubeconfig, tmp, "get", "pods", "-n", ns)["items"]:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        spec = pod["spec"]
        for c in [*spec.get("containers", []), *spec.get("initContainers", [])]:
            if c["name"] == "istio-proxy":
                tags.append(c["image"].rpartition(":")[2])
    return sorted(tags)


@pytest.fixture
def install_bot(
    slack_emulator: SlackEmulator,
    signing_secret: str,
    configured_settings: Callable[[str], Settings],
    meshbot_settings_factory: Callable[..., Settings],
) -> Iterator[Callable[..., RunningBot]]:
    """Start a meshbot replica (on the clean Redis, or `redis_url`) with `extra` config."""
    started: list[RunningBot] = []

    def start(extra: str, redis_url: str | None = None) -> RunningBot:
        if redis_url is None:
            settings = configured_settings(extra)
        else:
            settings = meshbot_settings_factory(redis_url, extra)
        runtime = build_runtime(settings, replica_id="replica-test")
        app = build_app(runtime)
        start_sweeper(runtime, settings)
        server = BackgroundServer(
            slack_wsgi(app, runtime), "127.0.0.1", 0, threads=16, max_body=MAX_BODY_BYTES
        ).start()
        bot = RunningBot(
            runtime,
            app,
            slack_emulator,
            server=server,
            client=SignedClient(server.url, signing_secret),
        )
        started.append(bot)
        return bot

    yield start
    for bot in started:
        assert bot.client is not None and bot.server is not None
        bot.client.close()
        bot.server.stop()
        bot.runtime.close()


def bot_config(kubeconfig: Path, prometheus_url: str | None = None, install: str = "") -> str:
    prom = f'\n    prometheus: {{url: "{prometheus_url}"}}' if prometheus_url else ""
    return f"""
clusters:
  prod:
    kubeconfig: {kubeconfig}
    context: sandbox{prom}
    install: {{charts: "{shared_path("istio-charts")}"}}
changes:
  sweep_interval_s: 0.3
  hold_retry_s: 1
  verify_lease_s: 3
  apply_lease_s: 3
install:
  bake_window_s: 3
  bake_min_requests: 5
  rollout_wait_s: 20
  control_plane_wait_s: 120
{install}
"""


ALICE = Caller("U_ALICE", Role.OPERATOR, "C_OPS")
BOB = Caller("U_BOB", Role.APPROVER, "C_OPS")


def plan_with_control_plane(bot: RunningBot, waves: str = "quiet/shop") -> str:
    """Plan (by Alice), and the control plane installed (approved by Bob) and verified."""
    planned = run_command(bot.runtime, f"install plan version=1.30.3 waves={waves}", ALICE)
    assert isinstance(planned, InstallView), planned
    plan_id = planned.plan.id
    started = run_command(bot.runtime, f"install start {plan_id}", ALICE)
    assert isinstance(started, InstallActed) and started.view is not None, started
    change = started.view.stages[0].change
    assert change is not None
    acted = Pipeline(bot.runtime.services).approve(change.id, BOB)
    assert acted.outcome is ActionOutcome.DONE, acted.message
    wait_until(
        lambda: state_of(bot, change.id) is ChangeState.VERIFIED, "control plane verified", 120
    )
    return plan_id


def state_of(bot: RunningBot, change_id: str) -> ChangeState | None:
    change = Pipeline(bot.runtime.services).find(change_id)
    return None if change is None else change.state


def advance(bot: RunningBot, plan_id: str) -> str:
    acted = run_command(bot.runtime, f"install advance {plan_id}", ALICE)
    assert isinstance(acted, InstallActed) and acted.outcome is ActionOutcome.DONE, acted
    assert acted.view is not None and acted.view.current is not None
    change = acted.view.stages[acted.view.current].change
    assert change is not None
    return change.id


def helm_of(bot: RunningBot) -> Helm:
    """The runtime's own Helm adapter for the cluster."""
    return bot.runtime.services.kit(InstallKit).helm.for_cluster("prod")


def helm_revisions(kubeconfig: Path, tmp: Path, release: str) -> list[str]:
    """Helm's release records (Secrets) of `release`, read with kubectl: one per install."""
    found = kubectl_json(
        kubeconfig, tmp, "get", "secrets", "-n", "istio-system", "-l", f"owner=helm,name={release}"
    )
    return sorted(s["metadata"]["labels"]["version"] for s in found["items"])
