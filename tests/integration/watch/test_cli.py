"""The alert commands from the command line: the same registry commands the buttons
dispatch, on real Redis, answered in the terminal (exit 1 when refused). The CLI runs
in this process (`meshbot` as a subprocess is covered by tests/integration/app)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.adapters.redis_store import RedisStore
from bot.app.cli_local import run as local_command
from commands.watch.alerts import Alert, AlertState, Effect, fire, new_alert
from commands.watch.store import AlertStore
from tests.processes import CLEARED_PREFIXES


@dataclass(frozen=True)
class Answer:
    returncode: int
    stdout: str
    stderr: str


Run = Callable[..., Answer]


@pytest.fixture
def alerts(clean_redis: str, key_prefix: str) -> AlertStore:
    store = RedisStore.from_url(clean_redis, prefix=key_prefix)
    return AlertStore(store)


@pytest.fixture
def cli(
    tmp_path: Path,
    key_prefix: str,
    clean_redis: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Run:
    config = tmp_path / "meshbot.yaml"
    config.write_text(f"redis: {{key_prefix: {key_prefix}}}\n")
    for name in list(os.environ):
        if name.startswith(CLEARED_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("REDIS_URL", clean_redis)

    def run(*args: str) -> Answer:
        code = local_command([*args, "--config", str(config)])
        out, err = capsys.readouterr()
        return Answer(code, out, err)

    return run


def posted_alert(alerts: AlertStore) -> Alert:
    now = 1_800_000_000.0
    fired = fire(
        new_alert("a1b2c3", "prod", "latency", "payments.shop.svc.cluster.local", "ms", now),
        now,
        None,
    )
    alert = Alert.from_json({**fired.to_json(), "outbox": [], "channel": "C1", "ts": "1.5"})
    alerts.update("prod", alert.fingerprint, lambda _: alert.to_json())
    alerts.remember(alert.id, "prod", alert.fingerprint)
    return alert


def test_acknowledge_from_the_terminal_refusals_and_usage(cli: Run, alerts: AlertStore) -> None:
    alert = posted_alert(alerts)
    acked = cli("alert", "ack", alert.id, "--output", "json")
    assert acked.returncode == 0, acked.stderr
    answer = json.loads(acked.stdout)
    assert answer["outcome"] == "done" and answer["state"] == "acknowledged"
    stored = alerts.get(alert.id)
    assert stored is not None and stored.ack_by == "local"
    assert stored.outbox == (Effect.EDIT,)  # the watchers will show it in Slack

    again = cli("alert", "ack", alert.id)
    assert again.returncode == 1 and "already acknowledged" in again.stdout

    wrong = cli("alert", "silence", alert.id, "--for", "2h")
    assert wrong.returncode == 2
    assert "must be one of 1h, 4h" in wrong.stdout + wrong.stderr
    assert "meshbot alert silence ID --for 1h|4h" in wrong.stdout + wrong.stderr
    stored = alerts.get(alert.id)
    assert stored is not None and stored.state is AlertState.ACKNOWLEDGED
