"""`/mesh timeouts` end to end in Slack: the audit posted with its thread, `fix ID`
proposing the suggestion through the change pipeline, approval by another user, apply
to the Kubernetes test server (Istio's CRDs, real schema), Rollback restoring the
VirtualService exactly, and a VirtualService edited after the proposal refused as drift.
Real Redis, real Prometheus over the three-hop scenario, the Slack emulator."""

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
from tests.integration.changes.test_slack import buttons, texts, wait_parent

SEED = Path(__file__).resolve().parents[3] / "bot" / "sandbox" / "seeds" / "timeouts.yaml"
VS = ("networking.istio.io/v1", "virtualservices", "payments", "payments")


@pytest.fixture
def mesh_bot(
    kube_server_with_istio: KubeTestServer,
    kubeconfig: Path,
    prometheus: LivePrometheus,
    configured_http_bot: Callable[[str], RunningBot],
) -> RunningBot:
    kube_server_with_istio.load_seed(SEED)
    extra = f"""
clusters:
  prod:
    kubeconfig: {kubeconfig}
    context: sandbox
    prometheus: {{url: "{prometheus.url}"}}
changes:
  sweep_interval_s: 0.3
  hold_retry_s: 1
timeouts: {{window: 1m, bake_window: 2s, bake_min_requests: 5}}
"""
    prometheus.wait_scraped_for(3)
    return configured_http_bot(extra)


def audit_in_channel(bot: RunningBot, slack: SlackEmulator) -> tuple[Any, str]:
    bot.slash("timeouts audit", user_id="U_VIEWER")
    head = slack.wait_for(
        lambda: next((m for m in slack.messages("C_OPS") if "Timeouts audit" in m.text), None),
        10,
    )
    thread = slack.wait_for(lambda: slack.thread("C_OPS", head.ts) or None, 10)
    return head, "\n".join(texts(m) for m in thread)


def finding_id(summary: str, rule: str) -> str:
    match = re.search(r"`(to-[0-9a-f]{8})` \*" + re.escape(rule) + r"\*", summary)
    assert match, summary
    return match.group(1)


def propose_fix(bot: RunningBot, slack: SlackEmulator, finding: str) -> tuple[str, Any]:
    answer = bot.answer(bot.slash(f"timeouts fix {finding}", user_id="U_ALICE"))
    assert "Proposed chg-" in str(answer["text"]), answer
    message = slack.messages("C_OPS")[-1]
    return buttons(message)["change_approve"], message


def click(
    bot: RunningBot, slack: SlackEmulator, action: str, change: str, user: str, ts: str
) -> str:
    url = slack.new_response_url("C_OPS", user)
    assert bot.client is not None
    bot.client.action(action, change, user_id=user, message_ts=ts, response_url=url)
    return url


@pytest.mark.scenario("timeouts-three-hop")
def test_audit_fix_approve_apply_and_rollback_exactly(
    mesh_bot: RunningBot, slack_emulator: SlackEmulator, kube_server_with_istio: KubeTestServer
) -> None:
    original = kube_server_with_istio.get_object(*VS)
    head, thread = audit_in_channel(mesh_bot, slack_emulator)
    summary = texts(head)
    assert "retry-amplification" in summary and "payments/payments route #0" in summary
    assert "fix:_ payments.payments.svc.cluster.local: timeout=2s retries=2 per-try=500ms" in thread
    assert "istio-system/istio-ingressgateway → frontend.shop → checkout.shop" in thread
    finding = finding_id(summary, "retries-exceed-timeout")

    change, proposal = propose_fix(mesh_bot, slack_emulator, finding)
    assert set(buttons(proposal)) == {"change_approve", "change_reject"}
    assert kube_server_with_istio.get_object(*VS)["spec"] == original["spec"]

    own = click(mesh_bot, slack_emulator, "change_approve", change, "U_ALICE", proposal.ts)
    refusal = slack_emulator.wait_for(lambda: slack_emulator.responses(own), 10)[0]
    assert "needs the approver role" in str(refusal.body)  # the requester cannot approve

    click(mesh_bot, slack_emulator, "change_approve", change, "U_BOB", proposal.ts)
    parent = slack_emulator.wait_for(
        lambda: next(
            (
                p
                for state in ("verifying", "verified")
                if (p := slack_emulator.message("C_OPS", proposal.ts)) is not None
                and f"*{state}*" in texts(p)
            ),
            None,
        ),
        45,
    )
    http = kube_server_with_istio.get_object(*VS)["spec"]["http"][0]
    assert http["timeout"] == "2s"
    assert http["retries"] == {
        "attempts": 2,
        "perTryTimeout": "500ms",
        "retryOn": "5xx,connect-failure",
    }
    assert "change_rollback" in buttons(parent)

    click(mesh_bot, slack_emulator, "change_rollback", change, "U_ALICE", proposal.ts)
    wait_parent(slack_emulator, proposal.ts, "rolled back", timeout=45)
    assert kube_server_with_istio.get_object(*VS)["spec"] == original["spec"]


@pytest.mark.scenario("timeouts-three-hop")
def test_a_virtual_service_edited_after_the_proposal_is_refused_as_drift(
    mesh_bot: RunningBot,
    slack_emulator: SlackEmulator,
    kube_server_with_istio: KubeTestServer,
    kube_api_client: Any,
) -> None:
    from kubernetes import client

    head, _ = audit_in_channel(mesh_bot, slack_emulator)
    change, proposal = propose_fix(
        mesh_bot, slack_emulator, finding_id(texts(head), "retries-exceed-timeout")
    )
    edited = kube_server_with_istio.get_object(*VS)
    edited["spec"]["http"][0]["timeout"] = "7s"  # someone edits it by hand meanwhile
    client.CustomObjectsApi(kube_api_client).replace_namespaced_custom_object(
        "networking.istio.io", "v1", "payments", "virtualservices", "payments", edited
    )
    click(mesh_bot, slack_emulator, "change_approve", change, "U_BOB", proposal.ts)
    parent = wait_parent(slack_emulator, proposal.ts, "failed", timeout=45)
    assert "drift" in texts(parent)
    assert kube_server_with_istio.get_object(*VS)["spec"]["http"][0]["timeout"] == "7s"
