"""Benchmark: page through 30,000 pods of a 2,000-node cluster with the official client.

Run from the repo root: ``python -m tests.bench.bench_kube_server``. meshbot's preflight
lists every pod of big clusters in pages of 500 without building the client's model
objects (``_preload_content=False``); this measures what that costs, separating the test
server's own time per request from the client's. Target: well under 1 s of server time
in total for the 60 pages.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from kubernetes import client, config

from bot.sandbox.kube import KubeTestServer, generate_large_cluster

NODES, PODS, PAGE = 2000, 30000, 500


def main() -> None:
    started = time.perf_counter()
    docs = generate_large_cluster(nodes=NODES, pods=PODS, seed=0)
    generated = time.perf_counter()
    with KubeTestServer() as server, tempfile.TemporaryDirectory() as tmp:
        server.load_objects(docs)
        loaded = time.perf_counter()
        configuration = client.Configuration()
        kubeconfig = server.write_kubeconfig(Path(tmp) / "kubeconfig")
        config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
        api = client.ApiClient(configuration)
        try:
            core = client.CoreV1Api(api)
            server.reset_stats()
            names: set[str] = set()
            token: str | None = None
            wall = time.perf_counter()
            while True:
                kwargs = {"limit": PAGE, "_preload_content": False}
                if token:
                    kwargs["_continue"] = token
                response = core.list_pod_for_all_namespaces(**kwargs)
                page = json.loads(response.data)
                names.update(
                    p["metadata"]["namespace"] + "/" + p["metadata"]["name"] for p in page["items"]
                )
                token = page["metadata"].get("continue")
                if not token:
                    break
            wall = time.perf_counter() - wall
        finally:
            api.close()
        wall_stats = server.server_times()
        cpu_stats = server.server_times(cpu=True)
    assert len(names) == PODS, f"saw {len(names)} pods, expected {PODS}"
    print(f"generate {NODES} nodes / {PODS} pods:   {generated - started:.2f} s")
    print(f"load into the server:           {loaded - generated:.2f} s")
    print(f"list all pods, pages of {PAGE}:    {wall:.3f} s wall, {wall_stats['count']} requests")
    for label, stats in (("wall", wall_stats), ("CPU ", cpu_stats)):
        print(
            f"server {label} time per request:   p50 {stats['p50'] * 1000:.2f} ms, "
            f"p99 {stats['p99'] * 1000:.2f} ms, sum {stats['sum'] * 1000:.1f} ms"
        )
    print(
        "(wall includes waiting for the GIL and the socket while the client, in this same "
        "process, parses pages; CPU is the server thread's own work)"
    )


if __name__ == "__main__":
    main()
