"""The change pipeline runs unchanged on a Redis Cluster (three masters on loopback).

The same end-to-end flow as test_slack.py — signed clicks into the real Bolt app, the
Kubernetes test server — once on plain Redis and once with `REDIS_URL=redis+cluster://`:
every state move of a change is one WATCH/MULTI on one key and the audit stream sits in
the same slot (the cluster name is the hash tag), so twenty concurrent approvals still
apply the change once and the audit keeps its order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.kube import KubeTestServer
from bot.sandbox.slack import SlackEmulator
from tests.fixtures.meshbot import RunningBot
from tests.fixtures.seeds import SHOP_STRICT
from tests.integration.changes.test_slack import (
    PA_PATH,
    Proposed,
    audit,
    mode,
    settings_yaml,
)


@pytest.fixture
def bot(
    http_bot_factory: Callable[..., RunningBot],
    meshbot_settings_factory: Callable[..., Any],
    clean_state_url: str,
    kubeconfig: Path,
    kube_server_with_istio: KubeTestServer,
) -> RunningBot:
    kube_server_with_istio.load_seed(SHOP_STRICT)
    return http_bot_factory(meshbot_settings_factory(clean_state_url, settings_yaml(kubeconfig)))


def test_concurrent_approvals_apply_once_and_rollback_restores(
    bot: RunningBot,
    slack_emulator: SlackEmulator,
    kube_server_with_istio: KubeTestServer,
    clean_state_url: str,
) -> None:
    assert bot.runtime.store.describe().startswith(clean_state_url.split(":")[0])
    change = Proposed(bot, slack_emulator)
    kube_server_with_istio.reset_stats()
    start = threading.Barrier(20)

    def click() -> None:
        body = change.approve_body(slack_emulator.new_response_url("C_OPS", "U_BOB"))
        start.wait()
        assert bot.client is not None
        assert bot.client.post(body, headers={"Connection": "close"}).status_code == 200

    threads = [threading.Thread(target=click) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    change.wait_state("verifying")
    slack_emulator.wait_for(lambda: "Bake window running" in change.thread())
    writes = [
        r
        for r in kube_server_with_istio.requests
        if r.method == "PUT" and r.path.startswith(PA_PATH) and "dryRun" not in r.path
    ]
    assert len(writes) == 1
    assert mode(kube_server_with_istio) == "PERMISSIVE"

    change.click("change_rollback", "U_ALICE")
    change.wait_state("rolled back")
    assert mode(kube_server_with_istio) == "STRICT"
    assert [e[0] for e in audit(bot, change.id)] == [
        "proposed",
        "approved",
        "applying",
        "applied",
        "verifying",
        "rolling back",
        "rolled back",
    ]
