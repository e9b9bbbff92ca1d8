"""Benchmark: what HTTPS and RBAC enforcement cost the Kubernetes API test server.

Run from the repo root: ``python -m tests.bench.bench_kube_rbac``.

The same GETs through the official client's urllib3 pool (keep-alive), measured on the
server side (handler CPU time) and end to end: the admin over plain HTTP (the old
path), the admin over HTTPS, and a ServiceAccount token over HTTPS with RBAC decided
from a store holding meshbot's ClusterRole plus ``--bindings`` unrelated ClusterRole
and RoleBindings (a busy cluster's RBAC objects), so each decision scans them all.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import urllib3
import yaml

from bot.adapters.kube import permissions
from bot.sandbox.kube import KubeTestServer
from tests.fixtures.seeds import MESHBOT_ACCOUNT


def _noise(count: int) -> list[dict[str, object]]:
    docs: list[dict[str, object]] = []
    for i in range(count):
        docs.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": f"team-{i}"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                            "name": "view"},
                "subjects": [{"kind": "ServiceAccount", "name": f"sa-{i}", "namespace": "team"}],
            }
        )  # fmt: skip
        docs.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": f"team-{i}", "namespace": "meshbot"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                            "name": "edit"},
                "subjects": [{"kind": "User", "name": f"user-{i}"}],
            }
        )  # fmt: skip
    return docs


def measure(server: KubeTestServer, base: str, token: str, ca: str | None, n: int) -> float:
    """Median wall seconds per GET /api/v1/namespaces/meshbot/pods (client side)."""
    pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED" if ca else "CERT_NONE", ca_certs=ca)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    url = f"{base}/api/v1/namespaces/meshbot/pods"
    times = []
    for _ in range(n):
        started = time.perf_counter()
        answer = pool.request("GET", url, headers=headers)
        times.append(time.perf_counter() - started)
        assert answer.status == 200, answer.data
    pool.clear()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--bindings", type=int, default=500)
    options = parser.parse_args()
    with KubeTestServer() as server:
        server.load_seed(MESHBOT_ACCOUNT)
        role = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "meshbot"},
            "rules": permissions.rules(permissions.CALLS),
        }
        server.load_seed(yaml.safe_dump(role))
        server.load_objects(_noise(options.bindings))
        token = server.create_token("meshbot", "meshbot")
        ca_path = Path(tempfile.mkdtemp()) / "ca.pem"
        ca_path.write_bytes(server.tls.ca_pem)
        runs = {
            "admin, HTTP": (server.url, "sandbox-token", None),
            "admin, HTTPS": (server.https_url, "sandbox-token", str(ca_path)),
            "ServiceAccount, HTTPS + RBAC": (server.https_url, token, str(ca_path)),
        }
        print(f"{options.requests} GETs each, {options.bindings * 2} unrelated bindings in store")
        wall: dict[str, float] = {}
        for label, (base, bearer, ca) in runs.items():
            measure(server, base, bearer, ca, 50)  # warm the pool and the handshake
            server.reset_stats()
            wall[label] = measure(server, base, bearer, ca, options.requests)
            cpu = server.server_times(cpu=True)
            print(
                f"  {label:30s} client p50 {wall[label] * 1e3:6.2f} ms   "
                f"server CPU p50 {cpu['p50'] * 1e3:6.3f} ms  p99 {cpu['p99'] * 1e3:6.3f} ms"
            )
        base_line = wall["admin, HTTP"]
        for label in list(runs)[1:]:
            print(f"  ratio {label} / admin HTTP: {wall[label] / base_line:.2f}x")
        decisions = len(server.rbac.decisions)
        print(f"  RBAC decisions recorded: {decisions}")


if __name__ == "__main__":
    main()
