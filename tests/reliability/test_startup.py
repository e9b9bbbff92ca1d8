"""`meshbot serve` that cannot start says why and how to fix it in one line, exit 2, no
traceback; flags are validated like the config; config floors refuse settings that would
hammer Prometheus, Redis or Slack. Run as an operator would: a subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.sandbox.slack import SlackEmulator
from tests.processes import free_port, meshbot_process
from tests.reliability.support import held_port


def run_serve(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, list[str]]:
    with meshbot_process(["serve", *args], env, cwd) as process:
        code = process.wait(timeout=60)
        output = process.stdout.read() if process.stdout else ""
    assert "Traceback" not in output, output
    return code, output.strip().splitlines()


def config(tmp_path: Path, health_port: int, extra: str = "") -> str:
    path = tmp_path / "meshbot.yaml"
    path.write_text(f"health: {{port: {health_port}}}\naccess: {{operators: [U_ALICE]}}\n{extra}")
    return str(path)


@pytest.fixture
def env(slack_emulator: SlackEmulator, signing_secret: str, clean_redis: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": slack_emulator.bot_token,
        "SLACK_SIGNING_SECRET": signing_secret,
        "SLACK_API_URL": slack_emulator.api_url,
        "REDIS_URL": clean_redis,
    }


def test_slack_api_unreachable_at_start(tmp_path: Path, env: dict[str, str]) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/api/"
    code, lines = run_serve(
        ["--http", "--port", "0", "--config", config(tmp_path, free_port())],
        {**env, "SLACK_API_URL": nowhere},
        tmp_path,
    )
    assert code == 2
    assert lines == [
        f"meshbot serve: cannot reach the Slack API at {nowhere} ([Errno 111] Connection "
        "refused): check the network, a proxy (HTTPS_PROXY), or SLACK_API_URL"
    ]


def test_the_http_port_in_use(tmp_path: Path, env: dict[str, str]) -> None:
    with held_port() as port:
        code, lines = run_serve(
            ["--http", "--port", str(port), "--config", config(tmp_path, free_port())],
            env,
            tmp_path,
        )
    assert code == 2
    assert lines == [
        f"meshbot serve: cannot listen on 127.0.0.1:{port} for Slack (HTTP mode): the port is "
        "in use; stop what uses it or choose another (--port / --host, or http.port / "
        "http.host in the config)"
    ]


def test_the_health_port_in_use(tmp_path: Path, env: dict[str, str]) -> None:
    with held_port() as port:
        code, lines = run_serve(
            ["--http", "--port", "0", "--config", config(tmp_path, port)], env, tmp_path
        )
    assert code == 2
    assert lines == [
        f"meshbot serve: cannot listen on 127.0.0.1:{port} for health and metrics: the port "
        "is in use; stop what uses it or choose another (health.port / health.host in the "
        "config)"
    ]


def test_a_redis_url_that_is_not_a_url(tmp_path: Path, env: dict[str, str]) -> None:
    code, lines = run_serve(
        ["--http", "--config", config(tmp_path, free_port())],
        {**env, "REDIS_URL": "notaurl"},
        tmp_path,
    )
    assert code == 2
    assert lines == [
        "meshbot: REDIS_URL is not a Redis URL: use redis://[:PASSWORD@]HOST[:6379][/DB], "
        "rediss://… for TLS or unix:///path/to/redis.sock, or unset it to use the embedded "
        "server"
    ]


@pytest.mark.parametrize(
    ("port", "problem"),
    [
        ("70000", "error: `--port`: a port number from 0 to 65535 (0: any free port), not `70000`"),
        ("-1", "error: `--port`: a port number from 0 to 65535 (0: any free port), not `-1`"),
        ("http", "error: `--port`: a port number from 0 to 65535 (0: any free port), not `http`"),
    ],
)
def test_a_port_flag_out_of_range_is_refused(
    tmp_path: Path, env: dict[str, str], port: str, problem: str
) -> None:
    code, lines = run_serve(
        ["--http", f"--port={port}", "--config", config(tmp_path, free_port())], env, tmp_path
    )
    assert code == 2
    assert problem in lines
    assert lines[-1] == "usage: meshbot serve [--config FILE] [--http] [--host HOST] [--port N]"


@pytest.mark.parametrize(
    ("yaml", "field"),
    [
        (
            "watchers: {cycle_s: 0.001}",
            "watchers.cycle_s: Input should be greater than or equal to 1",
        ),
        ("watchers: {lease_ttl_s: 0.5}", "watchers.lease_ttl_s: Input should be greater than"),
        ("watchers: {cycle_s: 2, lease_ttl_s: 300}", "lease_ttl_s 300 s is too long"),
        ("changes: {hold_retry_s: 0.001}", "changes.hold_retry_s: Input should be greater"),
    ],
)
def test_config_floors_refuse_settings_that_would_hammer_prometheus_or_redis(
    tmp_path: Path, env: dict[str, str], yaml: str, field: str
) -> None:
    code, lines = run_serve(
        ["--http", "--config", config(tmp_path, free_port(), yaml)], env, tmp_path
    )
    assert code == 2
    assert lines[0].endswith("invalid config:") and field in lines[1]
