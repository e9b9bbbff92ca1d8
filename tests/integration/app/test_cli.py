"""The `meshbot` command line as a user runs it, in a subprocess with a clean environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

MESHBOT = [sys.executable, "-m", "bot.app.cli"]


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MESHBOT_", "REDIS_"))
    }
    return subprocess.run(
        [*MESHBOT, *args], env={**base, **env}, cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def config(tmp_path: Path, key_prefix: str) -> Path:
    path = tmp_path / "meshbot.yaml"
    path.write_text(f"redis: {{key_prefix: {key_prefix}, data_dir: {tmp_path / 'data'}}}\n")
    return path


def test_help_works_without_any_slack_token(tmp_path: Path, config: Path) -> None:
    done = run(["help", "--config", str(config)], {}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Slack & CLI commands" in done.stdout
    assert any(line.split()[:1] == ["status"] for line in done.stdout.splitlines())


def test_status_json_on_the_embedded_server(tmp_path: Path, config: Path) -> None:
    done = run(["status", "--output", "json", "--config", str(config)], {}, tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    redis = next(p for p in report["parts"] if p["kind"] == "redis")
    assert redis["state"] == "ok" and redis["detail"].startswith("embedded Valkey")
    assert (tmp_path / "data" / "valkey").is_dir()


def test_status_json_on_real_redis(tmp_path: Path, config: Path, clean_redis: str) -> None:
    done = run(
        ["status", "--output=json", "--config", str(config)], {"REDIS_URL": clean_redis}, tmp_path
    )
    assert done.returncode == 0, done.stderr
    redis = next(p for p in json.loads(done.stdout)["parts"] if p["kind"] == "redis")
    assert redis == {"kind": "redis", "name": "state store", "state": "ok", "detail": clean_redis}


def test_status_with_redis_unreachable_says_so_and_exits_1(tmp_path: Path, config: Path) -> None:
    done = run(
        ["status", "--config", str(config)], {"REDIS_URL": "redis://127.0.0.1:1/0"}, tmp_path
    )
    assert done.returncode == 1
    redis_line = next(line for line in done.stdout.splitlines() if line.startswith("redis"))
    assert redis_line.split()[:4] == ["redis", "state", "store", "unreachable"]
    assert "Redis is unreachable" in redis_line
    assert "Traceback" not in done.stdout + done.stderr


def test_an_invalid_config_exits_2_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("clusters:\n  prod:\n    prometheus: {url: not-a-url}\n")
    done = run(["status"], {"MESHBOT_CONFIG": str(bad)}, tmp_path)
    assert done.returncode == 2
    assert "clusters.prod.prometheus.url" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unknown_command_exits_2_with_usage(tmp_path: Path, config: Path) -> None:
    done = run(["frobnicate", "--config", str(config)], {}, tmp_path)
    assert done.returncode == 2
    assert "unknown command `frobnicate`" in done.stderr and "usage: meshbot help" in done.stderr


def test_serve_without_tokens_names_the_variables(tmp_path: Path, config: Path) -> None:
    done = run(["serve", "--config", str(config)], {}, tmp_path)
    assert done.returncode == 2
    assert "SLACK_BOT_TOKEN, SLACK_APP_TOKEN" in done.stderr
    http = run(
        ["serve", "--http", "--config", str(config)], {"SLACK_BOT_TOKEN": "xoxb-1"}, tmp_path
    )
    assert http.returncode == 2 and "SLACK_SIGNING_SECRET" in http.stderr
