"""Builds the Bolt app from a runtime and the capabilities' listeners; never at import time.

The Web API client points at `SLACK_API_URL` (Slack's by default; GovSlack or the
local emulator otherwise) and retries 429s (honouring `Retry-After`), 5xx answers and
dropped connections with backoff. Two global middlewares run before any listener, in
both modes: a request whose `response_url` is not Slack's is refused, and a request
Slack re-sends (same trigger or event id) is acked without running again. The `/mesh`
command and the error handler are registered here; each capability brings its own
`register` (bot/<capability>/slack.py), which the app layer passes in (bot.app.slack).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.core.runtime import Runtime
from bot.slack import commands, errors
from bot.slack.access import AccessPolicy, GroupDirectory
from bot.slack.delivery import Deliveries
from bot.slack.replays import SeenRequests, drop_redeliveries
from bot.slack.response_urls import ResponseUrls, only_slack_response_urls


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


Register = Callable[[App, Runtime, AccessPolicy, Deliveries], None]


def new_app(
    runtime: Runtime, listeners: Sequence[Register], *, client: WebClient | None = None
) -> App:
    secrets = runtime.settings.secrets
    web = client or build_web_client(runtime)
    signing = secrets.slack_signing_secret
    app = App(
        client=web,
        signing_secret=signing.get_secret_value() if signing else "",
        process_before_response=False,
        # HTTP requests reach Bolt only through bot.slack.front, which verified the
        # signature and its five-minute window already; Socket Mode has none to verify.
        request_verification_enabled=False,
        token_verification_enabled=True,
        listener_executor=runtime.listener_pool,
    )
    app.use(Direct(_stamp_arrival))
    app.use(Direct(only_slack_response_urls(ResponseUrls(secrets.slack_api_url))))
    app.use(Direct(drop_redeliveries(SeenRequests(runtime.store))))
    access = AccessPolicy(runtime.settings.file.access, GroupDirectory(web))
    deliveries = Deliveries()
    errors.register(app)
    commands.register(app, runtime, access, deliveries)
    for register in listeners:
        register(app, runtime, access, deliveries)
    return app


class Direct(Middleware):
    """A global middleware called as `check(req, next)`. Given to `app.use` as a plain
    function, Bolt would work out the arguments it wants on every request (kwargs
    injection): with three of them, a quarter of the CPU meshbot spent before an ack
    beyond a bare Bolt app's."""

    def __init__(self, check: Callable[[BoltRequest, Callable[[], BoltResponse]], Any]) -> None:
        self.check = check

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        answer: BoltResponse | None = self.check(req, next)
        return answer


def _stamp_arrival(req: BoltRequest, next: Callable[[], BoltResponse]) -> BoltResponse:
    req.context["received_at"] = time.perf_counter()
    return next()
