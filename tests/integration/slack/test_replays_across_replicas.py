"""Replays and Slack's retries between two replicas sharing one Redis (bot.slack.replays).

The store is asked after the ack, not before: the replica that sees a request first runs
it; the same signed bytes, or Slack's retry of it, reaching the other replica are acked
there and their work dropped, with one log line. A repeat reaching the same replica is
still refused before Bolt runs (`X-Slack-No-Retry`); see tests/reliability/test_front.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest

from bot.app.config import Settings
from bot.sandbox.slack import SlackEmulator, slash_command_body
from commands.core.model import Text
from commands.core.registry import Args, CommandSpec, Context
from tests.fixtures.meshbot import RunningBot


def _counted(bot: RunningBot, ran: list[str], name: str) -> None:
    def tick(ctx: Context, args: Args) -> Text:
        ran.append(name)
        return Text("ticked")

    bot.runtime.registry.register(CommandSpec("tick", "count a run", tick))


@pytest.fixture
def replicas(
    http_bot_factory: Callable[[Settings], RunningBot], meshbot_settings: Settings
) -> tuple[RunningBot, RunningBot, list[str]]:
    first, second = http_bot_factory(meshbot_settings), http_bot_factory(meshbot_settings)
    ran: list[str] = []
    _counted(first, ran, "first")
    _counted(second, ran, "second")
    return first, second, ran


def _dropped(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "meshbot.front" and "another replica" in r.getMessage()
    ]


def test_the_same_signed_bytes_at_another_replica_are_acked_and_not_run(
    replicas: tuple[RunningBot, RunningBot, list[str]],
    slack_emulator: SlackEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "meshbot.front")
    first, second, ran = replicas
    url = slack_emulator.new_response_url("C_OPS", "U_ALICE")
    body = slash_command_body(text="tick", response_url=url)
    timestamp = int(time.time())
    assert first.client is not None and second.client is not None
    assert first.client.post(body, timestamp=timestamp).status_code == 200
    assert "ticked" in str(first.answer(url))
    replay = second.client.post(body, timestamp=timestamp)
    assert replay.status_code == 200 and "X-Slack-No-Retry" not in replay.headers
    second.settle()
    assert ran == ["first"]
    assert _dropped(caplog) == [
        "dropped a replayed request from 127.0.0.1: these signed bytes already ran on "
        "another replica"
    ]
    assert len(slack_emulator.responses(url)) == 1


def test_slacks_retry_at_another_replica_is_acked_and_not_run(
    replicas: tuple[RunningBot, RunningBot, list[str]],
    slack_emulator: SlackEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "meshbot.front")
    first, second, ran = replicas
    url = slack_emulator.new_response_url("C_OPS", "U_ALICE")
    body = slash_command_body(text="tick", response_url=url)
    assert first.client is not None and second.client is not None
    assert first.client.post(body).status_code == 200
    assert "ticked" in str(first.answer(url))
    retry = second.client.post(
        body,
        timestamp=int(time.time()) + 1,
        **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert retry.status_code == 200
    second.settle()
    assert ran == ["first"]
    assert _dropped(caplog) == ["dropped a repeated /mesh: it already ran on another replica"]


def test_a_new_request_at_each_replica_runs_at_each(
    replicas: tuple[RunningBot, RunningBot, list[str]], slack_emulator: SlackEmulator
) -> None:
    first, second, ran = replicas
    answers = [bot.answer(bot.slash("tick")) for bot in (first, second)]
    assert all("ticked" in str(a) for a in answers)
    assert sorted(ran) == ["first", "second"]
