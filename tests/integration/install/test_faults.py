"""Faults during a staged install, on the real parts: two replicas and double clicks move
a stage once, the API server refusing mid-wave (409, 500) leaves nothing half-done, a
wave whose pods never get Ready fails within its bound and is rolled back, and Redis down
at a click applies nothing and says so."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core.dispatch import run_command
from bot.sandbox.kube import KubeTestServer
from bot.sandbox.slack import SlackEmulator
from commands.changes.model import ChangeState
from commands.changes.pipeline import Pipeline
from commands.core.model import ActionOutcome
from commands.install.model import InstallActed, InstallView
from tests.fixtures.meshbot import RunningBot
from tests.integration.changes.test_slack import buttons
from tests.integration.install.conftest import (
    ALICE,
    BOB,
    advance,
    bot_config,
    helm_of,
    helm_revisions,
    kubectl_json,
    plan_with_control_plane,
    proxy_tags,
    state_of,
    wait_until,
)
from tests.reliability.test_redis_restart import PrivateRedis

pytestmark = pytest.mark.helm
Cluster = tuple[KubeTestServer, Path]


def labels(kubeconfig: Path, tmp: Path, ns: str) -> dict[str, str]:
    return dict(kubectl_json(kubeconfig, tmp, "get", "namespace", ns)["metadata"]["labels"])


def audit_events(bot: RunningBot, change_id: str) -> list[str]:
    entries = bot.runtime.store.read_audit("prod", count=1000)
    return [e.fields["event"] for e in entries if e.fields.get("change") == change_id]


def test_two_replicas_and_double_clicks_move_a_stage_once(
    istio_cluster: Cluster,
    install_bot: Callable[..., RunningBot],
    slack_emulator: SlackEmulator,
    tmp_path: Path,
) -> None:
    _, kubeconfig = istio_cluster
    one = install_bot(bot_config(kubeconfig))
    two = install_bot(bot_config(kubeconfig))
    one.answer(one.slash("install plan version=1.30.3 waves=quiet/shop"))
    plan_msg = slack_emulator.wait_for(
        lambda: next((m for m in slack_emulator.messages("C_OPS") if "→ 1.30.3" in m.text), None),
        10,
    )
    plan_id = buttons(plan_msg)["install_start"]

    def at_once(*clicks: Callable[[], object]) -> None:
        threads = [threading.Thread(target=c) for c in clicks]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)

    def click(bot: RunningBot, action: str, value: str, user: str) -> Callable[[], object]:
        assert bot.client is not None
        client = bot.client
        url = slack_emulator.new_response_url("C_OPS", user)
        return lambda: client.action(
            action, value, user_id=user, message_ts=plan_msg.ts, response_url=url
        )

    at_once(*(click(b, "install_start", plan_id, "U_ALICE") for b in (one, two, one, two)))
    one.settle()
    two.settle()
    proposed = Pipeline(one.runtime.services).active("prod")
    assert len(proposed) == 1, [c.id for c in proposed]
    change_id = proposed[0].id
    at_once(*(click(b, "change_approve", change_id, "U_BOB") for b in (one, two, one, two)))
    wait_until(lambda: state_of(one, change_id) is ChangeState.VERIFIED, "verified", 120)
    assert helm_revisions(kubeconfig, tmp_path, "istiod-1-30-3") == ["1"]  # one install
    events = audit_events(one, change_id)
    assert events.count("applied") == 1 and events.count("approved") == 1, events


@pytest.mark.parametrize("status", [409, 500])
def test_the_api_refusing_mid_wave_undoes_what_the_wave_wrote(
    istio_cluster: Cluster,
    install_bot: Callable[..., RunningBot],
    tmp_path: Path,
    status: int,
) -> None:
    server, kubeconfig = istio_cluster
    bot = install_bot(bot_config(kubeconfig))
    plan_id = plan_with_control_plane(bot, "quiet,shop")
    before = {ns: labels(kubeconfig, tmp_path, ns) for ns in ("quiet", "shop")}
    wave = advance(bot, plan_id)
    server.faults.add("PUT", r"/apis/apps/v1/namespaces/shop/deployments/cart$", status=status)
    acted = Pipeline(bot.runtime.services).approve(wave, BOB)
    server.faults.clear()
    assert "applying it failed" in acted.message and str(status) in acted.message, acted.message
    assert state_of(bot, wave) is ChangeState.FAILED
    assert {ns: labels(kubeconfig, tmp_path, ns) for ns in ("quiet", "shop")} == before
    wait_until(
        lambda: proxy_tags(kubeconfig, tmp_path, "quiet") == ["1.29.6", "1.29.6"],
        "quiet's pods on 1.29.6 again",
    )
    assert proxy_tags(kubeconfig, tmp_path, "shop") == ["1.29.6", "1.29.6"]


def test_a_wave_whose_pods_never_get_ready_fails_and_its_rollback_restores_it(
    istio_cluster: Cluster,
    install_bot: Callable[..., RunningBot],
    tmp_path: Path,
) -> None:
    server, kubeconfig = istio_cluster
    bot = install_bot(bot_config(kubeconfig, install="  rollout_wait_s: 3"))
    plan_id = plan_with_control_plane(bot)
    before = labels(kubeconfig, tmp_path, "quiet")
    wave = advance(bot, plan_id)
    server.faults.add_pods_never_ready(namespace="quiet", image_regex="proxyv2:1.30")
    Pipeline(bot.runtime.services).approve(wave, BOB)
    wait_until(lambda: state_of(bot, wave) is ChangeState.FAILED, "the wave failed", 60)
    change = Pipeline(bot.runtime.services).find(wave)
    assert change is not None and change.reason.startswith("rollout failed: "), change.reason
    assert "bake window" not in change.reason
    assert re.search(r"on the new proxy not Ready after [\d.]+ s: quiet/ledger-", change.reason)
    server.faults.clear()
    rolled = Pipeline(bot.runtime.services).rollback(wave, ALICE, "pods never ready")
    assert rolled.outcome is ActionOutcome.DONE, rolled.message
    assert labels(kubeconfig, tmp_path, "quiet") == before
    wait_until(
        lambda: proxy_tags(kubeconfig, tmp_path, "quiet") == ["1.29.6", "1.29.6"],
        "quiet back on 1.29.6",
    )


def test_redis_down_at_a_click_applies_nothing_and_says_so(
    istio_cluster: Cluster,
    tmp_path: Path,
    slack_emulator: SlackEmulator,
    install_bot: Callable[..., RunningBot],
) -> None:
    _, kubeconfig = istio_cluster
    folder = tmp_path / "redis"
    folder.mkdir()
    redis = PrivateRedis(folder).start()
    try:
        bot = install_bot(bot_config(kubeconfig), redis.url)
        assert bot.client is not None
        bot.answer(bot.slash("install plan version=1.30.3"))
        plan_msg = slack_emulator.wait_for(
            lambda: next(
                (m for m in slack_emulator.messages("C_OPS") if "→ 1.30.3" in m.text), None
            ),
            10,
        )
        plan_id = buttons(plan_msg)["install_start"]
        url = slack_emulator.new_response_url("C_OPS", "U_ALICE")
        bot.client.action("install_start", plan_id, message_ts=plan_msg.ts, response_url=url)
        change_id = wait_until(
            lambda: buttons(slack_emulator.message("C_OPS", plan_msg.ts)).get("change_approve"),
            "the control plane proposed",
        )
        redis.kill()
        url = slack_emulator.new_response_url("C_OPS", "U_BOB")
        bot.client.action(
            "change_approve", change_id, user_id="U_BOB", message_ts=plan_msg.ts, response_url=url
        )
        told = str(bot.answer(url, timeout=30)["text"])
        assert "Redis is unreachable" in told, told
        assert helm_of(bot).release("istio-system", "istiod-1-30-3") is None
        assert helm_revisions(kubeconfig, tmp_path, "istiod-1-30-3") == []
        redis.start()
        url = slack_emulator.new_response_url("C_OPS", "U_BOB")
        bot.client.action(
            "change_approve", change_id, user_id="U_BOB", message_ts=plan_msg.ts, response_url=url
        )
        wait_until(lambda: state_of(bot, change_id) is ChangeState.VERIFIED, "verified", 120)
        assert helm_revisions(kubeconfig, tmp_path, "istiod-1-30-3") == ["1"]
    finally:
        redis.stop()


def test_helm_failing_mid_install_fails_the_stage_and_leaves_nothing_of_it(
    istio_cluster: Cluster,
    install_bot: Callable[..., RunningBot],
    tmp_path: Path,
) -> None:
    server, kubeconfig = istio_cluster
    bot = install_bot(bot_config(kubeconfig))
    planned = run_command(bot.runtime, "install plan version=1.30.3", ALICE)
    assert isinstance(planned, InstallView), planned
    started = run_command(bot.runtime, f"install start {planned.plan.id}", ALICE)
    assert isinstance(started, InstallActed) and started.view is not None
    change = started.view.stages[0].change
    assert change is not None
    # the API server refuses istiod's Deployment: Helm has created other objects by then
    refused = server.faults.add(
        "POST", r"/apis/apps/v1/namespaces/istio-system/deployments(\?|$)", status=500
    )
    acted = Pipeline(bot.runtime.services).approve(change.id, BOB)
    server.faults.clear()
    assert refused.hits >= 1
    assert "injected fault: 500" in acted.message and "uninstalled" in acted.message, acted.message
    assert state_of(bot, change.id) is ChangeState.FAILED
    assert helm_of(bot).release("istio-system", "istiod-1-30-3") is None
    assert helm_revisions(kubeconfig, tmp_path, "istiod-1-30-3") == []
    hooks = kubectl_json(kubeconfig, tmp_path, "get", "mutatingwebhookconfigurations")
    assert "istio-sidecar-injector-1-30-3" not in {h["metadata"]["name"] for h in hooks["items"]}
    maps = kubectl_json(kubeconfig, tmp_path, "get", "configmaps", "-n", "istio-system")
    assert not [m for m in maps["items"] if m["metadata"]["name"].endswith("1-30-3")]


def test_an_api_server_that_hangs_mid_wave_fails_the_wave_and_undoes_it(
    istio_cluster: Cluster,
    install_bot: Callable[..., RunningBot],
    tmp_path: Path,
) -> None:
    server, kubeconfig = istio_cluster
    # 3 s, not 1: the preflight gate before the control plane reads through the same
    # timeout, and on a loaded CI machine a 1 s read of it can time out too.
    config = bot_config(kubeconfig).replace(
        "    context: sandbox", "    context: sandbox\n    request_timeout_s: 3"
    )
    bot = install_bot(config)
    plan_id = plan_with_control_plane(bot, "quiet,shop")
    before = {ns: labels(kubeconfig, tmp_path, ns) for ns in ("quiet", "shop")}
    wave = advance(bot, plan_id)
    server.faults.add("PUT", r"/apis/apps/v1/namespaces/shop/deployments/cart$", hang=8)
    acted = Pipeline(bot.runtime.services).approve(wave, BOB)
    server.faults.clear()
    assert "timed out after 3 s" in acted.message, acted.message
    assert (
        "Undo: restored Namespace shop, Namespace quiet, Deployment quiet/ledger" in acted.message
    )
    assert state_of(bot, wave) is ChangeState.FAILED
    assert {ns: labels(kubeconfig, tmp_path, ns) for ns in ("quiet", "shop")} == before
