"""What every end-to-end benchmark measures the same way: a process, and what it asked for.

A figure a user would recognise is a whole process — interpreter start, imports, the
work, writing the answer, exit — so each approach runs as its own child and is timed
from spawn to exit, with its peak RSS taken from the kernel (`wait4`), not guessed from
inside. Requests and bytes are counted on the wire by a pass-through proxy in front of
the real server, so the counts are the same for meshbot and for the approaches it is
compared with. Machine facts go into every report: figures from a shared 2-core machine
mean little without the load they were taken under.
"""

from __future__ import annotations

import http.client
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

GNU_TIME = "/usr/bin/time"
RSS_MARK = "meshbot-bench-maxrss-kb="


def user_env(**extra: str) -> dict[str, str]:
    """This environment as a user's shell has it: Python caches bytecode (a sandbox's
    PYTHONDONTWRITEBYTECODE would make every child compile meshbot's modules again, a
    cost no installed meshbot pays after its first run), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return env | extra


def compile_tree() -> None:
    """Byte-compile this checkout's packages once, as the first run of an install does."""
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "bot", "commands", "tests/bench"],
        cwd=root,
        env=user_env(),
        check=False,
        capture_output=True,
    )


@dataclass
class ProcessRun:
    """One child process: wall seconds from spawn to exit, peak RSS, its output."""

    wall_s: float
    rss_mb: float
    returncode: int
    stdout: bytes
    stderr: bytes


def run_process(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 900.0
) -> ProcessRun:
    """Run `argv` to completion; peak RSS from the kernel's rusage of that process alone.

    Under GNU time when installed: a child forked from this (large) process counts this
    process's pages until it execs, so its own `wait4` figure can be ours."""
    timed = Path(GNU_TIME).exists()
    command = [GNU_TIME, "-f", RSS_MARK + "%M", *argv] if timed else list(argv)
    started = time.perf_counter()
    child = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=dict(env) if env is not None else None,
    )
    out: list[bytes] = []
    err: list[bytes] = []
    readers = [
        threading.Thread(target=lambda: out.append(child.stdout.read()), daemon=True),  # type: ignore[union-attr]
        threading.Thread(target=lambda: err.append(child.stderr.read()), daemon=True),  # type: ignore[union-attr]
    ]
    for reader in readers:
        reader.start()
    deadline = started + timeout
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            child.kill()
            pid, status, usage = os.wait4(child.pid, 0)
            break
        time.sleep(0.002)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join(timeout=10)
    stderr = b"".join(err)
    rss_kb = usage.ru_maxrss
    if timed:
        head, _, tail = stderr.rpartition(RSS_MARK.encode())
        if tail.strip().isdigit():
            rss_kb, stderr = int(tail.strip()), head
    return ProcessRun(
        wall_s=wall,
        rss_mb=rss_kb / 1024,
        returncode=child.returncode,
        stdout=b"".join(out),
        stderr=stderr,
    )


@dataclass
class WireCounts:
    requests: int = 0
    bytes_out: int = 0
    paths: dict[str, int] = field(default_factory=dict)


class CountingProxy:
    """An HTTP pass-through to `upstream` counting requests and response body bytes.

    Used in front of Prometheus so meshbot, the floor and the naive approach are counted
    by the same wire, whatever client library each uses.
    """

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.host, self.port_up = parts.hostname or "127.0.0.1", parts.port or 80
        self.counts = WireCounts()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else headers then body meet delayed ACKs: 40 ms

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "connection", "accept-encoding")
                }
                upstream_conn = http.client.HTTPConnection(proxy.host, proxy.port_up, timeout=300)
                upstream_conn.request(self.command, self.path, body=body, headers=headers)
                answer = upstream_conn.getresponse()
                data = answer.read()
                upstream_conn.close()
                proxy._count(self.path, len(data))
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _forward
            do_POST = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def retarget(self, upstream: str) -> None:
        """Forward to `upstream` from now on (a restarted server on another port)."""
        parts = urlsplit(upstream)
        self.host, self.port_up = parts.hostname or "127.0.0.1", parts.port or 80

    def _count(self, path: str, size: int) -> None:
        endpoint = path.partition("?")[0]
        with self._lock:
            self.counts.requests += 1
            self.counts.bytes_out += size
            self.counts.paths[endpoint] = self.counts.paths.get(endpoint, 0) + 1

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def queries(self) -> int:
        """PromQL evaluations: instant and range queries (not buildinfo or readiness)."""
        return sum(n for p, n in self.counts.paths.items() if p.startswith("/api/v1/query"))

    def reset(self) -> WireCounts:
        with self._lock:
            counts, self.counts = self.counts, WireCounts()
        return counts

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def machine() -> dict[str, str]:
    """What the figures were taken on, and under which load."""
    load = os.getloadavg()
    return {
        "cpus": str(os.cpu_count()),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "load": f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        "memory": _memory(),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        with open("/proc/meminfo", encoding="utf-8") as info:
            total_kb = int(info.readline().split()[1])
        return f"{total_kb / 1024**2:.1f} GiB"
    except (OSError, ValueError, IndexError):
        return "unknown"


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")
