"""Helpers for the fault-matrix tests: an attacker's endpoint, raw HTTP, memory, audit."""

from __future__ import annotations

import http.server
import select
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.core.runtime import Runtime


class AttackerEndpoint:
    """An HTTP server standing for a URL an attacker controls; records every request."""

    def __init__(self) -> None:
        hits: list[str] = []
        self.hits = hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                hits.append(self.path)
                self.send_response(200)
                self.end_headers()

            do_GET = do_POST

            def log_message(self, *args: object) -> None:
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook/T0/B0/x"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> AttackerEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _status_kib(field: str, pid: int | str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def rss_bytes(pid: int | str = "self") -> int:
    """Resident memory of a process now, from /proc."""
    return _status_kib("VmRSS", pid)


@contextmanager
def peak_rss_growth() -> Iterator[Callable[[], int]]:
    """How far this process's peak resident memory rose above its current size during
    the `with` block (Linux: the peak is reset through /proc/self/clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")
    start = rss_bytes()
    yield lambda: _status_kib("VmHWM", "self") - start


def post_huge(
    host: str, port: int, size: int, *, chunked: bool = False, chunk: int = 1 << 16
) -> tuple[int, int]:
    """POST `size` bytes of zeros to /slack/events, streaming them (the sender holds one
    chunk), until the server answers or closes. Returns (status, body bytes sent)."""
    head = f"POST /slack/events HTTP/1.1\r\nHost: {host}\r\n"
    head += "Content-Type: application/x-www-form-urlencoded\r\n"
    head += "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {size}\r\n"
    block = b"0" * chunk
    framed = f"{len(block):x}\r\n".encode() + block + b"\r\n" if chunked else block
    sent, answer, pending = 0, b"", b""
    with socket.create_connection((host, port), timeout=30) as conn:
        conn.sendall((head + "\r\n").encode())
        while True:
            if not pending and sent < size:
                pending, sent = framed, sent + len(block)
            readable, writable, _ = select.select([conn], [conn] if pending else [], [], 30)
            if readable:
                try:
                    more = conn.recv(65536)
                except OSError:
                    more = b""
                answer += more
                if not more or b"\r\n" in answer:
                    break
            if writable:
                try:
                    pending = pending[conn.send(pending) :]
                except OSError:
                    break
            if not readable and not writable:
                break
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, sent


def audit_entries(runtime: Runtime, cluster: str) -> list[dict[str, str]]:
    return [dict(e.fields) for e in runtime.store.read_audit(cluster, count=1000)]


@contextmanager
def held_port() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that something is listening on for the `with` block."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])
