"""Reads passed through verbatim, for a client that must see the real cluster but not touch it.

Helm's dry run (bot/adapters/helm/render.py) points Helm at a local stand-in that answers
writes itself and sends every read here: Helm then renders against the cluster's real
API versions and sees real name conflicts, while nothing reaches the API server but GETs.
Reads go through the cluster's `Transport`, so they carry meshbot's credentials, timeouts
and retries; an error status is handed back as the server gave it (Helm needs its 404s).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from kubernetes.client.exceptions import ApiException

from bot.adapters.kube.cluster import KubeCluster
from commands.core.errors import ClusterUnavailable


def read_through(
    cluster: KubeCluster, path: str, query: Sequence[tuple[str, str]]
) -> tuple[int, bytes]:
    """The status and JSON body the API server answers to GET `path?query`."""
    try:
        sent = cluster.transport.send("GET", path, query=query, action=f"GET {path}")
    except ApiException as exc:
        body = exc.body if isinstance(exc.body, (bytes, str)) else b""
        return exc.status or 500, body.encode() if isinstance(body, str) else body
    except ClusterUnavailable as exc:
        status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 503}
        return 503, json.dumps({**status, "message": str(exc)}).encode()
    return sent.status, sent.data
