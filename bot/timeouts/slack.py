"""Delivers a timeouts audit to Slack: the summary in the channel the command came from,
the evidence and fixes in its thread.

An audit is for the team (someone else may run the fix), so it is posted in the
channel rather than answered ephemerally. Where the bot cannot post (not invited), the
caller gets the summary ephemerally with the reason instead of nothing. Proposals from
`timeouts set`/`fix` are change-pipeline results and go through its own delivery.
"""

from __future__ import annotations

from slack_bolt import App

from bot.core.runtime import Runtime
from bot.slack.access import AccessPolicy
from bot.slack.delivery import Deliveries, Reply, post_with_thread
from bot.timeouts.render import details, summary
from commands.core.model import Result
from commands.timeouts.model import TimeoutAudit


def deliver(reply: Reply, result: Result) -> None:
    assert isinstance(result, TimeoutAudit)
    post_with_thread(reply, summary(result), details(result), "timeouts audit")


def register(app: App, runtime: Runtime, access: AccessPolicy, deliveries: Deliveries) -> None:
    deliveries.add(TimeoutAudit, deliver)
