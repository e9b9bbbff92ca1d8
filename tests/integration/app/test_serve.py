"""`meshbot serve` as an operator runs it: a subprocess with tokens in the environment,
Socket Mode or HTTP, against the Slack emulator; health on its own port; clean stop."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from bot.sandbox.slack import SignedClient, SlackEmulator
from tests.processes import free_port, meshbot_process, wait_http


def serve(args: list[str], env: dict[str, str], cwd: Path):
    return meshbot_process(["serve", *args], env, cwd)


def wait_ready(url: str) -> httpx.Response:
    return wait_http(url, ok_only=True)


def write_config(tmp_path: Path, health_port: int, http_port: int = 0) -> Path:
    config = tmp_path / "meshbot.yaml"
    config.write_text(
        f"redis: {{data_dir: {tmp_path / 'data'}}}\n"
        f"health: {{port: {health_port}}}\n"
        f"http: {{port: {http_port}}}\n"
        "access: {operators: [U_ALICE]}\n"
    )
    return config


def test_socket_mode_serve_on_the_embedded_redis_answers_and_stops_cleanly(
    tmp_path: Path, slack_emulator: SlackEmulator
) -> None:
    health = free_port()
    env = {
        "SLACK_BOT_TOKEN": slack_emulator.bot_token,
        "SLACK_APP_TOKEN": slack_emulator.app_token,
        "SLACK_API_URL": slack_emulator.api_url,
    }
    with serve(["--config", str(write_config(tmp_path, health))], env, tmp_path) as process:
        ready = wait_ready(f"http://127.0.0.1:{health}/readyz")
        assert ready.json()["checks"] == {"redis": True, "slack": True}
        envelope = slack_emulator.socket.send_slash_command(text="status", user_id="U_ALICE")
        slack_emulator.socket.wait_for_ack(envelope)
        post = slack_emulator.wait_for(lambda: slack_emulator.responses(), timeout=10)[0]
        assert "embedded Valkey" in str(post.body["blocks"])
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        output = process.stdout.read() if process.stdout else ""
    assert "xoxb" not in output and "xapp" not in output
    assert (tmp_path / "data" / "valkey").is_dir()
    assert not (tmp_path / "data" / "valkey" / "valkey.pid").exists()


def test_http_mode_serve_verifies_signatures(
    tmp_path: Path, slack_emulator: SlackEmulator, signing_secret: str, clean_redis: str
) -> None:
    health, port = free_port(), free_port()
    env = {
        "SLACK_BOT_TOKEN": slack_emulator.bot_token,
        "SLACK_SIGNING_SECRET": signing_secret,
        "SLACK_API_URL": slack_emulator.api_url,
        "REDIS_URL": clean_redis,
    }
    config = write_config(tmp_path, health)
    with serve(["--http", "--port", str(port), "--config", str(config)], env, tmp_path):
        wait_ready(f"http://127.0.0.1:{health}/readyz")
        url = slack_emulator.new_response_url("C_OPS", "U_ALICE")
        with SignedClient(f"http://127.0.0.1:{port}", signing_secret) as client:
            assert client.slash("help", user_id="U_ALICE", response_url=url).status_code == 200
        with SignedClient(f"http://127.0.0.1:{port}", "wrong-secret") as forger:
            assert forger.slash("help", user_id="U_ALICE").status_code == 401
        post = slack_emulator.wait_for(lambda: slack_emulator.responses(url), timeout=10)[0]
        assert post.body["text"] == "meshbot commands"
        metrics = httpx.get(f"http://127.0.0.1:{health}/metrics").text
        assert 'meshbot_commands_total{command="help",outcome="ok"} 1.0' in metrics


def test_serve_with_a_token_slack_refuses_exits_2(
    tmp_path: Path, slack_emulator: SlackEmulator
) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-revoked",
        "SLACK_APP_TOKEN": slack_emulator.app_token,
        "SLACK_API_URL": slack_emulator.api_url,
    }
    with serve(["--config", str(write_config(tmp_path, free_port()))], env, tmp_path) as process:
        assert process.wait(timeout=30) == 2
        output = process.stdout.read() if process.stdout else ""
    assert "Slack refused the bot token" in output and "xoxb-revoked" not in output
