"""Posts the whole diff of a long proposal into its thread (or as a file there).

Kept beside the proposal delivery so that what an approver sees is complete: the
proposal message says how many lines it leaves out and that they are in its thread;
this puts them there. A few code-block replies when that is short enough, else one
`.diff` file; if Slack refuses the file (no `files:write`), the first replies and a
line saying how many lines are missing and which command prints them.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.changes.diffview import (
    THREAD_MESSAGES,
    chunks,
    diff_file,
    proposal_diff,
    thread_messages,
    unposted_note,
)
from bot.slack.posting import post, slack_error, upload_file
from commands.changes.model import Change

log = logging.getLogger(__name__)


def post_whole_diff(client: WebClient, channel: str, ts: str, change: Change) -> None:
    if proposal_diff(change).complete:
        return
    replies = thread_messages(change)
    if len(replies) <= THREAD_MESSAGES:
        for reply in replies:
            post(client, channel, reply, thread_ts=ts)
        return
    name, content = diff_file(change)
    try:
        upload_file(
            client,
            channel,
            content=content,
            filename=name,
            title=f"Diff of {change.id}: {change.title}"[:250],
            thread_ts=ts,
            comment=f"The whole diff of {change.id}: {len(change.diff)} lines.",
        )
    except SlackApiError as exc:
        log.warning("could not attach the diff of %s: %s", change.id, slack_error(exc))
        for reply in replies[:THREAD_MESSAGES]:
            post(client, channel, reply, thread_ts=ts)
        posted = sum(len(group) for group in chunks(change.diff)[:THREAD_MESSAGES])
        post(client, channel, unposted_note(change, posted, slack_error(exc)), thread_ts=ts)
