"""The issue's "done when", through Slack: plan → control plane by Helm → wave 1 bakes on
real Prometheus → wave 2 regresses → Rollback restores exactly its labels and pods →
abort; the plan message tells the truth at every step, and kubectl agrees.

Two users: U_ALICE (operator) plans and starts; U_BOB (@mesh-approvers) approves. Windows
are seconds, not minutes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.kube import KubeTestServer
from bot.sandbox.slack import SlackEmulator
from tests.fixtures.meshbot import RunningBot
from tests.fixtures.prometheus import LivePrometheus
from tests.fixtures.shared import shared_path
from tests.integration.changes.test_slack import buttons, texts
from tests.integration.install.conftest import (
    helm_of,
    helm_revisions,
    kubectl_json,
    proxy_tags,
    wait_until,
)

pytestmark = [pytest.mark.helm, pytest.mark.prometheus]
SCENARIO = """
name: install-waves
reporters: [destination]
revisions: {default: 1.29.6, 1-30-3: 1.30.3}
services:
  - {name: ledger, namespace: quiet, rps: 30, latency: {p50_ms: 20, p99_ms: 100}}
  - {name: cart, namespace: shop, rps: 40, latency: {p50_ms: 20, p99_ms: 100}}
"""
STAGE = re.compile(r"\*(\d+)\. [^*]+\* — ([a-z ]+?)(?= `| ·| :|$)", re.MULTILINE)


def stages(message: Any) -> dict[int, str]:
    return {int(n): state for n, state in STAGE.findall(texts(message))}


def click(
    bot: RunningBot, slack: SlackEmulator, action: str, value: str, user: str, ts: str
) -> None:
    assert bot.client is not None
    url = slack.new_response_url("C_OPS", user)
    answer = bot.client.action(action, value, user_id=user, message_ts=ts, response_url=url)
    assert answer.status_code == 200


def wait_stage(slack: SlackEmulator, ts: str, number: int, state: str, seconds: float = 60) -> Any:
    def probe() -> Any:
        message = slack.message("C_OPS", ts)
        return message if message is not None and stages(message).get(number) == state else None

    try:
        return wait_until(probe, f"stage {number} {state}", seconds)
    except AssertionError as exc:
        message = slack.message("C_OPS", ts)
        thread = [m.text for m in slack.thread("C_OPS", ts)]
        raise AssertionError(f"stage {number} not {state}: {texts(message)}\n{thread}") from exc


@pytest.mark.scenario(SCENARIO)
def test_staged_install_through_slack(
    istio_cluster: tuple[KubeTestServer, Path],
    install_bot: Callable[..., RunningBot],
    prometheus: LivePrometheus,
    slack_emulator: SlackEmulator,
    tmp_path: Path,
) -> None:
    _, kubeconfig = istio_cluster
    assert proxy_tags(kubeconfig, tmp_path, "shop") == ["1.29.6", "1.29.6"]
    bot = install_bot(
        f"""
clusters:
  prod:
    kubeconfig: {kubeconfig}
    context: sandbox
    prometheus: {{url: "{prometheus.url}"}}
    install: {{charts: "{shared_path("istio-charts")}"}}
changes:
  sweep_interval_s: 0.3
  hold_retry_s: 1
  verify_lease_s: 3
install:
  bake_window_s: 4
  bake_min_requests: 5
  rollout_wait_s: 60
  control_plane_wait_s: 120
"""
    )
    prometheus.wait_scraped_for(8)

    # plan: one message in the channel, every stage pending, Start for the operator
    answer = bot.slash("install plan version=1.30.3 waves=quiet/shop")
    plan_msg = slack_emulator.wait_for(
        lambda: next((m for m in slack_emulator.messages("C_OPS") if "→ 1.30.3" in m.text), None),
        10,
    )
    assert stages(plan_msg) == {
        1: "pending",
        2: "pending",
        3: "pending",
        4: "pending",
        5: "pending",
    }
    plan_id = buttons(plan_msg)["install_start"]
    ts = plan_msg.ts
    del answer

    # control plane: proposed on Start, approved by Bob, installed by Helm beside 1.29.6
    click(bot, slack_emulator, "install_start", plan_id, "U_ALICE", ts)
    proposed = wait_stage(slack_emulator, ts, 1, "proposed")
    change_id = buttons(proposed)["change_approve"]
    click(bot, slack_emulator, "change_approve", change_id, "U_ALICE", ts)  # not her own
    click(bot, slack_emulator, "change_approve", change_id, "U_BOB", ts)
    verified = wait_stage(slack_emulator, ts, 1, "verified", 120)
    assert "approved by <@U_BOB>" in texts(verified)
    deployment = kubectl_json(
        kubeconfig, tmp_path, "get", "deployment", "istiod-1-30-3", "-n", "istio-system"
    )
    assert deployment["status"]["availableReplicas"] >= 1
    assert helm_of(bot).release("istio-system", "istiod") is not None  # the old one still runs
    assert helm_revisions(kubeconfig, tmp_path, "istiod-1-30-3") == ["1"]

    # wave 1 (quiet): relabelled, restarted onto 1.30.3, baked on real Prometheus
    click(bot, slack_emulator, "install_advance", plan_id, "U_ALICE", ts)
    wave1 = buttons(wait_stage(slack_emulator, ts, 2, "proposed"))["change_approve"]
    prometheus.simulator.inject({"namespace": "quiet", "revision": "1-30-3"})
    click(bot, slack_emulator, "change_approve", wave1, "U_BOB", ts)
    wait_stage(slack_emulator, ts, 2, "verified", 90)
    quiet = kubectl_json(kubeconfig, tmp_path, "get", "namespace", "quiet")["metadata"]["labels"]
    assert quiet.get("istio.io/rev") == "1-30-3" and "istio-injection" not in quiet
    assert proxy_tags(kubeconfig, tmp_path, "quiet") == ["1.30.3", "1.30.3"]

    # wave 2 (shop): the new revision regresses p99 x3 → the bake fails
    shop_before = kubectl_json(kubeconfig, tmp_path, "get", "namespace", "shop")["metadata"][
        "labels"
    ]
    click(bot, slack_emulator, "install_advance", plan_id, "U_ALICE", ts)
    wave2 = buttons(wait_stage(slack_emulator, ts, 3, "proposed"))["change_approve"]
    prometheus.simulator.inject({"revision": "1-30-3", "p99_factor": 3})
    prometheus.simulator.inject({"namespace": "shop", "revision": "1-30-3"})
    click(bot, slack_emulator, "change_approve", wave2, "U_BOB", ts)
    failed = wait_stage(slack_emulator, ts, 3, "failed", 90)
    assert "shop: p99" in texts(failed)
    assert buttons(failed).get("change_rollback") == wave2
    assert proxy_tags(kubeconfig, tmp_path, "shop") == ["1.30.3", "1.30.3"]

    # Rollback: exactly wave 2's labels back, its pods back on 1.29.6; wave 1 untouched
    prometheus.simulator.inject({"namespace": "shop", "revision": "default"})
    click(bot, slack_emulator, "change_rollback", wave2, "U_ALICE", ts)
    wait_stage(slack_emulator, ts, 3, "rolled back", 60)
    shop_after = kubectl_json(kubeconfig, tmp_path, "get", "namespace", "shop")["metadata"][
        "labels"
    ]
    assert shop_after == shop_before
    wait_until(
        lambda: proxy_tags(kubeconfig, tmp_path, "shop") == ["1.29.6", "1.29.6"],
        "shop back on 1.29.6",
    )
    assert proxy_tags(kubeconfig, tmp_path, "quiet") == ["1.30.3", "1.30.3"]

    # abort: the install stops; the plan message shows the true state of every stage
    click(bot, slack_emulator, "install_abort", plan_id, "U_ALICE", ts)

    def aborted() -> Any:
        message = slack_emulator.message("C_OPS", ts)
        return message if message is not None and "aborted" in message.text else None

    final = wait_until(aborted, "the plan message says aborted", 20)
    assert stages(final) == {
        1: "verified",
        2: "verified",
        3: "rolled back",
        4: "pending",
        5: "pending",
    }
    assert "install_advance" not in buttons(final) and "install_abort" not in buttons(final)
    thread = " ".join(m.text for m in slack_emulator.thread("C_OPS", ts))
    assert "wave 2: shop" in thread
