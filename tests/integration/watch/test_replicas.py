"""Exactly once across replicas: three replicas on one real Redis post each alert once,
a killed lease holder hands over within one TTL without losing the resolution, a storm
is one message, and with Redis unreachable no replica runs the watchers at all. Where a
test says something did NOT happen, it first waits for the cycles (or lease renewals)
that would have done it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from bot.app.config import Settings
from bot.app.runtime import build_runtime
from bot.core.runtime import Runtime
from bot.sandbox.slack import SlackEmulator
from bot.watch.scheduler import WatcherScheduler
from tests.fixtures.prometheus import LivePrometheus
from tests.integration.watch.support import (
    CHANNEL,
    WINDOW_S,
    alert_messages,
    cycles_ran,
    start,
    text_of,
    top_level,
    wait_until,
    watch_yaml,
)

TTL = 3.0


@pytest.fixture
def replicas() -> Iterator[Callable[[Settings, int], list[tuple[Runtime, WatcherScheduler]]]]:
    started: list[tuple[Runtime, WatcherScheduler]] = []

    def make(settings: Settings, count: int) -> list[tuple[Runtime, WatcherScheduler]]:
        for i in range(count):
            runtime = build_runtime(settings, replica_id=f"replica-{i + 1}")
            started.append((runtime, start(runtime)))
        return list(started)

    yield make
    for runtime, scheduler in started:
        scheduler.stop()
        runtime.close()


@pytest.mark.scenario("baseline")
def test_three_replicas_post_once_and_a_killed_holder_hands_over(
    prometheus: LivePrometheus,
    slack_emulator: SlackEmulator,
    replicas: Callable[[Settings, int], list[tuple[Runtime, WatcherScheduler]]],
    configured_settings: Callable[[str], Settings],
) -> None:
    settings = configured_settings(
        watch_yaml(prometheus.url, lease_ttl_s=TTL, steal="{enabled: false}")
    )
    running = replicas(settings, 3)
    prometheus.wait_scraped_for(WINDOW_S)
    prometheus.simulator.inject({"service": "payments", "p99_factor": 4})
    wait_until(lambda: alert_messages(slack_emulator, "payments"), what="the alert")
    store = running[0][0].services.store
    cycles_ran(store, 3)  # three more cycles with the alert firing
    assert len(alert_messages(slack_emulator, "payments")) == 1
    assert sum(s.leading for _, s in running) == 1

    lease = running[0][0].services.lease
    holder = lease.holder("watchers")
    killed = next(s for r, s in running if r.services.replica_id == holder)
    killed.stop(release=False)  # a crash: the lease is not released
    killed_at = time.monotonic()
    new_holder = wait_until(
        lambda: (h := lease.holder("watchers")) not in (None, holder) and h, timeout=3 * TTL
    )
    handover = time.monotonic() - killed_at
    assert handover <= TTL + TTL / 3 + 1.0, handover
    assert new_holder != holder

    slack_emulator.fail("chat.update", count=1, status=500)  # retried with backoff
    prometheus.simulator.inject({"service": "payments", "p99_factor": 1})
    (message,) = alert_messages(slack_emulator, "payments")
    wait_until(
        lambda: "Resolved after" in text_of(slack_emulator.message(CHANNEL, message.ts)),  # type: ignore[arg-type]
        timeout=40,
        what="the resolution, by the new holder",
    )
    wait_until(
        lambda: any("Resolved" in r.text for r in slack_emulator.thread(CHANNEL, message.ts)),
        what="the resolved reply",
    )
    cycles_ran(store, 3)  # a second reply would come from one of these
    replies = [r for r in slack_emulator.thread(CHANNEL, message.ts) if "Resolved" in r.text]
    assert len(replies) == 1
    assert len(alert_messages(slack_emulator, "payments")) == 1


@pytest.mark.scenario("baseline")
def test_a_storm_is_one_grouped_message(
    prometheus: LivePrometheus,
    slack_emulator: SlackEmulator,
    replicas: Callable[[Settings, int], list[tuple[Runtime, WatcherScheduler]]],
    configured_settings: Callable[[str], Settings],
) -> None:
    settings = configured_settings(watch_yaml(prometheus.url, storm_k=1, steal="{enabled: false}"))
    running = replicas(settings, 2)
    prometheus.wait_scraped_for(WINDOW_S)
    for service in ("frontend", "catalog", "checkout", "payments"):
        prometheus.simulator.inject({"service": service, "p99_ms": 5000})
    group = wait_until(
        lambda: [m for m in top_level(slack_emulator) if "alerts on cluster prod" in m.text],
        what="a grouped message",
    )[0]
    cycles_ran(running[0][0].services.store, 3)
    assert len(top_level(slack_emulator)) < 4  # not one post per alert
    assert "Acknowledge all" in text_of(group)


def test_with_redis_unreachable_no_replica_runs_the_watchers(
    slack_emulator: SlackEmulator,
    meshbot_settings_factory: Callable[..., Settings],
    replicas: Callable[[Settings, int], list[tuple[Runtime, WatcherScheduler]]],
) -> None:
    settings = meshbot_settings_factory(
        "redis://127.0.0.1:1/0", watch_yaml("http://127.0.0.1:1", lease_ttl_s=3)
    )
    running = replicas(settings, 2)
    wait_until(
        lambda: all(s.keeper.failed_renewals >= 2 for _, s in running),
        what="two failed lease renewals on every replica",
    )
    assert not any(s.leading for _, s in running)
    assert slack_emulator.calls("chat.postMessage") == []
