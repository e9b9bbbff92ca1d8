"""Delivers a preflight report to Slack: the summary in the channel the command came
from, the details in its thread, the full report as a JSON file in that thread.

A report is for the team, so it is posted in the channel rather than answered
ephemerally. Where the bot cannot post (not invited, unknown channel), the caller gets
an ephemeral answer saying so, with the summary, instead of nothing.
"""

from __future__ import annotations

import json
import logging

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from bot.core.runtime import Runtime
from bot.preflight.render import details, summary
from bot.slack.access import AccessPolicy
from bot.slack.delivery import Deliveries, Reply, post_with_thread
from bot.slack.posting import post, slack_error, upload_file
from bot.slack.render import SlackMessage
from commands.core.model import Result
from commands.preflight.commands import settings_of
from commands.preflight.model import PreflightReport, report_to_dict

log = logging.getLogger(__name__)


def deliver(reply: Reply, result: Result) -> None:
    assert isinstance(result, PreflightReport)
    top = settings_of(reply.runtime.services).top_subjects
    ts = post_with_thread(reply, summary(result, top), details(result, top), "preflight report")
    if ts is None or reply.channel_id is None:
        return
    content = json.dumps(report_to_dict(result), indent=1).encode()
    stamp = result.generated_at.replace(":", "").replace("-", "")
    try:
        upload_file(
            reply.client,
            reply.channel_id,
            content=content,
            filename=f"preflight-{result.cluster}-{stamp}.json",
            title=f"Preflight {result.cluster} (Istio {result.istio}, {result.profile})",
            thread_ts=ts,
        )
    except SlackApiError as exc:
        log.warning("preflight JSON upload failed: %s", slack_error(exc))
        text = (
            f":warning: The full report could not be attached ({slack_error(exc)}); the app "
            "needs the `files:write` scope. Run `meshbot preflight --output json` for it."
        )
        post(reply.client, reply.channel_id, SlackMessage(text, [], ephemeral=False), thread_ts=ts)


def register(app: App, runtime: Runtime, access: AccessPolicy, deliveries: Deliveries) -> None:
    deliveries.add(PreflightReport, deliver)
