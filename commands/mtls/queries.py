"""PromQL for mTLS readiness and the bake window, kept apart from the HTTP client.

Every query covers all workloads of the scope at once (grouped by labels), never one
query per service. Plaintext is only meaningful as seen by the destination's proxy
(`reporter="destination"`, `connection_security_policy` = none/unknown). After STRICT,
rejected plaintext never becomes a destination-side request, so the bake window looks
at the client side (`reporter="source"`): 5xx, connection failures, p99.
"""

from __future__ import annotations

import re

NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
PLAINTEXT_BY = (
    "destination_workload_namespace, destination_workload, "
    "source_workload_namespace, source_workload"
)
WORKLOAD_BY = "destination_workload_namespace, destination_workload"
CONNECTION_FAILURE_FLAGS = "UF|URX|UC|UH|UPE"


def _window(seconds: float) -> str:
    return f"{max(1, round(seconds))}s"


def _scope(namespace: str | None) -> str:
    if namespace is None:
        return ""
    if not NAMESPACE.match(namespace):
        raise ValueError(f"not a namespace name: {namespace!r}")
    return f', destination_workload_namespace="{namespace}"'


def plaintext_requests(window_s: float, namespace: str | None = None) -> str:
    return (
        f"sum by ({PLAINTEXT_BY}) (increase(istio_requests_total"
        f'{{reporter="destination", connection_security_policy!="mutual_tls"{_scope(namespace)}}}'
        f"[{_window(window_s)}]))"
    )


def plaintext_connections(window_s: float, namespace: str | None = None) -> str:
    return (
        f"sum by ({PLAINTEXT_BY}) (increase(istio_tcp_connections_opened_total"
        f'{{reporter="destination", connection_security_policy!="mutual_tls"{_scope(namespace)}}}'
        f"[{_window(window_s)}]))"
    )


def inbound_selector(namespace: str | None = None) -> str:
    """Every inbound series (requests and TCP connections) of the scope, for coverage."""
    return (
        '{__name__=~"istio_requests_total|istio_tcp_connections_opened_total", '
        f'reporter="destination"{_scope(namespace)}}}'
    )


def client_selector(namespace: str | None = None) -> str:
    """Every client-side request series of the scope (the bake window's baseline)."""
    return f'istio_requests_total{{reporter="source"{_scope(namespace)}}}'


def inbound_requests(window_s: float, namespace: str | None = None) -> str:
    return (
        "sum by (destination_workload_namespace) (increase(istio_requests_total"
        f'{{reporter="destination"{_scope(namespace)}}}[{_window(window_s)}]))'
    )


def inbound_connections(window_s: float, namespace: str | None = None) -> str:
    return (
        "sum by (destination_workload_namespace) (increase(istio_tcp_connections_opened_total"
        f'{{reporter="destination"{_scope(namespace)}}}[{_window(window_s)}]))'
    )


# ---- bake window (client side) -------------------------------------------------------


def client_requests(window_s: float, namespace: str | None = None) -> str:
    return (
        f"sum by ({WORKLOAD_BY}) (increase(istio_requests_total"
        f'{{reporter="source"{_scope(namespace)}}}[{_window(window_s)}]))'
    )


def client_errors(window_s: float, namespace: str | None = None) -> str:
    return (
        f"sum by ({WORKLOAD_BY}) (increase(istio_requests_total"
        f'{{reporter="source", response_code=~"5.."{_scope(namespace)}}}[{_window(window_s)}]))'
    )


def client_connection_failures(window_s: float, namespace: str | None = None) -> str:
    flags = CONNECTION_FAILURE_FLAGS
    scope = _scope(namespace)
    w = _window(window_s)
    return (
        f"sum by ({WORKLOAD_BY}) (increase(istio_requests_total"
        f'{{reporter="source", response_flags=~"{flags}"{scope}}}[{w}]))'
        f" or sum by ({WORKLOAD_BY}) (increase(istio_tcp_connections_closed_total"
        f'{{reporter="source", response_flags=~"{flags}"{scope}}}[{w}]))'
    )


def client_p99(window_s: float, namespace: str | None = None) -> str:
    return (
        f"histogram_quantile(0.99, sum by (le, {WORKLOAD_BY}) "
        "(rate(istio_request_duration_milliseconds_bucket"
        f'{{reporter="source"{_scope(namespace)}}}[{_window(window_s)}])))'
    )
