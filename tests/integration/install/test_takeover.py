"""A replica killed with SIGKILL in the middle of a wave: `meshbot serve --http` (a
subprocess) applies the wave until one Deployment's write is held by the test server,
and is killed there; the replica left (in this process, same Redis) takes the wave over
once the dead one's work lease expires and finishes it: every namespace relabelled,
every workload restarted onto the new proxy, the change baking — never stuck."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.sandbox.kube import KubeTestServer
from bot.sandbox.slack import SignedClient, SlackEmulator
from commands.changes.model import ChangeState
from commands.changes.pipeline import Pipeline
from tests.fixtures.meshbot import RunningBot
from tests.integration.install.conftest import (
    advance,
    bot_config,
    kubectl_json,
    plan_with_control_plane,
    proxy_tags,
    state_of,
    wait_until,
)
from tests.processes import free_port, meshbot_process, wait_http

pytestmark = pytest.mark.helm
HELD = r"/apis/apps/v1/namespaces/shop/deployments/cart$"


def test_a_replica_killed_mid_wave_is_finished_by_the_other(
    istio_cluster: tuple[KubeTestServer, Path],
    install_bot: Callable[..., RunningBot],
    slack_emulator: SlackEmulator,
    signing_secret: str,
    clean_redis: str,
    tmp_path: Path,
) -> None:
    server, kubeconfig = istio_cluster
    health, port = free_port(), free_port()
    survivor = install_bot(bot_config(kubeconfig) + f"health: {{port: {health}}}\n")
    config = tmp_path / "meshbot.yaml"  # what the survivor's settings were written to
    plan_id = plan_with_control_plane(survivor, "quiet,shop")
    wave = advance(survivor, plan_id)
    env = {
        "SLACK_BOT_TOKEN": slack_emulator.bot_token,
        "SLACK_SIGNING_SECRET": signing_secret,
        "SLACK_API_URL": slack_emulator.api_url,
        "REDIS_URL": clean_redis,
    }
    args = ["serve", "--http", "--port", str(port), "--config", str(config)]
    with meshbot_process(args, env, tmp_path) as doomed:
        wait_http(f"http://127.0.0.1:{health}/readyz", ok_only=True)
        held = server.faults.add("PUT", HELD, hang=3.0, count=1)
        with SignedClient(f"http://127.0.0.1:{port}", signing_secret) as front:
            url = slack_emulator.new_response_url("C_OPS", "U_BOB")
            front.action("change_approve", wave, user_id="U_BOB", response_url=url)
            wait_until(lambda: held.hits >= 1, "the doomed replica's write in flight", 60)
            doomed.send_signal(signal.SIGKILL)
            assert doomed.wait(timeout=10) == -signal.SIGKILL
    assert state_of(survivor, wave) is ChangeState.APPLYING  # stuck, for now

    wait_until(lambda: state_of(survivor, wave) is ChangeState.VERIFYING, "taken over", 60)
    change = Pipeline(survivor.runtime.services).find(wave)
    assert change is not None and "taken over" in [e.event for e in change.timeline]
    for ns in ("quiet", "shop"):
        labels = kubectl_json(kubeconfig, tmp_path, "get", "namespace", ns)["metadata"]["labels"]
        assert labels.get("istio.io/rev") == "1-30-3" and "istio-injection" not in labels
        wait_until(
            lambda ns=ns: proxy_tags(kubeconfig, tmp_path, ns) == ["1.30.3", "1.30.3"],
            f"{ns} on 1.30.3",
        )
