"""meshbot's own metrics (prometheus-client), one registry per runtime.

A registry per runtime, not the library's global one, so tests and several runtimes
in one process each count only their own work.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0, 5.0)


class Telemetry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.commands = Counter(
            "meshbot_commands_total",
            "Commands handled, by command name and outcome",
            ["command", "outcome"],
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "meshbot_ack_seconds",
            "Time from receiving a Slack request to acknowledging it",
            ["kind"],
            buckets=ACK_BUCKETS,
            registry=self.registry,
        )
        self.slack_connected = Gauge(
            "meshbot_slack_connected",
            "1 when this replica is connected to Slack",
            registry=self.registry,
        )
