"""PERMISSIVE → STRICT driven by live traffic: real Prometheus scraping the simulator
(scenario mtls-shop), the Kubernetes test server with Istio's CRDs, real Redis, and
the Slack emulator. Windows are seconds instead of an hour so the test runs in ~30 s."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.kube import KubeTestServer
from bot.sandbox.slack import SlackEmulator
from tests.fixtures.meshbot import RunningBot
from tests.fixtures.prometheus import LivePrometheus
from tests.integration.changes.test_slack import buttons, texts, wait_parent

SHOP = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}
"""
POD = """
---
apiVersion: v1
kind: Pod
metadata: {{name: {name}-1, namespace: shop, labels: {{app: {name}}}}}
spec:
  containers:
  - {{name: {name}, image: {name}:1}}
  - {{name: istio-proxy, image: proxyv2:1.30.0}}
status: {{phase: Running}}
"""


@pytest.fixture
def mesh_bot(
    kube_server_with_istio: KubeTestServer,
    kubeconfig: Path,
    prometheus: LivePrometheus,
    configured_http_bot: Callable[[str], RunningBot],
) -> RunningBot:
    kube_server_with_istio.load_seed(
        SHOP + "".join(POD.format(name=n) for n in ("orders", "web", "legacy-batch"))
    )
    extra = f"""
clusters:
  prod:
    kubeconfig: {kubeconfig}
    context: sandbox
    prometheus: {{url: "{prometheus.url}"}}
changes:
  sweep_interval_s: 0.3
  hold_retry_s: 1
  verify_lease_s: 3
  mtls: {{readiness_window_s: 6, min_requests: 50, bake_window_s: 5, bake_min_requests: 20}}
"""
    # readiness (6 s) and the bake baseline (5 s) need data covering their whole windows
    prometheus.wait_scraped_for(10)
    return configured_http_bot(extra)


def strict_mode(server: KubeTestServer) -> str | None:
    obj = server.get_object("security.istio.io/v1", "peerauthentications", "default", "shop")
    return None if obj is None else obj["spec"]["mtls"]["mode"]


def status_text(bot: RunningBot) -> str:
    return str(bot.answer(bot.slash("mtls status namespace=shop"))["blocks"])


def propose_strict(bot: RunningBot, slack: SlackEmulator) -> tuple[str, Any]:
    answer = bot.answer(bot.slash("mtls strict namespace=shop"))
    assert "Proposed chg-" in str(answer["text"]), answer
    message = slack.messages("C_OPS")[-1]
    change_id = next(
        e["value"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]
    )
    return change_id, message


@pytest.mark.scenario("mtls-shop")
def test_plaintext_drops_to_zero_then_strict_bakes_breaches_and_rolls_back(
    mesh_bot: RunningBot,
    prometheus: LivePrometheus,
    slack_emulator: SlackEmulator,
    kube_server_with_istio: KubeTestServer,
) -> None:
    before = status_text(mesh_bot)
    assert "not ready" in before and "shop/legacy-batch → shop/orders" in before

    prometheus.simulator.inject({"service": "orders", "caller": "legacy-batch", "plaintext": 0})
    deadline = time.monotonic() + 25
    while "ready for STRICT" not in (now := status_text(mesh_bot)):
        assert time.monotonic() < deadline, now
        time.sleep(1)
    assert "no plaintext among" in now

    change_id, message = propose_strict(mesh_bot, slack_emulator)
    assert set(buttons(message)) == {"change_approve", "change_reject"}
    assert ":white_check_mark: *plaintext*" in texts(message)

    url = slack_emulator.new_response_url("C_OPS", "U_BOB")
    assert mesh_bot.client is not None
    mesh_bot.client.action(
        "change_approve", change_id, user_id="U_BOB", message_ts=message.ts, response_url=url
    )
    wait_parent(slack_emulator, message.ts, "verifying", timeout=10)
    assert strict_mode(kube_server_with_istio) == "STRICT"
    prometheus.simulator.inject({"service": "orders", "error_ratio": 0.3})

    parent = wait_parent(slack_emulator, message.ts, "failed")
    assert "bake window breach" in texts(parent) and "shop/orders: 5xx" in texts(parent)
    alert = slack_emulator.wait_for(
        lambda: next(
            (m for m in slack_emulator.thread("C_OPS", message.ts) if "window breach" in m.text),
            None,
        )
    )
    assert buttons(alert) == {"change_rollback": change_id}

    mesh_bot.client.action(
        "change_rollback",
        change_id,
        user_id="U_ALICE",
        message_ts=alert.ts,
        thread_ts=message.ts,
        response_url=slack_emulator.new_response_url("C_OPS", "U_ALICE"),
    )
    wait_parent(slack_emulator, message.ts, "rolled back", timeout=10)
    assert strict_mode(kube_server_with_istio) is None  # the policy it created is gone again


@pytest.mark.scenario("mtls-shop")
def test_an_override_is_recorded_and_a_quiet_bake_window_verifies(
    mesh_bot: RunningBot,
    slack_emulator: SlackEmulator,
    kube_server_with_istio: KubeTestServer,
) -> None:
    change_id, message = propose_strict(mesh_bot, slack_emulator)
    assert set(buttons(message)) == {"change_reject"}  # the plaintext gate blocks it
    assert "Blocked by gates" in texts(message)

    answer = mesh_bot.answer(
        mesh_bot.slash(f'change approve {change_id} override="legacy-batch is retired"', "U_BOB")
    )
    assert "Approved and applied" in str(answer["text"])
    parent = wait_parent(slack_emulator, message.ts, "verified")
    assert "gates overridden by <@U_BOB>: legacy-batch is retired" in texts(parent)
    assert strict_mode(kube_server_with_istio) == "STRICT"
    audit = mesh_bot.runtime.store.read_audit("prod", count=100)
    approved = next(e for e in audit if e.fields["event"] == "approved")
    assert "overrode failed gates: legacy-batch is retired" in approved.fields["detail"]
    assert [e.fields["event"] for e in audit if e.fields["change"] == change_id][-1] == "verified"
