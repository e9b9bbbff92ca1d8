"""The HTTP side of the emulator: ``/api/<method>``, upload URLs and response URLs.

Why this exists: ``slack_sdk.WebClient(base_url=...)`` and Bolt's ``respond`` speak plain
HTTP, so the emulator is a real HTTP server on 127.0.0.1 in a thread (stdlib
``ThreadingHTTPServer``, one request per connection so stopping never waits on an idle
keep-alive). This module only decodes requests the way Slack accepts them — form or
JSON bodies, query strings, ``Authorization: Bearer`` or a ``token`` field — injects
the faults a test asked for (429 with ``Retry-After``, 5xx), and encodes the answer;
what a method does is in methods.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit


class Backend(Protocol):
    """What the HTTP layer calls into (implemented by SlackEmulator)."""

    def handle_api(
        self, method: str, params: dict[str, Any], token: str | None, json_body: bool
    ) -> tuple[int, dict[str, str], dict[str, Any]]: ...

    def handle_upload(self, file_id: str, data: bytes) -> tuple[int, str]: ...

    def handle_response_url(
        self, url_id: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]: ...


@dataclass
class Fault:
    """The next ``count`` calls of a method answer ``status`` (429 adds Retry-After)."""

    status: int
    count: int
    retry_after: int = 1


class Faults:
    """Injected failures by method name (``"*"`` matches every method)."""

    def __init__(self) -> None:
        self._faults: dict[str, list[Fault]] = {}
        self._lock = threading.Lock()

    def add(self, method: str, fault: Fault) -> None:
        with self._lock:
            self._faults.setdefault(method, []).append(fault)

    def take(self, method: str) -> Fault | None:
        with self._lock:
            for key in (method, "*"):
                queue = self._faults.get(key)
                while queue:
                    fault = queue[0]
                    if fault.count <= 0:
                        queue.pop(0)
                        continue
                    fault.count -= 1
                    return fault
            return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


def parse_params(query: str, content_type: str, raw: bytes) -> tuple[dict[str, Any], bool]:
    """Merge query string and body into one dict; True when the body was JSON."""
    params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == "application/json" and raw:
        body = json.loads(raw.decode("utf-8"))
        if not isinstance(body, dict):
            raise ValueError("JSON body must be an object")
        params.update(body)
        return params, True
    if raw and ctype in ("", "application/x-www-form-urlencoded"):
        form = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
        params.update({k: v[-1] for k, v in form.items()})
    return params, False


class _Handler(BaseHTTPRequestHandler):
    server: EmulatorHTTPServer
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode("utf-8")
        self._send(status, data, "application/json; charset=utf-8", headers)

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def _route(self) -> None:
        parts = urlsplit(self.path)
        raw = self._read_body()
        backend = self.server.backend
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) == 2 and segments[0] == "api":
            self._api(segments[1], parts.query, raw)
        elif len(segments) == 2 and segments[0] == "upload" and self.command == "POST":
            status, text = backend.handle_upload(segments[1], raw)
            self._send(status, text.encode(), "text/plain; charset=utf-8")
        elif len(segments) == 2 and segments[0] == "response" and self.command == "POST":
            try:
                params, _ = parse_params("", self.headers.get("Content-Type", ""), raw)
                if isinstance(params.get("payload"), str):
                    params = json.loads(params["payload"])
            except ValueError:
                self._send_json(400, {"ok": False, "error": "invalid_payload"})
                return
            status, body = backend.handle_response_url(segments[1], params)
            self._send_json(status, body)
        elif self.server.web is not None and self.server.web(self, parts.path, parts.query, raw):
            return
        else:
            self._send_json(404, {"ok": False, "error": "not_found"})

    def _api(self, method: str, query: str, raw: bytes) -> None:
        try:
            params, is_json = parse_params(query, self.headers.get("Content-Type", ""), raw)
        except (ValueError, UnicodeDecodeError):
            self._send_json(200, {"ok": False, "error": "invalid_json"})
            return
        token = None
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        elif not is_json and params.get("token"):
            token = str(params["token"])
        params.pop("token", None)
        status, headers, body = self.server.backend.handle_api(method, params, token, is_json)
        self._send_json(status, body, headers)


# Extra routes (the browser workspace, web/): (handler, path, query, body) -> handled?
WebRoutes = Callable[[BaseHTTPRequestHandler, str, str, bytes], bool]


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server bound to a backend; ``start()`` serves in a thread."""

    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        backend: Backend,
        host: str = "127.0.0.1",
        port: int = 0,
        web: WebRoutes | None = None,
    ) -> None:
        super().__init__((host, port), _Handler)
        self.backend = backend
        self.web = web
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="slack-emulator-http",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
