"""The exporter over real HTTP, and ``serve_forever`` as a process that stops on SIGTERM."""

from __future__ import annotations

import httpx


def test_exporter_serves_exposition_text(metrics_exporter):
    exporter = metrics_exporter("baseline")
    response = httpx.get(exporter.url, timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE node_cpu_seconds_total counter" in response.text
    assert httpx.get(exporter.url.replace("/metrics", "/nope"), timeout=5).status_code == 404
