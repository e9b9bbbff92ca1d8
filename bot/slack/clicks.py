"""Buttons that run a command: one way to read a click, check it and run it as the clicker.

Every capability's buttons (a change's Approve, an install plan's Advance, an alert's
Acknowledge) do the same before their own answer: ack at once; after the acks, drop a
click whose value is not an id of the expected shape (a value is an opaque id, looked up
server-side — never trusted); look the clicker's role up again (it may have changed since
the message was posted); and run the button's command through the registry as the
clicker. Kept in one place so no button can skip a step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.core.dispatch import run_command
from bot.core.runtime import Runtime
from bot.slack.access import AccessPolicy
from bot.slack.errors import guarded
from commands.core.model import Result

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Click:
    """Who clicked which button, with what value, in which channel."""

    action_id: str
    value: str
    user: str
    channel: str | None

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Click:
        """The first action of a block_actions payload."""
        action = (body.get("actions") or [{}])[0]
        container = body.get("container") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        return cls(
            str(action.get("action_id", "")),
            str(action.get("value") or "").strip().lower(),
            str((body.get("user") or {}).get("id", "")),
            str(channel) if channel else None,
        )


def on_buttons(
    app: App,
    runtime: Runtime,
    access: AccessPolicy,
    commands: Mapping[str, str],
    is_id: Callable[[str], bool],
    answer: Callable[[Click, Result, Respond], None],
) -> None:
    """Run `commands[action_id]` (its `{}` replaced by the button's value) for each of these
    buttons, as the clicker, and hand the result to `answer`."""

    def on_click(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        click = Click.of(body)

        def work() -> None:
            if click.action_id not in commands or not is_id(click.value):
                log.warning("ignored a %s click with a malformed value", click.action_id)
                return
            caller = access.caller(click.user, click.channel)  # re-checked on every click
            result = run_command(runtime, commands[click.action_id].format(click.value), caller)
            answer(click, result, respond)

        runtime.after_acks(guarded(work, f"{click.action_id} click", respond))

    for action_id in commands:
        app.action(action_id)(on_click)
