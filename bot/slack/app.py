"""Builds the Bolt app from a runtime; never at import time.

The Web API client points at `SLACK_API_URL` (Slack's by default; GovSlack or the
local emulator otherwise) and retries 429s (honouring `Retry-After`), 5xx answers and
dropped connections with backoff. Listener kinds each have their own `register`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.app.runtime import Runtime
from bot.changes import slack as change_actions
from bot.preflight import slack as preflight_delivery
from bot.slack import commands, errors
from bot.slack.access import AccessPolicy, GroupDirectory
from bot.slack.delivery import Deliveries
from bot.timeouts import slack as timeouts_delivery
from bot.watch import slack as alert_buttons


def build_web_client(runtime: Runtime) -> WebClient:
    secrets = runtime.settings.secrets
    token = secrets.slack_bot_token.get_secret_value() if secrets.slack_bot_token else None
    return WebClient(
        token=token,
        base_url=secrets.slack_api_url,
        timeout=10,
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
            ConnectionErrorRetryHandler(max_retry_count=2),
        ],
    )


def build_app(runtime: Runtime, *, client: WebClient | None = None) -> App:
    secrets = runtime.settings.secrets
    web = client or build_web_client(runtime)
    signing = secrets.slack_signing_secret
    app = App(
        client=web,
        signing_secret=signing.get_secret_value() if signing else "",
        process_before_response=False,
        token_verification_enabled=True,
        listener_executor=runtime.listener_pool,
    )
    app.use(_stamp_arrival)
    access = AccessPolicy(runtime.settings.file.access, GroupDirectory(web))
    deliveries = Deliveries()
    errors.register(app)
    commands.register(app, runtime, access, deliveries)
    change_actions.register(app, runtime, access, deliveries)
    preflight_delivery.register(app, runtime, access, deliveries)
    timeouts_delivery.register(app, runtime, access, deliveries)
    alert_buttons.register(app, runtime, access, deliveries)
    return app


def _stamp_arrival(context: BoltContext, next: Callable[[], None]) -> None:
    context["received_at"] = time.perf_counter()
    next()
