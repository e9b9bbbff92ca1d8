"""A replica killed with SIGKILL in the middle of an apply: `meshbot serve --http` (a
subprocess, its write to the Kubernetes test server held by fault injection) is killed
while the write is in flight; a second replica (in this process, same Redis, same Slack)
takes the change over. Whether the write landed or not, the change is applied exactly
once, the thread and `meshbot change ID` say what happened, and Rollback then restores
the object exactly."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.app.config import Settings
from bot.sandbox.kube import KubeTestServer
from bot.sandbox.slack import SignedClient, SlackEmulator
from tests.fixtures.meshbot import RunningBot
from tests.processes import free_port, meshbot_process, wait_http
from tests.reliability.changes_support import (
    PA_PATH,
    SHOP,
    Thread,
    buttons,
    meshbot_says,
    pa,
    writes,
)
from tests.reliability.support import audit_entries


@pytest.mark.parametrize("landed", [True, False], ids=["write-landed", "write-lost"])
def test_a_replica_killed_mid_apply_is_taken_over_and_rolled_back_exactly(
    landed: bool,
    tmp_path: Path,
    kube_server_with_istio: KubeTestServer,
    kubeconfig: Path,
    slack_emulator: SlackEmulator,
    signing_secret: str,
    clean_redis: str,
    configured_settings: Callable[[str], Settings],
    http_bot_factory: Callable[[Settings], RunningBot],
) -> None:
    server = kube_server_with_istio
    server.load_seed(SHOP)
    seeded = pa(server)
    health, port = free_port(), free_port()
    settings = configured_settings(
        f"clusters:\n  prod:\n    kubeconfig: {kubeconfig}\n    context: sandbox\n"
        "changes: {sweep_interval_s: 0.2, apply_lease_s: 3}\n"
        f"health: {{port: {health}}}\n"
    )
    config = tmp_path / "meshbot.yaml"  # what configured_settings wrote
    env = {
        "SLACK_BOT_TOKEN": slack_emulator.bot_token,
        "SLACK_SIGNING_SECRET": signing_secret,
        "SLACK_API_URL": slack_emulator.api_url,
        "REDIS_URL": clean_redis,
    }
    args = ["serve", "--http", "--port", str(port), "--config", str(config)]
    with meshbot_process(args, env, tmp_path) as doomed:
        wait_http(f"http://127.0.0.1:{health}/readyz", ok_only=True)
        with SignedClient(f"http://127.0.0.1:{port}", signing_secret) as front:
            change = Thread(slack_emulator, front)
            # the real write (not the dry run, which carries ?dryRun=All) hangs 2 s, then
            # lands — or is answered 500 and never lands
            held = server.faults.add(
                "PUT", f"{PA_PATH}$", hang=2.0, count=1, status=None if landed else 500
            )
            change.click(front, "change_approve", "U_BOB")
            slack_emulator.wait_for(lambda: held.hits >= 1, 30)  # the write is in flight
            doomed.send_signal(signal.SIGKILL)
            assert doomed.wait(timeout=10) == -signal.SIGKILL
    # the held write goes on after the hang, answering a replica that is gone
    slack_emulator.wait_for(lambda: writes(server, 200 if landed else 500) == 1, 10)
    assert writes(server) == (1 if landed else 0)
    assert pa(server)["spec"]["mtls"]["mode"] == ("PERMISSIVE" if landed else "STRICT")

    stuck = meshbot_says(change.id, config, env)
    assert "state applying" in stuck and "in progress on " in stuck

    survivor = http_bot_factory(settings)  # same Redis, same Slack: its sweep takes over
    change.wait_state("verifying")
    thread = change.wait_thread("Applied: 1 object(s) in place")
    assert "Taken over: " in thread and "stopped while applying (its lease expired)" in thread
    said = "written: PeerAuthentication" if landed else "not written: PeerAuthentication"
    assert said in thread
    assert f"{int(landed)} written before" in thread and f"{int(not landed)} now by" in thread
    assert pa(server)["spec"]["mtls"]["mode"] == "PERMISSIVE"
    assert writes(server) == 1  # applied exactly once, whoever wrote it

    events = [e["event"] for e in audit_entries(survivor.runtime, "prod") if e["result"] == "ok"]
    assert events == ["proposed", "approved", "applying", "taken over", "applied", "verifying"]
    history = survivor.runtime.store.get("changes:index", cluster="prod")
    assert history == [change.id]  # no duplicate change

    told = meshbot_says(change.id, config, env)
    assert "state verifying" in told and "taken over by meshbot" in told

    assert buttons(change.parent()) == {"change_rollback": change.id}
    assert survivor.client is not None
    change.click(survivor.client, "change_rollback", "U_ALICE")
    change.wait_state("rolled back")
    restored = pa(server)
    assert restored["spec"] == seeded["spec"]
    assert restored["metadata"]["labels"] == seeded["metadata"]["labels"]
    assert restored["metadata"].get("annotations") == seeded["metadata"].get("annotations")
