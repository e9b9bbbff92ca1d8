"""Helpers for the watcher integration tests: settings for a live rig, the watcher
scheduler of a runtime, reading alert messages back from the Slack emulator, and
waiting for cycles to have run (a positive signal, never a fixed sleep).

The rate window is 4 s (four 1 s scrapes): long enough for `rate()` to be right, short
enough that a breach and its recovery show up within seconds. One cycle a second, as
Prometheus scrapes: a faster cycle only re-reads the same data and paces more edits."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.core.runtime import Runtime
from bot.sandbox.slack import Message, SlackEmulator
from bot.slack.app import build_web_client
from bot.watch.jobs import start_watchers
from bot.watch.scheduler import WatcherScheduler
from commands.core.ports import Store
from commands.watch.commands import SUMMARY_KEY
from tests.fixtures.meshbot import RunningBot

CHANNEL = "C_ONCALL"
WINDOW_S = 4
CYCLE_S = 1.0


def watch_yaml(
    prometheus_url: str,
    *,
    kubeconfig: Path | None = None,
    cycle_s: float = CYCLE_S,
    lease_ttl_s: float = 3,
    storm_k: int = 5,
    latency: str = f"{{default_ms: 1000, window: {WINDOW_S}s, for_s: 2, min_rps: 1}}",
    steal: str = f"{{warn_pct: 10, critical_pct: 20, window: {WINDOW_S}s, for_s: 2}}",
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


def last_cycle(store: Store, cluster: str = "prod") -> float:
    """When the last completed cycle of `cluster` started (0: none yet), on any replica."""
    summary = store.get(SUMMARY_KEY, cluster=cluster) or {}
    return float(summary.get("at", 0.0))


def cycles_ran(store: Store, count: int, cycle_s: float = CYCLE_S, cluster: str = "prod") -> None:
    """Return once `count` more cycles of `cluster` have completed (whichever replica ran
    them): the newest summary is from a cycle started `count` periods after the one
    that was newest when called."""
    since = last_cycle(store, cluster)
    wait_until(
        lambda: last_cycle(store, cluster) >= since + (count - 0.5) * cycle_s,
        timeout=10 + 3 * count * cycle_s,
        what=f"{count} more watcher cycles",
    )
