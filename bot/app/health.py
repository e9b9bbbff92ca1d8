"""`/healthz`, `/readyz` and `/metrics` on their own port.

Liveness says the process answers; readiness says this replica can do its job (Redis
reachable, Slack connected), so an orchestrator routes nothing to a replica that
would only fail. Served by waitress in a background thread.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.task import ErrorTask

from bot.core.runtime import Runtime
from commands.core.errors import PortError

StartResponse = Callable[..., Any]
log = logging.getLogger("meshbot.front")
DEFAULT_MAX_BODY = 1 << 20


def health_app(runtime: Runtime, slack_connected: Callable[[], bool]) -> Callable[..., Any]:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _json(start_response, 200, {"status": "ok"})
        if path == "/readyz":
            checks = {"redis": _redis_ok(runtime), "slack": slack_connected()}
            status = 200 if all(checks.values()) else 503
            return _json(start_response, status, {"ready": status == 200, "checks": checks})
        if path == "/metrics":
            runtime.telemetry.slack_connected.set(1 if slack_connected() else 0)
            body = generate_latest(runtime.telemetry.registry)
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [body]
        return _json(start_response, 404, {"error": "not found"})

    return app


def _redis_ok(runtime: Runtime) -> bool:
    try:
        runtime.store.ping()
    except PortError:
        return False
    return True


def _json(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
    start_response(f"{status} {reason}", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


class BackgroundServer:
    """A waitress server running in a daemon thread; `port` is known once built.

    The thread runs waitress's poll loop one step at a time so that `stop` can end it
    first and only then close the sockets: closing them under a running `select` would
    make the loop fail with EBADF. A body over `max_body` bytes is refused (413) from
    its Content-Length, or once a chunked body passes it, without reading further; what
    waitress refuses itself is logged in one line like the app's own refusals.
    """

    def __init__(
        self,
        app: Callable[..., Any],
        host: str,
        port: int,
        threads: int = 4,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self._server: Any = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="meshbot",
            clear_untrusted_proxy_headers=True,
            max_request_body_size=max_body + 1,  # waitress refuses a length >= this
        )
        self._server.channel_class = _LoggedRefusals
        self.port: int = self._server.effective_port
        self.host = host
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"http-{self.port}", daemon=True)

    def start(self) -> BackgroundServer:
        self._thread.start()
        return self

    def _loop(self) -> None:
        server = self._server
        while not self._stopping.is_set():
            server.asyncore.loop(timeout=0.2, map=server._map, count=1)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._server.pull_trigger()
            self._thread.join(timeout=5)
        self._server.task_dispatcher.shutdown()
        wasyncore.close_all(self._server._map)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class _RefusalTask(ErrorTask):  # type: ignore[misc]
    def execute(self) -> None:
        error = self.request.error
        peer = self.channel.addr[0] if self.channel.addr else "?"
        if error.code == 413:
            why = f"body larger than {self.channel.adj.max_request_body_size - 1} bytes"
        else:
            why = f"{error.reason}: {str(error.body)[:200]}"
        log.warning("refused %d from %s: %s", error.code, peer, why)
        super().execute()


class _LoggedRefusals(HTTPChannel):  # type: ignore[misc]
    error_task_class = _RefusalTask
