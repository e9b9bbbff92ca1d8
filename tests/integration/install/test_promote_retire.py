"""Promote and retire on the real parts: the `default` tag moved to the new revision makes
the test server's injection (driven by the webhooks Helm installed) give new pods in an
`istio-injection=enabled` namespace the 1.30.3 proxy; its rollback gives them 1.29.6
again. Retire uninstalls the old istiod with Helm; its rollback installs it again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core.dispatch import run_command
from bot.sandbox.kube import KubeTestServer
from commands.changes.model import ChangeState
from commands.changes.pipeline import Pipeline
from commands.core.model import ActionOutcome
from commands.install.model import InstallActed, InstallView
from tests.fixtures.meshbot import RunningBot
from tests.fixtures.shared import shared_path
from tests.integration.install.conftest import (
    ALICE,
    BOB,
    bot_config,
    helm_of,
    helm_revisions,
    kubectl_json,
    plan_with_control_plane,
    proxy_tags,
    sdk,
    state_of,
    wait_until,
)

pytestmark = pytest.mark.helm
FRESH = """
apiVersion: v1
kind: Namespace
metadata: {{name: {ns}, labels: {{istio-injection: enabled}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {ns}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: web, image: registry.example.com/web:1.0}}]}}
"""


def acted_change(bot: RunningBot, text: str, index: int) -> str:
    acted = run_command(bot.runtime, text, ALICE)
    assert isinstance(acted, InstallActed) and acted.outcome is ActionOutcome.DONE, acted
    assert acted.view is not None
    change = acted.view.stages[index].change
    assert change is not None
    return change.id


def test_promote_moves_new_pods_to_the_new_proxy_and_retire_removes_the_old_istiod(
    istio_cluster: tuple[KubeTestServer, Path],
    install_bot: Callable[..., RunningBot],
    tmp_path: Path,
) -> None:
    server, kubeconfig = istio_cluster
    for ns in ("quiet", "shop"):  # nothing left to move: the plan goes straight to promote
        namespace = server.get_object("v1", "namespaces", ns)
        assert namespace is not None
        server.load_objects(
            [{**namespace, "metadata": {**namespace["metadata"], "labels": {"team": ns}}}]
        )
    bot = install_bot(bot_config(kubeconfig, install="  retire_wait_s: 0"))
    planned = run_command(bot.runtime, "install plan version=1.30.3", ALICE)
    assert isinstance(planned, InstallView), planned
    plan_id = planned.plan.id
    assert [s.kind for s in planned.plan.stages] == [
        "install-control-plane",
        "install-promote",
        "install-retire",
    ]
    control = acted_change(bot, f"install start {plan_id}", 0)
    Pipeline(bot.runtime.services).approve(control, BOB)
    wait_until(lambda: state_of(bot, control) is ChangeState.VERIFIED, "control plane", 120)

    promote = acted_change(bot, f"install advance {plan_id}", 1)
    assert Pipeline(bot.runtime.services).approve(promote, BOB).outcome is ActionOutcome.DONE
    tag = kubectl_json(
        kubeconfig, tmp_path, "get", "mutatingwebhookconfiguration", "istio-revision-tag-default"
    )
    assert tag["metadata"]["labels"]["istio.io/rev"] == "1-30-3"
    server.load_seed(FRESH.format(ns="fresh"))
    wait_until(lambda: proxy_tags(kubeconfig, tmp_path, "fresh") == ["1.30.3"], "fresh on 1.30.3")

    rolled = Pipeline(bot.runtime.services).rollback(promote, ALICE, "check the way back")
    assert rolled.outcome is ActionOutcome.DONE, rolled.message
    server.load_seed(FRESH.format(ns="later"))
    wait_until(lambda: proxy_tags(kubeconfig, tmp_path, "later") == ["1.29.6"], "later on 1.29.6")

    promote = acted_change(bot, f"install advance {plan_id}", 1)
    Pipeline(bot.runtime.services).approve(promote, BOB)
    retire = acted_change(bot, f"install advance {plan_id}", 2)
    Pipeline(bot.runtime.services).approve(retire, BOB)
    wait_until(lambda: state_of(bot, retire) is ChangeState.VERIFIED, "retired", 120)
    assert helm_of(bot).release("istio-system", "istiod") is None
    deployments = kubectl_json(kubeconfig, tmp_path, "get", "deployments", "-n", "istio-system")
    assert [d["metadata"]["name"] for d in deployments["items"]] == ["istiod-1-30-3"]

    back = Pipeline(bot.runtime.services).rollback(retire, ALICE, "keep the old one a while")
    assert back.outcome is ActionOutcome.DONE, back.message
    again = helm_of(bot).release("istio-system", "istiod")
    assert again is not None and again.chart_version == "1.29.6"
    assert helm_revisions(kubeconfig, tmp_path, "istiod") == ["1"]  # a fresh install


def test_gateways_installed_by_istios_chart_move_to_the_new_revision_and_back(
    istio_cluster: tuple[KubeTestServer, Path],
    install_bot: Callable[..., RunningBot],
    tmp_path: Path,
) -> None:
    _, kubeconfig = istio_cluster
    helm = sdk()
    config = helm.Configuration(namespace="istio-ingress", kubeconfig=str(kubeconfig))
    gateway_chart = shared_path("istio-charts") / "1.29.6" / "gateway"
    action = helm.Install(config).run(
        "istio-ingressgateway", str(gateway_chart), values={}, create_namespace=True, wait=True,
        timeout=120,
    )  # fmt: skip
    asyncio.run(action)
    assert proxy_tags(kubeconfig, tmp_path, "istio-ingress") == ["1.29.6"]
    bot = install_bot(bot_config(kubeconfig))
    plan_id = plan_with_control_plane(bot)
    shown = run_command(bot.runtime, f"install status {plan_id}", ALICE)
    assert isinstance(shown, InstallView)
    assert shown.plan.stages[1].workloads == ("istio-ingress/istio-ingressgateway",)

    moved = acted_change(bot, f"install advance {plan_id}", 1)
    assert Pipeline(bot.runtime.services).approve(moved, BOB).outcome is ActionOutcome.DONE
    wait_until(
        lambda: proxy_tags(kubeconfig, tmp_path, "istio-ingress") == ["1.30.3"],
        "the gateway on 1.30.3",
    )
    rolled = Pipeline(bot.runtime.services).rollback(moved, ALICE, "gateway check")
    assert rolled.outcome is ActionOutcome.DONE, rolled.message
    wait_until(
        lambda: proxy_tags(kubeconfig, tmp_path, "istio-ingress") == ["1.29.6"],
        "the gateway back on 1.29.6",
    )
