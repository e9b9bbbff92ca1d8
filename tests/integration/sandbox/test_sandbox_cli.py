"""`meshbot sandbox cluster|metrics|slack` as the README documents them, in subprocesses."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.fixtures.shared import missing
from tests.processes import free_port, meshbot_process, stop, wait_http


def test_sandbox_cluster_serves_a_seed_that_kubectl_reads(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        missing("kubectl is not installed (expected at /usr/bin/kubectl)")
    port, kubeconfig = free_port(), tmp_path / "kubeconfig"
    args = ["sandbox", "cluster", "--seed", "healthy", "--port", str(port)]
    with meshbot_process([*args, "--kubeconfig-out", str(kubeconfig)]) as process:
        wait_http(f"http://127.0.0.1:{port}/version")
        done = subprocess.run(
            [kubectl, "--kubeconfig", str(kubeconfig), "get", "nodes", "-o", "name"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert stop(process) == 0
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["node/node-a", "node/node-b", "node/node-c"]


def test_sandbox_metrics_serves_a_shipped_scenario_by_name() -> None:
    port = free_port()
    args = ["sandbox", "metrics", "--scenario", "baseline", "--port", str(port)]
    with meshbot_process(args) as process:
        body = wait_http(f"http://127.0.0.1:{port}/metrics").text
        assert stop(process) == 0
    assert "istio_request_duration_milliseconds_bucket{" in body
    assert "node_cpu_seconds_total{" in body and 'mode="steal"' in body


def test_sandbox_slack_answers_auth_test() -> None:
    port = free_port()
    with meshbot_process(["sandbox", "slack", "--port", str(port)]):
        answer = wait_http(
            f"http://127.0.0.1:{port}/api/auth.test",
            method="POST",
            headers={"Authorization": "Bearer xoxb-test"},
        )
    assert answer.json()["ok"] is True


def test_a_missing_seed_or_scenario_exits_2_with_a_message() -> None:
    for args in (["cluster", "--seed", "no-such.yaml"], ["metrics", "--scenario", "nope"]):
        done = subprocess.run(
            [sys.executable, "-m", "bot.app.cli", "sandbox", *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 2
        assert "Traceback" not in done.stderr and args[-1] in done.stderr
