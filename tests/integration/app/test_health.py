"""/healthz, /readyz and /metrics on their own port, against real Redis."""

from __future__ import annotations

import httpx

from bot.app.health import BackgroundServer, health_app
from tests.fixtures.meshbot import RunningBot


def test_health_readiness_and_metrics(http_bot: RunningBot) -> None:
    connected = {"slack": True}
    server = BackgroundServer(
        health_app(http_bot.runtime, lambda: connected["slack"]), "127.0.0.1", 0
    ).start()
    try:
        http_bot.answer(http_bot.slash("help"))
        with httpx.Client(base_url=server.url) as client:
            assert client.get("/healthz").json() == {"status": "ok"}
            ready = client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json() == {"ready": True, "checks": {"redis": True, "slack": True}}
            connected["slack"] = False
            not_ready = client.get("/readyz")
            assert not_ready.status_code == 503
            assert not_ready.json()["checks"] == {"redis": True, "slack": False}
            metrics = client.get("/metrics").text
            assert 'meshbot_commands_total{command="help",outcome="ok"} 1.0' in metrics
            assert 'meshbot_ack_seconds_count{kind="command"} 1.0' in metrics
            assert "meshbot_slack_connected 0.0" in metrics
            assert client.get("/nope").status_code == 404
    finally:
        server.stop()


def test_readiness_fails_when_redis_is_down(http_bot_factory, meshbot_settings_factory) -> None:
    bot = http_bot_factory(meshbot_settings_factory("redis://127.0.0.1:1/0"))
    server = BackgroundServer(health_app(bot.runtime, lambda: True), "127.0.0.1", 0).start()
    try:
        ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"] is False
    finally:
        server.stop()
