"""`preflight` as users meet it: the `meshbot` CLI in a subprocess (no config file, as in
a CI pipeline) and `/mesh preflight` in Slack through the emulator and the real Bolt app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bot.sandbox.kube import KubeTestServer
from bot.sandbox.kube.seeds import seed_path
from bot.sandbox.slack import SlackEmulator
from tests.fixtures.meshbot import RunningBot

MESHBOT = [sys.executable, "-m", "bot.app.cli"]
PROMETHEUS_DOWN = "http://127.0.0.1:9"


def meshbot(args: list[str], redis_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MESHBOT_", "REDIS_"))
    }
    return subprocess.run(
        [*MESHBOT, *args],
        env={**base, "REDIS_URL": redis_url},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_in_a_pipeline_json_report_and_exit_codes(
    kube_server: KubeTestServer, kubeconfig: Path, tmp_path: Path, clean_redis: str
) -> None:
    kube_server.load_seed(seed_path("problems"))
    flags = [
        "--kubeconfig",
        str(kubeconfig),
        "--context",
        "sandbox",
        "--prometheus",
        PROMETHEUS_DOWN,
    ]
    done = meshbot(["preflight", *flags, "--output", "json"], clean_redis, tmp_path)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["cluster"] == "sandbox" and report["istio"] == "1.30"
    failing = {(c["id"], c["subject"]["name"]) for c in report["checks"] if c["status"] == "fail"}
    assert ("node.conditions", "node-not-ready") in failing
    steal = [c for c in report["checks"] if c["id"] == "node.steal"]
    assert steal and {c["status"] for c in steal} == {"unknown"}

    text = meshbot(
        ["preflight", *flags, "--cluster", "lab", "--istio", "1.29"], clean_redis, tmp_path
    )
    assert text.returncode == 1
    first_row = next(line for line in text.stdout.splitlines() if line.startswith(("FAIL", "WARN")))
    assert first_row.startswith("FAIL")
    assert "Preflight of lab for Istio 1.29" in text.stdout and "kind: IstioOperator" in text.stdout


def test_cli_healthy_cluster_exits_zero(
    kube_server: KubeTestServer, kubeconfig: Path, tmp_path: Path, clean_redis: str
) -> None:
    kube_server.load_seed(seed_path("healthy"))
    done = meshbot(
        ["preflight", "--kubeconfig", str(kubeconfig), "--context", "sandbox"],
        clean_redis,
        tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_cli_usage_and_config_errors_exit_two(
    kube_server: KubeTestServer, kubeconfig: Path, tmp_path: Path, clean_redis: str
) -> None:
    flags = ["--kubeconfig", str(kubeconfig), "--context", "sandbox"]
    version = meshbot(["preflight", *flags, "--istio", "1.99"], clean_redis, tmp_path)
    assert version.returncode == 2
    assert "unknown Istio version `1.99`" in version.stderr and "1.30" in version.stderr
    missing = meshbot(["preflight", "--kubeconfig", str(tmp_path / "nope")], clean_redis, tmp_path)
    assert missing.returncode == 2 and "--kubeconfig" in missing.stderr
    bad_url = meshbot(["preflight", *flags, "--prometheus", "prom:9090"], clean_redis, tmp_path)
    assert bad_url.returncode == 2 and "--prometheus" in bad_url.stderr


def _lab(kubeconfig: Path) -> str:
    return f"clusters:\n  lab:\n    kubeconfig: {kubeconfig}\n    context: sandbox\n"


def test_slack_summary_in_channel_details_in_thread_and_json_file(
    kube_server: KubeTestServer,
    kubeconfig: Path,
    configured_http_bot: Callable[[str], RunningBot],
    slack_emulator: SlackEmulator,
) -> None:
    kube_server.load_seed(seed_path("problems"))
    bot = configured_http_bot(_lab(kubeconfig))
    bot.slash("preflight", user_id="U_VIEWER", channel_id="C_OPS")
    files = slack_emulator.wait_for(slack_emulator.files, timeout=15)
    [top] = [m for m in slack_emulator.messages("C_OPS") if not m.is_reply]
    assert "Preflight lab" in top.text and "not ready" in top.text
    body = json.dumps(top.blocks)
    assert body.index("node.conditions") < body.index("node.cpu-flags")  # failing first
    thread = slack_emulator.thread("C_OPS", top.ts)
    assert len(thread) >= 5
    assert any("node-not-ready" in json.dumps(m.blocks) for m in thread)
    assert any("IstioOperator" in json.dumps(m.blocks) for m in thread)
    [upload] = files
    assert upload.thread_ts == top.ts and upload.name.endswith(".json")
    report = json.loads(upload.data or b"{}")
    assert report["summary"]["fail"] == 6


def test_slack_where_the_bot_cannot_post_answers_ephemerally(
    kube_server: KubeTestServer,
    kubeconfig: Path,
    configured_http_bot: Callable[[str], RunningBot],
    slack_emulator: SlackEmulator,
) -> None:
    kube_server.load_seed(seed_path("healthy"))
    bot = configured_http_bot(_lab(kubeconfig))
    url = bot.slash("preflight istio=1.30", user_id="U_VIEWER", channel_id="C_ELSEWHERE")
    answer = bot.answer(url, timeout=15)
    assert answer["response_type"] == "ephemeral"
    assert "cannot post the preflight report here (channel_not_found)" in json.dumps(
        answer["blocks"]
    )
    assert slack_emulator.files() == []


def test_slack_bad_input_is_an_ephemeral_usage_message(
    kube_server: KubeTestServer,
    kubeconfig: Path,
    configured_http_bot: Callable[[str], RunningBot],
) -> None:
    bot = configured_http_bot(_lab(kubeconfig))
    answer = bot.answer(bot.slash("preflight cluster=nope", user_id="U_VIEWER"), timeout=10)
    assert answer["response_type"] == "ephemeral"
    assert "unknown cluster `nope` (configured: lab)" in answer["text"]
