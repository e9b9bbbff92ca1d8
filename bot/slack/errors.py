"""The single error handler: a short answer with an error id to the user, details to the log.

The user never sees a stack trace or an exception message (it may hold internals);
the log gets the full exception under the same id, with secrets redacted by the log
filter in `bot.app.logs`. Bolt's error hook and the work run after an ack both end here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_bolt.context.respond import Respond

from bot.slack.posting import respond_with
from bot.slack.render import render_error

log = logging.getLogger("meshbot.errors")


def report_unexpected(error: BaseException, what: str, respond: Respond | None) -> str:
    error_id = uuid.uuid4().hex[:12]
    log.error(
        "unhandled error %s in %s: %r",
        error_id,
        what,
        error,
        exc_info=error,
        extra={"error_id": error_id},
    )
    if respond is not None and respond.response_url:
        try:
            respond_with(respond, render_error(error_id))
        except Exception:
            log.warning("could not tell the user about error %s", error_id)
    return error_id


def guarded(work: Callable[[], None], what: str, respond: Respond | None) -> Callable[[], None]:
    """`work` with any unexpected exception reported as above instead of lost in a pool."""

    def run() -> None:
        try:
            work()
        except Exception as error:
            report_unexpected(error, what, respond)

    return run


def register(app: App) -> None:
    @app.error
    def on_error(error: Exception, body: dict[str, Any], respond: Respond | None) -> None:
        report_unexpected(error, str(body.get("command") or body.get("type") or "request"), respond)
