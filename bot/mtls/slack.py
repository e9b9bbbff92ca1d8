"""`mtls status` in Slack: an ephemeral answer to whoever asked.

Proposals of `mtls strict|permissive` are changes and reach Slack through the change
pipeline's own delivery (bot.changes.slack).
"""

from __future__ import annotations

from slack_bolt import App

from bot.core.runtime import Runtime
from bot.mtls.render import mtls_status_message
from bot.slack.access import AccessPolicy
from bot.slack.delivery import Deliveries, ephemeral
from commands.mtls.model import MtlsStatus


def register(app: App, runtime: Runtime, access: AccessPolicy, deliveries: Deliveries) -> None:
    deliveries.add(MtlsStatus, ephemeral(mtls_status_message))
