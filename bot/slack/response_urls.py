"""meshbot answers only through Slack's own `response_url`s.

A `response_url` comes in the request body, and the bot POSTs its answer there. Slack
mints them on `hooks.slack.com` (GovSlack: `hooks.slack-gov.com`), always over HTTPS;
an emulator or a Slack-compatible gateway lives on the host of the configured
`SLACK_API_URL`. A request naming any other host is refused before a listener runs, so
the bot can never be made to send a message (with whatever it would answer) elsewhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

log = logging.getLogger("meshbot.front")
SLACK_HOOK_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})


class ResponseUrls:
    def __init__(self, api_url: str) -> None:
        api = urlsplit(api_url)
        self._api_origin = (api.scheme, api.netloc.lower())

    def allows(self, url: str) -> bool:
        try:
            parts = urlsplit(url)
            host, port = (parts.hostname or "").lower(), parts.port
        except ValueError:
            return False
        if parts.username or parts.password:
            return False
        if parts.scheme == "https" and host in SLACK_HOOK_HOSTS and port in (None, 443):
            return True
        return (parts.scheme, parts.netloc.lower()) == self._api_origin


def response_urls_in(body: dict[str, Any]) -> Iterable[str]:
    url = body.get("response_url")
    if isinstance(url, str) and url:
        yield url
    for entry in body.get("response_urls") or []:
        if isinstance(entry, dict) and isinstance(entry.get("response_url"), str):
            yield entry["response_url"]


def only_slack_response_urls(policy: ResponseUrls) -> Callable[..., BoltResponse | None]:
    """A Bolt global middleware refusing (400) a request whose response_url is not Slack's."""

    def middleware(req: BoltRequest, next: Callable[[], BoltResponse]) -> BoltResponse | None:
        for url in response_urls_in(req.body):
            if not policy.allows(url):
                log.warning("refused a request whose response_url is not Slack's: %s", _where(url))
                return BoltResponse(status=400, body="")
        return next()

    return middleware


def _where(url: str) -> str:
    try:
        return urlsplit(url).netloc[:100] or "(no host)"
    except ValueError:
        return "(not a URL)"
