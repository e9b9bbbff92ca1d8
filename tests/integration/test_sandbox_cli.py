"""`meshbot sandbox cluster|metrics|slack` as the README documents them, in subprocesses."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def meshbot(*args: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def wait_http(url: str, timeout: float = 20.0, **kwargs: object) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.request(kwargs.pop("method", "GET"), url, **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_sandbox_cluster_serves_a_seed_that_kubectl_reads(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (expected at /usr/bin/kubectl)")
    port, kubeconfig = free_port(), tmp_path / "kubeconfig"
    with meshbot(
        "sandbox",
        "cluster",
        "--seed",
        "healthy",
        "--port",
        str(port),
        "--kubeconfig-out",
        str(kubeconfig),
    ):
        wait_http(f"http://127.0.0.1:{port}/version")
        done = subprocess.run(
            [kubectl, "--kubeconfig", str(kubeconfig), "get", "nodes", "-o", "name"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["node/node-a", "node/node-b", "node/node-c"]


def test_sandbox_metrics_serves_a_shipped_scenario_by_name() -> None:
    port = free_port()
    with meshbot("sandbox", "metrics", "--scenario", "baseline", "--port", str(port)):
        body = wait_http(f"http://127.0.0.1:{port}/metrics").text
    assert "istio_request_duration_milliseconds_bucket{" in body
    assert "node_cpu_seconds_total{" in body and 'mode="steal"' in body


def test_sandbox_slack_answers_auth_test() -> None:
    port = free_port()
    with meshbot("sandbox", "slack", "--port", str(port)):
        answer = wait_http(
            f"http://127.0.0.1:{port}/api/auth.test",
            method="POST",
            headers={"Authorization": "Bearer xoxb-test"},
        )
    assert answer.json()["ok"] is True


def test_a_missing_seed_or_scenario_exits_2_with_a_message() -> None:
    for args in (["cluster", "--seed", "no-such.yaml"], ["metrics", "--scenario", "nope"]):
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "sandbox", *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 2
        assert "Traceback" not in done.stderr and args[-1] in done.stderr
