"""Running meshbot (or a sandbox part) as a subprocess the way an operator would."""

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
from typing import Any

import httpx

CLEARED_PREFIXES = ("SLACK_", "MESHBOT_", "REDIS_")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def meshbot_process(
    args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> Iterator[subprocess.Popen[str]]:
    """`meshbot ARGS` with the caller's environment minus meshbot's own variables."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED_PREFIXES)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.app.cli", *args],
        env={**base, **(env or {})},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        stop(process)
        if process.stdout:
            process.stdout.close()


def run_meshbot(
    args: list[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 90.0,
) -> subprocess.CompletedProcess[str]:
    """`meshbot ARGS` to completion, as typed in a shell: stdout and stderr kept apart."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED_PREFIXES)}
    return subprocess.run(
        [sys.executable, "-m", "bot.app.cli", *args],
        env={**base, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def stop(process: subprocess.Popen[str], timeout: float = 15.0) -> int:
    """SIGTERM, then SIGKILL if it does not exit in time; returns the exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def wait_http(
    url: str, timeout: float = 90.0, ok_only: bool = False, **kwargs: Any
) -> httpx.Response:
    """Retry until `url` answers (with 200, when `ok_only`)."""
    method = kwargs.pop("method", "GET")
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = httpx.request(method, url, timeout=2, **kwargs)
            if not ok_only or answer.status_code == 200:
                return answer
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout} s")
        time.sleep(0.2)
