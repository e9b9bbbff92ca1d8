"""`meshbot serve`: the bot itself, on Socket Mode (default) or HTTP, with health and jobs.

It checks the Slack secrets before anything starts, configures the JSON logs with the
secret values masked, builds the runtime and the Bolt app, starts the health server,
the change sweeper and the watchers, and stops everything on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import TYPE_CHECKING

from bot.app.config import Settings, load_settings, missing_slack_secrets
from bot.app.runtime import build_runtime, start_jobs
from bot.app.startup import (
    StartupError,
    listening,
    port_number,
    slack_refused,
    slack_unreachable,
)

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.core.runtime import Runtime
    from bot.slack.serve import SocketModeConnection

log = logging.getLogger("meshbot")


def serve(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="meshbot serve", description="Run the Slack bot.")
    parser.add_argument("--config", help="config file (default: $MESHBOT_CONFIG)")
    parser.add_argument("--http", action="store_true", help="HTTP mode instead of Socket Mode")
    parser.add_argument("--host", help="HTTP mode listen address (default from config)")
    parser.add_argument(
        "--port", type=port_number, help="HTTP mode port, 0-65535 (default from config)"
    )
    options = parser.parse_args(args)
    settings = load_settings(options.config)
    missing = missing_slack_secrets(settings, http=options.http)
    if missing:
        print(
            "meshbot serve: set these environment variables first: "
            + ", ".join(missing)
            + " (see README, 'Slack app setup')",
            file=sys.stderr,
        )
        return 2
    from bot.app import logs

    logs.configure(settings.file.log_level, _secret_values(settings))
    try:
        return _serve(settings, options.http, options.host, options.port)
    except StartupError as exc:
        print(f"meshbot serve: {exc}", file=sys.stderr)
        return 2


def _secret_values(settings: Settings) -> list[str]:
    s = settings.secrets
    values = [s.slack_bot_token, s.slack_app_token, s.slack_signing_secret, s.redis_url]
    values += list(s.prometheus.values())
    return [v.get_secret_value() for v in values if v is not None]


def _serve(settings: Settings, http: bool, host: str | None, port: int | None) -> int:
    from bot.app.health import BackgroundServer, health_app
    from bot.slack.serve import MAX_BODY_BYTES, SocketModeConnection, slack_wsgi

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with build_runtime(settings) as runtime:
        app = _slack_app(runtime)
        connection: SocketModeConnection | None = None
        slack_server: BackgroundServer | None = None
        if http:
            conf = settings.file.http
            where = (host or conf.host, port if port is not None else conf.port)
            slack_server = listening(
                "Slack (HTTP mode)",
                "--port / --host, or http.port / http.host in the config",
                *where,
                lambda: BackgroundServer(
                    slack_wsgi(app, runtime),
                    *where,
                    threads=conf.threads,
                    max_body=MAX_BODY_BYTES,
                ),
            )
            connected = lambda: True  # noqa: E731  auth.test passed when the app was built
        else:
            token = settings.secrets.slack_app_token
            assert token is not None
            connection = SocketModeConnection(app, token.get_secret_value())
            connected = connection.connected
        health_at = (settings.file.health.host, settings.file.health.port)
        try:
            health = listening(
                "health and metrics",
                "health.port / health.host in the config",
                *health_at,
                lambda: BackgroundServer(health_app(runtime, connected), *health_at),
            ).start()
        except StartupError:
            if slack_server is not None:
                slack_server.stop()
            raise
        try:
            if slack_server is not None:
                slack_server.start()
                log.info("serving Slack over HTTP on %s/slack/events", slack_server.url)
            if connection is not None:
                _connect(connection, settings)
                log.info("connected to Slack over Socket Mode")
            log.info("health on %s (/healthz, /readyz, /metrics)", health.url)
            start_jobs(runtime, settings, app.client)
            stop.wait()
        finally:
            log.info("shutting down")
            if connection is not None:
                connection.close()
            if slack_server is not None:
                slack_server.stop()
            health.stop()
    return 0


def _slack_app(runtime: Runtime) -> App:
    """The Bolt app; Bolt checks the bot token with `auth.test` while building it."""
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError, SlackClientError

    from bot.app.slack import build_app

    try:
        return build_app(runtime)
    except (BoltError, SlackApiError) as exc:
        raise slack_refused("bot token", "SLACK_BOT_TOKEN", exc) from None
    except (SlackClientError, OSError) as exc:
        raise slack_unreachable(runtime.settings.secrets.slack_api_url, exc) from None


def _connect(connection: SocketModeConnection, settings: Settings) -> None:
    from slack_sdk.errors import SlackApiError, SlackClientError

    try:
        connection.connect()
    except SlackApiError as exc:
        raise slack_refused("app-level token", "SLACK_APP_TOKEN", exc) from None
    except (SlackClientError, OSError) as exc:
        raise slack_unreachable(settings.secrets.slack_api_url, exc) from None
