"""The change pipeline end to end: signed Slack clicks into the real Bolt app, real Redis,
the Kubernetes test server serving Istio's CRDs, the Slack emulator recording what people
see. These use `mtls permissive` (a change with no traffic gates) so no Prometheus is
needed; tests/integration/test_mtls_flow.py runs STRICT over real Prometheus."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.embedded_redis import EmbeddedRedis
from bot.sandbox.kube import KubeTestServer
from bot.sandbox.slack import SlackEmulator, block_actions_body
from tests.fixtures.meshbot import RunningBot
from tests.fixtures.seeds import SHOP_STRICT

PA_PATH = "/apis/security.istio.io/v1/namespaces/shop/peerauthentications/default"


def settings_yaml(kubeconfig: Path, extra: str = "") -> str:
    return f"""
clusters:
  prod:
    kubeconfig: {kubeconfig}
    context: sandbox
changes:
  sweep_interval_s: 0.2
{extra}
"""


@pytest.fixture
def shop_server(kube_server_with_istio: KubeTestServer) -> KubeTestServer:
    kube_server_with_istio.load_seed(SHOP_STRICT)
    return kube_server_with_istio


@pytest.fixture
def bot_factory(
    http_bot_factory: Callable[..., RunningBot],
    meshbot_settings_factory: Callable[..., Any],
    clean_redis: str,
    kubeconfig: Path,
    shop_server: KubeTestServer,
) -> Callable[..., RunningBot]:
    def start(extra: str = "", redis_url: str | None = None) -> RunningBot:
        settings = meshbot_settings_factory(
            redis_url or clean_redis, settings_yaml(kubeconfig, extra)
        )
        return http_bot_factory(settings)

    return start


@pytest.fixture
def bot(bot_factory: Callable[..., RunningBot]) -> RunningBot:
    return bot_factory()


def mode(server: KubeTestServer) -> str | None:
    obj = server.get_object("security.istio.io/v1", "peerauthentications", "default", "shop")
    return None if obj is None else obj["spec"]["mtls"]["mode"]


def buttons(message: Any) -> dict[str, str]:
    found = {}
    for block in message.blocks or []:
        if block.get("type") == "actions":
            for element in block["elements"]:
                found[element["action_id"]] = element["value"]
    return found


def texts(message: Any) -> str:
    return "\n".join(
        b["text"]["text"] for b in message.blocks or [] if b.get("type") in ("section", "header")
    )


def wait_parent(slack: SlackEmulator, ts: str, state: str, timeout: float = 25.0) -> Any:
    """The channel message at `ts` once it shows `state`; on timeout, what it showed."""

    def probe() -> Any:
        parent = slack.message("C_OPS", ts)
        return parent if parent is not None and f"*{state}*" in texts(parent) else None

    try:
        return slack.wait_for(probe, timeout)
    except TimeoutError as exc:
        parent = slack.message("C_OPS", ts)
        thread = [m.text for m in slack.thread("C_OPS", ts)]
        raise AssertionError(f"not {state}: {texts(parent) if parent else None}; {thread}") from exc


class Proposed:
    def __init__(self, bot: RunningBot, slack: SlackEmulator, user: str = "U_ALICE") -> None:
        url = bot.slash("mtls permissive namespace=shop", user_id=user)
        answer = bot.answer(url)
        assert "Proposed chg-" in str(answer["text"]), answer
        self.message = slack.wait_for(lambda: slack.messages("C_OPS"))[-1]
        self.id = buttons(self.message)["change_approve"]
        self.ts = self.message.ts
        self.bot = bot
        self.slack = slack

    def click(self, action: str, user: str, **extra: Any) -> str:
        assert self.bot.client is not None
        url = self.slack.new_response_url("C_OPS", user)
        answer = self.bot.client.action(
            action, self.id, user_id=user, message_ts=self.ts, response_url=url, **extra
        )
        assert answer.status_code == 200
        return url

    def approve_body(self, response_url: str) -> bytes:
        """The body of U_BOB's `change_approve` click on this proposal, to post as is."""
        return block_actions_body(
            "change_approve",
            self.id,
            user_id="U_BOB",
            channel_id="C_OPS",
            message_ts=self.ts,
            response_url=response_url,
        )

    def parent(self) -> Any:
        return self.slack.message("C_OPS", self.ts)

    def wait_state(self, state: str, timeout: float = 8.0) -> Any:
        def probe() -> Any:
            parent = self.parent()
            return parent if f"*{state}*" in texts(parent) else None

        return self.slack.wait_for(probe, timeout)

    def thread(self) -> str:
        return "\n".join(m.text for m in self.slack.thread("C_OPS", self.ts))

    def ephemeral(self, url: str) -> str:
        return str(self.bot.answer(url)["text"])


def audit(bot: RunningBot, change_id: str) -> list[tuple[str, str, str]]:
    entries = bot.runtime.store.read_audit("prod", count=1000)
    return [
        (e.fields["event"], e.fields["actor"], e.fields["result"])
        for e in entries
        if e.fields.get("change") == change_id
    ]


def test_propose_approve_apply_and_roll_back_in_slack(
    bot: RunningBot, slack_emulator: SlackEmulator, shop_server: KubeTestServer
) -> None:
    before = shop_server.get_object(
        "security.istio.io/v1", "peerauthentications", "default", "shop"
    )
    change = Proposed(bot, slack_emulator)
    assert "update PeerAuthentication shop/default" in texts(change.message)
    assert "~ spec.mtls.mode: STRICT → PERMISSIVE" in texts(change.message)
    assert set(buttons(change.message)) == {"change_approve", "change_reject"}
    assert mode(shop_server) == "STRICT"

    change.click("change_approve", "U_BOB")
    parent = change.wait_state("verifying")
    assert mode(shop_server) == "PERMISSIVE"
    assert parent.edited and buttons(parent) == {"change_rollback": change.id}
    rollback = next(e for b in parent.blocks if b["type"] == "actions" for e in b["elements"])
    assert rollback["confirm"]["confirm"]["text"] == "Roll back"
    slack_emulator.wait_for(lambda: "Bake window running" in change.thread())
    assert "<@U_BOB> approved (1 of 1)" in change.thread()
    assert "Applied: 1 object(s) written" in change.thread()
    # no new top-level message per step: the proposal is edited in place
    assert len(slack_emulator.messages("C_OPS")) == 1

    change.click("change_rollback", "U_ALICE")
    change.wait_state("rolled back")
    after = shop_server.get_object("security.istio.io/v1", "peerauthentications", "default", "shop")
    assert after is not None and before is not None
    assert after["spec"] == before["spec"]
    assert after["metadata"]["labels"] == before["metadata"]["labels"]
    assert [e[0] for e in audit(bot, change.id)] == [
        "proposed",
        "approved",
        "applying",
        "applied",
        "verifying",
        "rolling back",
        "rolled back",
    ]
    assert ("approved", "U_BOB", "ok") in audit(bot, change.id)

    view = bot.answer(bot.slash(f"change {change.id}"))
    assert "*Timeline*" in str(view["blocks"]) and "rolled back" in str(view["blocks"])
    history = bot.answer(bot.slash("history cluster=prod limit=5"))
    assert change.id in str(history["blocks"])


def test_rejection_applies_nothing_and_is_recorded_in_the_thread(
    bot: RunningBot, slack_emulator: SlackEmulator, shop_server: KubeTestServer
) -> None:
    change = Proposed(bot, slack_emulator)
    change.click("change_reject", "U_BOB")
    parent = change.wait_state("rejected")
    assert buttons(parent) == {}
    slack_emulator.wait_for(lambda: "<@U_BOB> rejected it" in change.thread())
    late = change.click("change_approve", "U_BOB")
    assert "already rejected" in change.ephemeral(late)
    assert mode(shop_server) == "STRICT"


def test_self_approval_and_non_approvers_are_refused_server_side(
    bot: RunningBot, slack_emulator: SlackEmulator, shop_server: KubeTestServer
) -> None:
    own = Proposed(bot, slack_emulator, user="U_BOB")
    assert "you proposed" in own.ephemeral(own.click("change_approve", "U_BOB"))
    operator = own.click("change_approve", "U_ALICE")
    assert "needs the approver role; you have operator" in own.ephemeral(operator)
    stranger = own.click("change_approve", "U_STRANGER")
    assert "you have no role" in own.ephemeral(stranger)
    assert mode(shop_server) == "STRICT"
    assert own.parent().edited is False
    refused = [e for e in audit(bot, own.id) if e[2] == "refused"]
    assert refused == [  # by the pipeline, then by role before it (bot.core refusals)
        ("approve", "U_BOB", "refused"),
        ("change approve", "U_ALICE", "refused"),
        ("change approve", "U_STRANGER", "refused"),
    ]


def test_twenty_concurrent_approve_clicks_apply_once(
    bot: RunningBot, slack_emulator: SlackEmulator, shop_server: KubeTestServer
) -> None:
    change = Proposed(bot, slack_emulator)
    shop_server.reset_stats()
    start = threading.Barrier(20)

    def click() -> None:
        body = change.approve_body(slack_emulator.new_response_url("C_OPS", "U_BOB"))
        start.wait()
        assert bot.client is not None
        # one connection per click, closed after it: 20 idle keep-alives would
        # outlive the test and trip waitress at teardown
        answer = bot.client.post(body, headers={"Connection": "close"})
        assert answer.status_code == 200

    threads = [threading.Thread(target=click) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    change.wait_state("verifying")
    bot.settle()  # every click has been handled
    writes = [r for r in shop_server.requests if r.method == "PUT" and r.path.startswith(PA_PATH)]
    real_writes = [r for r in writes if "dryRun" not in r.path]
    assert len(real_writes) == 1
    assert [e[0] for e in audit(bot, change.id)].count("applied") == 1
    assert change.thread().count("approved (1 of 1)") == 1


def test_the_same_click_delivered_twice_is_a_noop(
    bot: RunningBot,
    slack_emulator: SlackEmulator,
    signing_secret: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", "meshbot.front")
    change = Proposed(bot, slack_emulator)
    url = slack_emulator.new_response_url("C_OPS", "U_BOB")
    body = change.approve_body(url)
    assert bot.client is not None
    assert bot.client.post(body).status_code == 200
    change.wait_state("verifying")
    # Slack's retry: the same payload, a new timestamp and signature
    retry = bot.client.post(
        body,
        timestamp=int(time.time()) + 1,
        **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert retry.status_code == 200 and retry.headers["X-Slack-No-Retry"] == "1"
    assert any("dropped a repeated block_actions" in r.message for r in caplog.records)
    assert slack_emulator.responses(url) == []  # acked, not run: nothing to answer
    assert [e[0] for e in audit(bot, change.id)].count("approved") == 1


def test_an_approval_after_expiry_is_refused_and_says_expired(
    bot_factory: Callable[..., RunningBot],
    slack_emulator: SlackEmulator,
    shop_server: KubeTestServer,
) -> None:
    bot = bot_factory("  default_policy: {expiry_minutes: 0.02}")
    change = Proposed(bot, slack_emulator)
    change.wait_state("expired", timeout=10)  # the sweep edits the message
    assert buttons(change.parent()) == {}
    late = change.click("change_approve", "U_BOB")
    assert "expired" in change.ephemeral(late)
    assert mode(shop_server) == "STRICT"


def test_drift_is_refused_at_apply_and_says_what_changed(
    bot: RunningBot,
    slack_emulator: SlackEmulator,
    shop_server: KubeTestServer,
    kube_api_client: Any,
) -> None:
    from kubernetes import client

    change = Proposed(bot, slack_emulator)
    client.CustomObjectsApi(kube_api_client).patch_namespaced_custom_object(
        "security.istio.io",
        "v1",
        "shop",
        "peerauthentications",
        "default",
        {"spec": {"mtls": {"mode": "DISABLE"}}},
    )
    change.click("change_approve", "U_BOB")
    parent = change.wait_state("failed")
    assert "refused as drift" in texts(parent)
    assert "~ spec.mtls.mode: STRICT → DISABLE" in texts(parent)
    assert mode(shop_server) == "DISABLE"
    assert buttons(parent) == {}  # nothing written, nothing to roll back


@pytest.mark.parametrize("status", [409, 500])
def test_an_api_error_at_apply_fails_with_the_reason_and_writes_nothing(
    bot: RunningBot, slack_emulator: SlackEmulator, shop_server: KubeTestServer, status: int
) -> None:
    change = Proposed(bot, slack_emulator)
    shop_server.faults.add("PUT", r"peerauthentications/default$", status=status, count=1)
    change.click("change_approve", "U_BOB")
    parent = change.wait_state("failed")
    assert f"{status}" in texts(
        parent
    ) and "writing PeerAuthentication shop/default failed" in texts(parent)
    assert mode(shop_server) == "STRICT"


def test_the_approval_still_works_after_a_restart(
    bot_factory: Callable[..., RunningBot],
    slack_emulator: SlackEmulator,
    shop_server: KubeTestServer,
) -> None:
    first = bot_factory()
    change = Proposed(first, slack_emulator)
    first.runtime.close()
    second = bot_factory()
    change.bot = second
    change.click("change_approve", "U_BOB")
    change.wait_state("verifying")
    assert mode(shop_server) == "PERMISSIVE"


def test_redis_unreachable_at_a_click_tells_the_user_and_applies_nothing(
    bot_factory: Callable[..., RunningBot],
    slack_emulator: SlackEmulator,
    shop_server: KubeTestServer,
    tmp_path: Path,
) -> None:
    redis = EmbeddedRedis(tmp_path / "redis")
    url = redis.start()
    try:
        bot = bot_factory(redis_url=url)
        change = Proposed(bot, slack_emulator)
    finally:
        redis.stop()
    answer = change.ephemeral(change.click("change_approve", "U_BOB"))
    assert "Redis is unreachable" in answer
    assert mode(shop_server) == "STRICT"
