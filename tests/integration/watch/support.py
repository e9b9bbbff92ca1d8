"""Helpers for the watcher integration tests: settings for a live rig, the watcher
scheduler of a runtime, and reading alert messages back from the Slack emulator."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.app.config import Settings
from bot.core.runtime import Runtime
from bot.sandbox.slack import Message, SlackEmulator
from bot.slack.app import build_web_client
from bot.watch.jobs import start_watchers
from bot.watch.scheduler import WatcherScheduler
from tests.fixtures.meshbot import RunningBot

CHANNEL = "C_ONCALL"


def watch_yaml(
    prometheus_url: str,
    *,
    kubeconfig: Path | None = None,
    cycle_s: float = 1,
    lease_ttl_s: float = 3,
    storm_k: int = 5,
    latency: str = "{default_ms: 1000, window: 10s, for_s: 2, min_rps: 1}",
    steal: str = "{warn_pct: 10, critical_pct: 20, window: 10s, for_s: 2}",
) -> str:
    kube = f"\n    kubeconfig: {kubeconfig}" if kubeconfig else ""
    return f"""
clusters:
  prod:{kube}
    prometheus: {{url: "{prometheus_url}", timeout_s: 3}}
    oncall_channel: {CHANNEL}
watchers:
  cycle_s: {cycle_s}
  lease_ttl_s: {lease_ttl_s}
  storm_k: {storm_k}
  edit_interval_s: 0
  blind_for_s: 3
  latency: {latency}
  steal: {steal}
  runbooks: {{latency: "https://runbooks.example/p99", steal: "https://runbooks.example/steal"}}
"""


def start(runtime: Runtime) -> WatcherScheduler:
    scheduler = start_watchers(runtime, build_web_client(runtime))
    assert scheduler is not None
    return scheduler


@contextmanager
def watching(bot: RunningBot) -> Iterator[WatcherScheduler]:
    """The bot's watchers running for the `with` block, stopped however it ends."""
    scheduler = start(bot.runtime)
    try:
        yield scheduler
    finally:
        scheduler.stop()


def top_level(emulator: SlackEmulator, channel: str = CHANNEL) -> list[Message]:
    return [m for m in emulator.messages(channel) if m.thread_ts in (None, m.ts)]


def text_of(message: Message) -> str:
    return message.text + "\n" + json.dumps(message.blocks or [])


def wait_until(probe: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}")


def alert_messages(emulator: SlackEmulator, needle: str) -> list[Message]:
    return [m for m in top_level(emulator) if needle in m.text]


def settle(settings: Settings) -> float:
    return float(settings.file.watchers.cycle_s)
