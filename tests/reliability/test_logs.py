"""Quiet logs under a burst: `meshbot serve --http` (a subprocess, logs as an operator
reads them) takes 200 signed commands at once and one forged request; what it writes is
what an operator wants: no library chatter, no flood, never the forged body."""

from __future__ import annotations

import json
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bot.sandbox.slack import SignedClient, SlackEmulator, slash_command_body
from tests.processes import free_port, meshbot_process, wait_http

BURST = 200
MARKER = "attacker-wrote-this-into-your-logs"


def test_a_burst_and_a_forged_request_leave_a_few_lines_and_no_body(
    tmp_path: Path, slack_emulator: SlackEmulator, signing_secret: str, clean_redis: str
) -> None:
    health, port = free_port(), free_port()
    config = tmp_path / "meshbot.yaml"
    config.write_text(f"health: {{port: {health}}}\naccess: {{operators: [U_ALICE]}}\n")
    env = {
        "SLACK_BOT_TOKEN": slack_emulator.bot_token,
        "SLACK_SIGNING_SECRET": signing_secret,
        "SLACK_API_URL": slack_emulator.api_url,
        "REDIS_URL": clean_redis,
    }
    args = ["serve", "--http", "--port", str(port), "--config", str(config)]
    with meshbot_process(args, env, tmp_path) as process:
        wait_http(f"http://127.0.0.1:{health}/readyz", ok_only=True)
        urls = [slack_emulator.new_response_url("C_OPS", "U_ALICE") for _ in range(BURST)]
        with SignedClient(f"http://127.0.0.1:{port}", signing_secret) as client:
            with ThreadPoolExecutor(50) as pool:
                codes = list(pool.map(lambda u: client.slash("help", response_url=u), urls))
            forged = httpx.post(
                f"http://127.0.0.1:{port}/slack/events",
                content=slash_command_body(text=MARKER, response_url=urls[0]),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Slack-Request-Timestamp": "notanumber",
                    "X-Slack-Signature": "v0=" + "0" * 64,
                },
            )
        assert [c.status_code for c in codes] == [200] * BURST and forged.status_code == 401
        slack_emulator.wait_for(lambda: len(slack_emulator.responses()) >= BURST, timeout=60)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        output = process.stdout.read() if process.stdout else ""
    lines = output.strip().splitlines()
    messages = [json.loads(line)["message"] for line in lines]
    assert MARKER not in output
    assert [m for m in messages if m.startswith("refused")] == [
        "refused 401 from 127.0.0.1: not signed by Slack: X-Slack-Request-Timestamp is not a "
        "Unix time in seconds"
    ]
    assert sum("Task queue depth" in m for m in messages) <= 1
    assert not any("HTTP Request:" in m or "will be unused" in m for m in messages)
    assert len(lines) <= 8, "\n".join(messages)
