"""The Metrics port over the Prometheus HTTP API, through `httpx.Client`.

Works the same against Prometheus, Thanos, Mimir/Cortex (tenant header `X-Scope-OrgID`)
and VictoriaMetrics: only `/api/v1/query`, `/api/v1/query_range` and
`/api/v1/status/buildinfo` are used.
Auth (bearer or basic), a custom CA and a transport seam (tests swap the network) are
set once in the client. Errors become `MetricsUnavailable`; the token never appears in
a message.

httpx exception tree handled here: `httpx.TransportError` (connect, read timeout, …)
→ unreachable; `httpx.HTTPStatusError` → answered with an error status; a body that is
not Prometheus JSON → bad answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from commands.core.errors import MetricsUnavailable
from commands.core.ports import Sample


class PrometheusMetrics:
    def __init__(
        self,
        url: str,
        *,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        ca_file: str | None = None,
        tenant: str | None = None,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        headers = {"Accept": "application/json"}
        if bearer_token:
            headers["Authorization"] = f"Bearer {bearer_token}"
        if tenant:
            headers["X-Scope-OrgID"] = tenant
        self._client = httpx.Client(
            base_url=self.url,
            headers=headers,
            auth=httpx.BasicAuth(*basic_auth) if basic_auth else None,
            verify=ca_file if ca_file else True,
            timeout=timeout_s,
            transport=transport,
        )

    def describe(self) -> str:
        return self.url

    def ping(self) -> str:
        data = self._get("/api/v1/status/buildinfo", {})
        return str(data.get("version", "unknown")) if isinstance(data, dict) else "unknown"

    def query(self, promql: str, *, at: float | None = None) -> Sequence[Sample]:
        params: dict[str, Any] = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self._get("/api/v1/query", params)
        if not isinstance(data, dict) or data.get("resultType") not in {"vector", "scalar"}:
            raise MetricsUnavailable(f"{self.url}: expected an instant vector")
        if data["resultType"] == "scalar":
            return [Sample({}, float(data["result"][1]))]
        return [Sample(dict(row["metric"]), float(row["value"][1])) for row in data["result"]]

    def query_range(
        self, promql: str, start: float, end: float, step_s: float
    ) -> Sequence[tuple[float, float]]:
        params = {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": step_s}
        data = self._get("/api/v1/query_range", params)
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            raise MetricsUnavailable(f"{self.url}: expected a range vector")
        if not data["result"]:
            return []
        points = [(float(t), float(v)) for t, v in data["result"][0]["values"]]
        return [(t, v) for t, v in points if v == v]  # NaN: no value at that step

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        try:
            response = self._client.get(path, params=params)
            body = response.json()
        except httpx.TransportError as exc:
            raise MetricsUnavailable(f"Prometheus at {self.url} is unreachable: {exc}") from exc
        except ValueError as exc:
            raise MetricsUnavailable(
                f"Prometheus at {self.url} answered {response.status_code} with a body "
                "that is not JSON"
            ) from exc
        if response.status_code >= 400 or body.get("status") != "success":
            error = body.get("error") or response.reason_phrase
            raise MetricsUnavailable(
                f"Prometheus at {self.url} answered {response.status_code}: {error}"
            )
        return body.get("data")

    def close(self) -> None:
        self._client.close()
