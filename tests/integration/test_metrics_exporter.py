"""The exporter over real HTTP, and ``serve_forever`` as a process that stops on SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import httpx

from bot.sandbox.metrics import scenario_path


def test_exporter_serves_exposition_text(metrics_exporter):
    exporter = metrics_exporter("baseline")
    response = httpx.get(exporter.url, timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE node_cpu_seconds_total counter" in response.text
    assert httpx.get(exporter.url.replace("/metrics", "/nope"), timeout=5).status_code == 404


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_forever_until_sigterm():
    port = _free_port()
    code = (
        "import sys; from bot.sandbox.metrics import serve_forever; "
        "serve_forever(sys.argv[1], int(sys.argv[2]))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(scenario_path("three-hop")), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 15
        text = ""
        while time.monotonic() < deadline and not text:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
            except httpx.HTTPError:
                time.sleep(0.1)
        assert "node_uname_info" in text
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stderr is not None
        process.stderr.close()
