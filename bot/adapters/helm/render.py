"""Helm's dry run: a local stand-in API server that answers writes itself and passes reads on.

helm-sdkpy exposes no dry run, and Helm cannot render without a cluster (it asks the API
server which versions it serves and whether names are taken). So for a dry run Helm is
pointed at `RenderStandIn` on 127.0.0.1: every GET goes to the real cluster through the
kube adapter (meshbot's credentials, timeouts, retries — Helm gets no credentials at
all), every write is answered by echoing what was sent. Helm then renders against the
real cluster, fails as the install would on a taken release name or an existing object,
and returns its manifest — while the cluster receives nothing but reads. An object the
dry run "created" is served back from memory if Helm reads it again.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml

Forward = Callable[[str, Sequence[tuple[str, str]]], tuple[int, bytes]]
JSON = "application/json"
SUCCESS = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Success"}).encode()


class RenderStandIn:
    """Started as a context manager; `kubeconfig` is what Helm is given."""

    def __init__(self, forward: Forward) -> None:
        self.forward = forward
        self.created: dict[str, tuple[str, bytes]] = {}
        self.writes: list[tuple[str, str]] = []
        self.reads = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="helm-dry-run", daemon=True
        )

    @property
    def kubeconfig(self) -> str:
        port = self._server.server_port
        return yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "dry-run", "cluster": {"server": f"http://127.0.0.1:{port}"}}
                ],
                "users": [{"name": "dry-run", "user": {}}],
                "contexts": [
                    {"name": "dry-run", "context": {"cluster": "dry-run", "user": "dry-run"}}
                ],
                "current-context": "dry-run",
            }
        )

    def __enter__(self) -> RenderStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def answer(
        self, method: str, target: str, content_type: str, body: bytes
    ) -> tuple[int, str, bytes]:
        split = urlsplit(target)
        path = split.path.rstrip("/")
        if method in ("GET", "HEAD"):
            with self._lock:
                kept = self.created.get(path)
            if kept is not None:
                return 200, kept[0], kept[1]
            with self._lock:
                self.reads += 1
            status, data = self.forward(path or "/", parse_qsl(split.query, keep_blank_values=True))
            return status, JSON, data
        with self._lock:
            self.writes.append((method, path))
        if method == "DELETE":
            return 200, JSON, SUCCESS
        if method == "POST":
            name = _name(content_type, body)
            if name is not None:
                with self._lock:
                    self.created[f"{path}/{name}"] = (content_type, body)
            return 201, content_type, body
        with self._lock:
            kept = self.created.get(path)
            if method == "PUT":
                self.created[path] = (content_type, body)
        if method == "PATCH":
            if kept is not None:
                return 200, kept[0], kept[1]
            status, data = self.forward(path, ())
            return status, JSON, data
        return 200, content_type, body


def _name(content_type: str, body: bytes) -> str | None:
    if not content_type.startswith(JSON):
        return None
    try:
        doc: Any = json.loads(body)
    except ValueError:
        return None
    name = (doc.get("metadata") or {}).get("name") if isinstance(doc, dict) else None
    return name if isinstance(name, str) else None


def _handler(stand_in: RenderStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            content_type = self.headers.get("Content-Type") or JSON
            status, kind, data = stand_in.answer(self.command, self.path, content_type, body)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
