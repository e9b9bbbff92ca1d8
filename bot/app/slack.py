"""The Bolt app with every capability's listeners: what `serve` and the tests run.

bot.slack.app builds the app and the `/mesh` command; this adds each capability's
deliveries and buttons, which only the app layer may know all of.
"""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient

from bot.changes import slack as changes
from bot.core.runtime import Runtime
from bot.install import slack as install
from bot.mtls import slack as mtls
from bot.preflight import slack as preflight
from bot.slack.app import new_app
from bot.timeouts import slack as timeouts
from bot.watch import slack as watch

LISTENERS = (
    changes.register,
    mtls.register,
    preflight.register,
    timeouts.register,
    watch.register,
    install.register,
)


def build_app(runtime: Runtime, *, client: WebClient | None = None) -> App:
    return new_app(runtime, LISTENERS, client=client)
