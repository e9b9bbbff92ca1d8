"""A tiny HTTP exporter so a real Prometheus can scrape the simulator.

It binds 127.0.0.1 only (a test stand-in, not a service) on a chosen or free port,
serves ``/metrics`` from ``MetricsSimulator.render_now`` and stops cleanly (socket
closed, thread joined) so tests run under ``filterwarnings = error``.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from bot.sandbox.metrics.simulator import MetricsSimulator

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] not in ("/metrics", "/"):
            self.send_error(404, "try /metrics")
            return
        body = self.server.simulator.render_now().encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Scrapes every second would flood stderr; stay quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], simulator: MetricsSimulator) -> None:
        super().__init__(address, _Handler)
        self.simulator = simulator


class MetricsExporter:
    """``with MetricsExporter(sim) as exporter: ... exporter.url``"""

    def __init__(self, simulator: MetricsSimulator, port: int = 0, host: str = "127.0.0.1") -> None:
        self.simulator = simulator
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> MetricsExporter:
        if self._server is not None:
            return self
        self._server = _Server(self._address, self.simulator)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"metrics-exporter:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("exporter not started")
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return self._address[0]

    @property
    def target(self) -> str:
        """``host:port`` as a Prometheus static_config target."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.target}/metrics"

    def __enter__(self) -> MetricsExporter:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
