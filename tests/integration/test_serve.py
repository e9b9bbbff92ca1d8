"""`meshbot serve` as an operator runs it: a subprocess with tokens in the environment,
Socket Mode or HTTP, against the Slack emulator; health on its own port; clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bot.sandbox.slack import SignedClient, SlackEmulator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(args: list[str], env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[str]]:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MESHBOT_", "REDIS_"))
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", *args],
        env={**base, **env},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout:
            process.stdout.close()


def wait_ready(url: str, timeout: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = httpx.get(url, timeout=2)
            if answer.status_code == 200:
                return answer
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} never became ready")
        time.sleep(0.2)


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
