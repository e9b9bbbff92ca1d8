"""Watchers end to end on real parts: Prometheus scraping the metrics simulator, real
Redis, the Kubernetes test server, the Slack emulator and signed clicks into Bolt.

Cycle 1 s, `for` 2 s, rate window 4 s: a breach takes a few seconds to show up. Where a
test says something did NOT happen, it first waits for cycles that would have done it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.sandbox.kube import KubeTestServer
from bot.sandbox.slack import SlackEmulator
from bot.watch.render import ACK, ROLLBACK, SILENCE_1H
from commands.watch.commands import SUMMARY_KEY
from tests.fixtures.meshbot import RunningBot
from tests.fixtures.prometheus import LivePrometheus
from tests.integration.watch.support import (
    CHANNEL,
    WINDOW_S,
    alert_messages,
    cycles_ran,
    text_of,
    top_level,
    wait_until,
    watch_yaml,
    watching,
)

PODS = """
apiVersion: v1
kind: Node
metadata: {name: node-c}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: frontend-1, namespace: shop}
spec:
  nodeName: node-c
  containers: [{name: app, image: shop/frontend}, {name: istio-proxy, image: istio/proxyv2}]
---
apiVersion: v1
kind: Pod
metadata: {name: node-agent, namespace: kube-system}
spec:
  nodeName: node-c
  containers: [{name: agent, image: agent}]
---
apiVersion: v1
kind: Pod
metadata: {name: catalog-1, namespace: shop}
spec:
  nodeName: node-a
  containers: [{name: app, image: shop/catalog}, {name: istio-proxy, image: istio/proxyv2}]
"""


def click(bot: RunningBot, action: str, value: str, user: str, ts: str) -> None:
    assert bot.client is not None
    answer = bot.client.action(action, value, user_id=user, channel_id=CHANNEL, message_ts=ts)
    assert answer.status_code == 200


def button_value(message_text: str, action: str) -> str:
    import json

    _, _, blocks = message_text.partition("\n")
    for block in json.loads(blocks):
        for element in block.get("elements", []):
            if element.get("action_id") == action:
                return str(element["value"])
    raise AssertionError(f"no {action} button")


@pytest.mark.scenario("baseline")
def test_latency_and_steal_alerts_buttons_and_recovery(
    prometheus: LivePrometheus,
    kube_server: KubeTestServer,
    kubeconfig: Path,
    slack_emulator: SlackEmulator,
    configured_http_bot: Callable[[str], RunningBot],
) -> None:
    kube_server.load_seed(PODS)
    bot = configured_http_bot(watch_yaml(prometheus.url, kubeconfig=kubeconfig))
    with watching(bot):
        prometheus.wait_scraped_for(WINDOW_S)
        store = bot.runtime.services.store
        wait_until(lambda: (store.get(SUMMARY_KEY, cluster="prod") or {}).get("evaluated"))
        assert top_level(slack_emulator) == []  # healthy: nothing said
        slack_emulator.rate_limit("chat.postMessage", count=1, retry_after=1)
        prometheus.simulator.inject({"service": "payments", "p99_factor": 4})
        prometheus.simulator.inject({"node": "node-c", "steal": 25})
        payments = wait_until(lambda: alert_messages(slack_emulator, "payments"), what="p99")[0]
        node = wait_until(lambda: alert_messages(slack_emulator, "node node-c"), what="steal")[0]
        assert "threshold 1000 ms" in text_of(payments)
        steal_text = text_of(node)
        assert "shop/frontend-1" in steal_text and "node-agent" not in steal_text
        assert "kubectl cordon node-c" in steal_text and "concurrency" in steal_text
        assert "https://runbooks.example/p99" in text_of(payments)
        assert ROLLBACK not in text_of(payments)  # no meshbot change touched it: no button
        # a chart of the last hour, in the alert's thread
        wait_until(
            lambda: any(f.thread_ts == payments.ts for f in slack_emulator.files()), what="chart"
        )
        chart = next(f for f in slack_emulator.files() if f.thread_ts == payments.ts)
        assert chart.data is not None and chart.data[:8] == b"\x89PNG\r\n\x1a\n"

        # buttons: a viewer is refused, an operator acknowledges and silences
        ack_id = button_value(text_of(payments), ACK)
        click(bot, ACK, ack_id, "U_VIEWER", payments.ts)
        wait_until(lambda: slack_emulator.ephemerals(user="U_VIEWER"), what="denial")
        assert "needs the operator role" in slack_emulator.ephemerals(user="U_VIEWER")[0].text
        click(bot, ACK, ack_id, "U_ALICE", payments.ts)
        wait_until(
            lambda: (
                "Acknowledged by <@U_ALICE>"
                in text_of(slack_emulator.message(CHANNEL, payments.ts))
            ),  # type: ignore[arg-type]
            what="ack edit",
        )
        silence_id = button_value(text_of(node), SILENCE_1H)
        click(bot, SILENCE_1H, silence_id, "U_ALICE", node.ts)
        wait_until(
            lambda: "Silenced by <@U_ALICE>" in text_of(slack_emulator.message(CHANNEL, node.ts)),  # type: ignore[arg-type]
            what="silence edit",
        )
        assert store.ttl(f"silence:{_fp(store, silence_id)}", cluster="prod") is not None
        # the same commands typed: the answer to the typer, the message edited for everyone
        typed = bot.answer(bot.slash(f"alert ack {silence_id}", channel_id=CHANNEL))
        assert typed["response_type"] == "ephemeral"
        assert "Acknowledged the steal alert on node-c" in str(typed["text"])
        wait_until(
            lambda: (
                "Acknowledged by <@U_ALICE>" in text_of(slack_emulator.message(CHANNEL, node.ts))
            ),  # type: ignore[arg-type]
            what="typed ack edit",
        )

        # recovery: the message is edited in place and a short reply goes in the thread
        prometheus.simulator.inject({"service": "payments", "p99_factor": 1})
        wait_until(
            lambda: "Resolved after" in text_of(slack_emulator.message(CHANNEL, payments.ts)),  # type: ignore[arg-type]
            timeout=40,
            what="resolution",
        )
        wait_until(
            lambda: any(
                "Resolved after" in r.text for r in slack_emulator.thread(CHANNEL, payments.ts)
            ),
            what="resolved reply",
        )
        assert len(alert_messages(slack_emulator, "payments")) == 1  # one post, ever
        assert len(alert_messages(slack_emulator, "node node-c")) == 1


def _fp(store, alert_id: str) -> str:  # type: ignore[no-untyped-def]
    return str(store.get(f"alert-ref:{alert_id}")["fingerprint"])


@pytest.mark.scenario("watch-low-traffic")
def test_low_traffic_holds_and_status_says_so(
    prometheus: LivePrometheus,
    slack_emulator: SlackEmulator,
    configured_http_bot: Callable[[str], RunningBot],
) -> None:
    bot = configured_http_bot(watch_yaml(prometheus.url, steal="{enabled: false}"))
    with watching(bot):
        prometheus.wait_scraped_for(WINDOW_S)
        store = bot.runtime.services.store
        summary = wait_until(
            lambda: (s := store.get(SUMMARY_KEY, cluster="prod")) and s.get("holds") and s,
            what="a hold",
        )
        assert any(h.startswith("batch.jobs") and "low traffic" in h for h in summary["holds"])
        status = bot.answer(bot.slash("watch status prod"))
        assert "low traffic" in str(status) and "batch.jobs" in str(status)
        cycles_ran(store, 4)  # twice `for`: a breach would have been posted by now
        assert top_level(slack_emulator) == []  # never an alert on 0.2 req/s


@pytest.mark.scenario("watch-no-data")
def test_no_data_gives_one_blind_notice_then_recovery(
    prometheus: LivePrometheus,
    slack_emulator: SlackEmulator,
    configured_http_bot: Callable[[str], RunningBot],
) -> None:
    bot = configured_http_bot(watch_yaml(prometheus.url))
    with watching(bot):
        notice = wait_until(lambda: alert_messages(slack_emulator, "Watcher blind"), what="blind")[
            0
        ]
        cycles_ran(bot.runtime.services.store, 4)  # still blind all along
        assert len(top_level(slack_emulator)) == 1  # deduplicated, and no alert
        prometheus.simulator.inject({"service": "payments", "no_data": False})
        wait_until(
            lambda: "Recovered after" in text_of(slack_emulator.message(CHANNEL, notice.ts)),  # type: ignore[arg-type]
            what="recovery",
        )
        wait_until(
            lambda: any(
                "Data is back" in r.text for r in slack_emulator.thread(CHANNEL, notice.ts)
            ),
            what="recovery reply",
        )
        assert len(top_level(slack_emulator)) == 1


SHOP = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {mtls: {mode: STRICT}}
"""


def pa_mode(server: KubeTestServer) -> str | None:
    obj = server.get_object("security.istio.io/v1", "peerauthentications", "default", "shop")
    return None if obj is None else obj["spec"]["mtls"]["mode"]


@pytest.mark.scenario("baseline")
def test_rollback_button_runs_the_likely_cause_rollback_through_the_pipeline(
    prometheus: LivePrometheus,
    kube_server_with_istio: KubeTestServer,
    kubeconfig: Path,
    slack_emulator: SlackEmulator,
    configured_http_bot: Callable[[str], RunningBot],
) -> None:
    kube_server_with_istio.load_seed(SHOP)
    extra = watch_yaml(prometheus.url, kubeconfig=kubeconfig, steal="{enabled: false}")
    extra = extra.replace(
        f"kubeconfig: {kubeconfig}", f"kubeconfig: {kubeconfig}\n    context: sandbox"
    )
    bot = configured_http_bot(extra)
    # a meshbot change on namespace shop: proposed by alice, approved by bob, applied
    answer = bot.answer(bot.slash("mtls permissive namespace=shop", user_id="U_ALICE"))
    assert "Proposed chg-" in str(answer["text"]), answer
    proposal = slack_emulator.wait_for(lambda: slack_emulator.messages("C_OPS"))[-1]
    change_id = next(
        e["value"]
        for b in proposal.blocks or []
        if b.get("type") == "actions"
        for e in b["elements"]
        if e["action_id"] == "change_approve"
    )
    assert bot.client is not None
    bot.client.action("change_approve", change_id, user_id="U_BOB", message_ts=proposal.ts)
    wait_until(lambda: pa_mode(kube_server_with_istio) == "PERMISSIVE", what="the change applied")

    with watching(bot):
        prometheus.wait_scraped_for(WINDOW_S)
        prometheus.simulator.inject({"service": "checkout", "p99_factor": 8})
        alert = wait_until(lambda: alert_messages(slack_emulator, "checkout"), what="p99")[0]
        body = text_of(alert)
        assert "Likely cause:" in body and "by <@U_ALICE>" in body and change_id in body
        rollback = next(
            e
            for b in alert.blocks or []
            if b.get("type") == "actions"
            for e in b["elements"]
            if e["action_id"] == ROLLBACK
        )
        assert rollback["confirm"]["confirm"]["text"] == "Roll back"  # Slack asks first
        click(bot, ROLLBACK, rollback["value"], "U_VIEWER", alert.ts)
        wait_until(lambda: slack_emulator.ephemerals(user="U_VIEWER"), what="denial")
        assert pa_mode(kube_server_with_istio) == "PERMISSIVE"
        click(bot, ROLLBACK, rollback["value"], "U_BOB", alert.ts)
        wait_until(lambda: pa_mode(kube_server_with_istio) == "STRICT", what="the rollback")
        reply = wait_until(
            lambda: [
                m for m in slack_emulator.thread(CHANNEL, alert.ts) if "Rollback of" in m.text
            ],
            what="the rollback reply",
        )[0]
        assert f"Rolled back {change_id}" in reply.text and "<@U_BOB>" in reply.text
        edited = slack_emulator.message(CHANNEL, alert.ts)
        assert edited is not None and ROLLBACK not in text_of(edited)  # offered once
