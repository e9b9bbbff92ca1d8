"""The AlertNotifier port on Slack: posts, edits, thread replies and charts.

Why this exists: the watcher cycle decides *what* Slack must show; this decides *how*
and sends it through `bot.slack.posting`, the only sender. Slack takes about one
message per second per channel, so writes to one channel are paced here; 429s
(with `Retry-After`), 5xx and dropped connections are retried by the WebClient's retry
handlers, and what still fails becomes `NotifyFailed`, which leaves the alert's outbox
in Redis to be retried next cycle — the alert state is never lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.slack import posting
from bot.slack.render import SlackMessage
from bot.watch.charts import line_chart
from bot.watch.history import last_hour
from bot.watch.render import (
    alert_message,
    group_message,
    group_reply_message,
    reply_message,
    title,
)
from commands.core.ports import Clock, Metrics
from commands.watch.alerts import Alert, Effect, Group
from commands.watch.commands import WatchPolicy
from commands.watch.ports import NotifyFailed
from commands.watch.queries import latency_series, steal_series

CHANNEL_INTERVAL_S = 1.0


def render_alert(
    alert: Alert, now: float, runbooks: Mapping[str, str], rollback: bool
) -> SlackMessage:
    return alert_message(alert, now, runbook=runbooks.get(alert.rule), rollback=rollback)


class ChannelPacer:
    """At most one write per `interval_s` per channel, across the threads of a replica."""

    def __init__(self, interval_s: float = CHANNEL_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def wait(self, channel: str) -> None:
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next.get(channel, 0.0))
            self._next[channel] = at + self.interval_s
        if at > now:
            time.sleep(at - now)


class SlackAlertNotifier:
    def __init__(
        self,
        client: WebClient,
        policy: WatchPolicy,
        metrics: Metrics,
        clock: Clock,
        *,
        rollback: bool,
        pacer: ChannelPacer | None = None,
    ) -> None:
        self.client = client
        self.policy = policy
        self.metrics = metrics
        self.clock = clock
        self.rollback = rollback
        self.pacer = pacer or ChannelPacer()

    def _send(
        self, channel: str, what: str, call: Callable[[], dict[str, object]]
    ) -> dict[str, object]:
        self.pacer.wait(channel)
        try:
            return call()
        except (SlackApiError, SlackClientError) as exc:
            raise NotifyFailed(f"Slack refused {what} in {channel}: {exc}") from exc

    def _render(self, alert: Alert) -> SlackMessage:
        return render_alert(alert, self.clock.now(), self.policy.runbooks, self.rollback)

    def post_alert(self, alert: Alert, channel: str) -> str:
        message = self._render(alert)
        data = self._send(channel, "the alert", lambda: posting.post(self.client, channel, message))
        return str(data["ts"])

    def post_group(self, group: Group, alerts: Sequence[Alert], channel: str) -> str:
        message = group_message(group, alerts, self.clock.now())
        data = self._send(
            channel, "the grouped alert", lambda: posting.post(self.client, channel, message)
        )
        return str(data["ts"])

    def edit_alert(self, alert: Alert) -> None:
        channel, ts = alert.channel, alert.ts
        assert channel is not None and ts is not None
        message = self._render(alert)
        self._send(channel, "an edit", lambda: posting.update(self.client, channel, ts, message))

    def edit_group(self, group: Group, alerts: Sequence[Alert]) -> None:
        channel, ts = group.channel, group.ts
        if channel is None or ts is None:
            return
        message = group_message(group, alerts, self.clock.now())
        self._send(channel, "an edit", lambda: posting.update(self.client, channel, ts, message))

    def reply(self, alert: Alert, effect: Effect) -> None:
        channel, ts = alert.channel, alert.ts
        assert channel is not None and ts is not None
        message = reply_message(alert, effect, self.clock.now())
        self._send(
            channel,
            "a thread reply",
            lambda: posting.post(self.client, channel, message, thread_ts=ts),
        )

    def reply_group(self, group: Group, alerts: Sequence[Alert]) -> None:
        channel, ts = group.channel, group.ts
        if channel is None or ts is None:
            return
        message = group_reply_message(alerts, self.clock.now())
        self._send(
            channel,
            "a thread reply",
            lambda: posting.post(self.client, channel, message, thread_ts=ts),
        )

    def attach_chart(self, alert: Alert) -> None:
        channel, ts = alert.channel, alert.ts
        assert channel is not None and ts is not None
        warn = None
        if alert.rule == "steal" and self.policy.steal is not None:
            promql = steal_series(
                alert.subject, self.policy.steal.window, self.policy.steal.node_label
            )
            warn = self.policy.steal.warn_pct
            threshold: float | None = self.policy.steal.critical_pct
        elif alert.rule == "latency" and self.policy.latency is not None:
            promql = latency_series(alert.subject, self.policy.latency.window)
            threshold = alert.threshold
        else:
            return
        points = last_hour(self.metrics, promql, self.clock.now())
        png = line_chart(
            points, title=title(alert), unit=alert.unit, threshold=threshold, warn=warn
        )

        def upload() -> dict[str, object]:
            posting.upload_file(
                self.client,
                channel,
                content=png,
                filename=f"{alert.rule}-{alert.id}.png",
                title=f"{title(alert)} — last hour",
                alt_text=f"Line chart of the last hour of {title(alert)} with the threshold line",
                thread_ts=ts,
            )
            return {}

        self._send(channel, "the chart", upload)
