"""Benchmark: what the test server's built-in schema checks and Helm installs cost.

Run from the repo root: ``python -m tests.bench.bench_kube_builtins`` (the Helm part
needs Python >= 3.12 with the install extra, and ../shared/istio-charts).

1. Validation per object, on the 2,000-node / 30,000-pod generated cluster: the
   server's cached jsonschema-rs validators against ``kubernetes_validate.validate``
   (the package's own call, which rebuilds its validator each time), and the cost
   of loading that cluster with and without the checks.
2. Istio's base + istiod 1.29.6 + istiod 1.30.3 (revision 1-30-3) installed by Helm with
   its default Secret storage, ``wait=True`` (controllers on) against ``wait=False``:
   wall time and the requests Helm sends, by verb and status.
"""

from __future__ import annotations

import asyncio
import collections
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bot.sandbox.kube import KubeTestServer, generate_large_cluster
from bot.sandbox.kube.builtin_schemas import BuiltinSchemas
from tests.fixtures.shared import shared_dir

SAMPLE = 300


def validation() -> None:
    import kubernetes_validate

    docs = generate_large_cluster(nodes=2000, pods=30000, seed=0)
    for doc in docs:
        meta = doc["metadata"]
        meta.update(
            uid="00000000-0000-4000-8000-000000000000", creationTimestamp="2026-01-01T00:00:00Z"
        )
    schemas = BuiltinSchemas("v1.33.2")
    schemas.check(docs[0])  # build the validators once, as a running server has
    started = time.perf_counter()
    bad = sum(1 for doc in docs if schemas.check(doc))
    cached = (time.perf_counter() - started) / len(docs)
    sample = docs[:: len(docs) // SAMPLE][:SAMPLE]
    started = time.perf_counter()
    for doc in sample:
        kubernetes_validate.validate(doc, "1.33", strict=True)
    naive = (time.perf_counter() - started) / len(sample)
    print(f"objects validated: {len(docs)} ({bad} invalid)")
    print(f"  server (cached jsonschema-rs): {cached * 1e6:8.1f} µs/object")
    print(
        f"  kubernetes_validate.validate:  {naive * 1e6:8.1f} µs/object (sample of {len(sample)})"
    )
    print(f"  ratio naive/server: {naive / cached:.0f}x")

    def load(with_schemas: bool) -> float:
        server = KubeTestServer()
        if not with_schemas:
            server.writer.schemas = None
        fresh = generate_large_cluster(nodes=2000, pods=30000, seed=0)
        started = time.perf_counter()
        server.load_objects(fresh)
        return time.perf_counter() - started

    plain, checked = load(False), load(True)
    ratio = checked / plain
    print(f"load 32,000 objects: {plain:.2f}s unchecked, {checked:.2f}s checked ({ratio:.2f}x)")


def helm_installs() -> None:
    if sys.version_info < (3, 12):
        print("Helm part skipped: needs Python >= 3.12 with helm-sdkpy (the install extra)")
        return
    import helm_sdkpy as helm

    charts = shared_dir() / "istio-charts"
    releases = [
        (
            "istio-base",
            charts / "1.30.3/base",
            {"global": {"hub": "docker.io/istio", "tag": "1.30.3"}},
        ),
        (
            "istiod",
            charts / "1.29.6/istio-control/istio-discovery",
            {"global": {"hub": "docker.io/istio", "tag": "1.29.6"}},
        ),
        (
            "istiod-1-30-3",
            charts / "1.30.3/istio-control/istio-discovery",
            {"global": {"hub": "docker.io/istio", "tag": "1.30.3"}, "revision": "1-30-3"},
        ),
    ]

    rendered: list[dict[str, Any]] = []
    server_cpu: list[float] = []

    def run(wait: bool) -> tuple[float, Counter]:
        with tempfile.TemporaryDirectory() as tmp:
            server = KubeTestServer(controllers=True, ready_seconds=0.05)
            server.start()
            try:
                kubeconfig = server.write_kubeconfig(Path(tmp) / "kubeconfig")
                config = helm.Configuration(namespace="istio-system", kubeconfig=str(kubeconfig))
                server.reset_stats()
                started = time.perf_counter()
                for name, chart, values in releases:
                    action = helm.Install(config).run(
                        name,
                        str(chart),
                        values=values,
                        create_namespace=True,
                        wait=wait,
                        timeout=120,
                    )
                    manifest = asyncio.run(action)["manifest"]
                    rendered.extend(d for d in yaml.safe_load_all(manifest) if d)
                elapsed = time.perf_counter() - started
                server_cpu.append(sum(r.cpu_seconds for r in server.requests))
                return elapsed, collections.Counter((r.method, r.status) for r in server.requests)
            finally:
                server.stop()

    for wait in (False, True):
        run(wait)  # warm-up: Helm's first call in a process loads and initialises the library
    quick, quick_requests = run(False)
    waited, waited_requests = run(True)
    print("helm install base + istiod 1.29.6 + istiod 1.30.3 (Secret storage):")
    for label, seconds, counts in (
        ("wait=False", quick, quick_requests),
        ("wait=True ", waited, waited_requests),
    ):
        print(f"  {label}: {seconds:.2f}s, {sum(counts.values())} requests {dict(counts)}")
    print(f"  ratio wait/no-wait: {waited / quick:.2f}x")
    print(f"  the test server's own CPU time for those requests: {server_cpu[-1]:.3f}s")
    chart_objects = rendered[-len(rendered) // 4 :]  # the last run's objects
    schemas = BuiltinSchemas("v1.33.2")
    started = time.perf_counter()
    causes = [c for doc in chart_objects for c in schemas.check(doc)]
    per_object = (time.perf_counter() - started) / len(chart_objects)
    print(
        f"  the charts' {len(chart_objects)} objects: {per_object * 1e6:.0f} µs/object to "
        f"validate (CRDs included), {len(causes)} violations"
    )


Counter = collections.Counter[Any]


def main() -> None:
    validation()
    helm_installs()


if __name__ == "__main__":
    main()
