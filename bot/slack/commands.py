"""The `/mesh` slash command listener: ack at once, then parse, dispatch and deliver.

The listener only acks and queues the work on the runtime's work pool, so a burst of
commands is acknowledged within Slack's 3 s however long the commands take.
"""

from __future__ import annotations

import time
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.core.dispatch import run_command
from bot.core.runtime import Runtime
from bot.slack.access import AccessPolicy
from bot.slack.delivery import Deliveries, Reply
from bot.slack.errors import guarded

COMMAND = "/mesh"


def register(app: App, runtime: Runtime, access: AccessPolicy, deliveries: Deliveries) -> None:
    @app.command(COMMAND)
    def on_mesh(
        ack: Ack, command: dict[str, Any], respond: Respond, context: BoltContext, client: WebClient
    ) -> None:
        ack()
        received = context.get("received_at")
        if received is not None:
            runtime.telemetry.ack_seconds.labels("command").observe(time.perf_counter() - received)

        def work() -> None:
            channel = command.get("channel_id")
            caller = access.caller(command["user_id"], channel)
            result = run_command(runtime, command.get("text", ""), caller)
            deliveries.deliver(Reply(runtime, client, respond, caller, channel), result)

        runtime.after_acks(guarded(work, f"{COMMAND} {command.get('text', '')[:40]}", respond))
