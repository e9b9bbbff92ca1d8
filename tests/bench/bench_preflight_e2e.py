"""Benchmark: `meshbot preflight … --output json` as a user runs it, at several cluster
sizes, beside the raw floor and the naive approach — all three in the same run.

Per size (nodes; 15 pods per node): the project's Kubernetes API test server holds the
generated cluster, and a real Prometheus holds 75 minutes of every node's steal counters
and CPU flags (15 s samples from the metrics simulator, backfilled with promtool), so the
1 h average and the worst 5-minute window are really computed. Each approach is its own
process, timed from spawn to exit with its peak RSS from the kernel:

- cli:   `meshbot preflight --kubeconfig K --context sandbox --prometheus URL --output json`
- floor: the same node and pod lists read raw (paged, as meshbot pages them) and the same
         three PromQL queries, each answer parsed once with `json.loads`; nothing else
- naive: the official client's model objects, unpaged, and the three queries per node

Kubernetes requests are counted by the test server, PromQL queries and the bytes
Prometheus returned by a counting proxy in front of it. Goals (issue 17), for the CLI:
2,000 nodes ≤ 5 s and ≤ 300 MB, within 3x the floor, ≥ 5x faster than naive, growth
linear or better.

Run from the repo root: ``python -m tests.bench.bench_preflight_e2e [--sizes 100,500,2000]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench.measure import (
    CountingProxy,
    compile_tree,
    machine,
    median,
    ratio,
    run_process,
    user_env,
)

SIZES = (100, 500, 2000, 10000)
QUICK_SIZES = (100, 500, 2000)
PODS_PER_NODE = 15
GOALS = "2,000 nodes: ≤ 5 s, ≤ 300 MB, ≤ 3x floor, ≥ 5x faster than naive"


def meshbot_argv() -> list[str]:
    """What the `meshbot` script runs, from this tree (the script is `bot.app.cli:main`)."""
    return [sys.executable, "-m", "bot.app.cli"]


def _child_argv(kind: str, kubeconfig: str, prom_url: str) -> list[str]:
    return [sys.executable, "-m", "tests.bench.bench_preflight_e2e", "--child", kind]


def run_size(nodes: int, repeats: int, tmp: Path, naive: bool = True) -> dict[str, Any]:
    from bot.sandbox.kube import KubeTestServer, generate_large_cluster
    from tests.bench.history import backfilled_nodes

    pods = nodes * PODS_PER_NODE
    workdir = tmp / f"size-{nodes}"
    workdir.mkdir()
    started = time.perf_counter()
    prom, history = backfilled_nodes(nodes, workdir / "prometheus")
    prepared = {"history": history}
    env = user_env(HOME=str(workdir))  # the embedded store's data dir, if any
    env.pop("MESHBOT_CONFIG", None)
    env.pop("REDIS_URL", None)
    try:
        with (
            KubeTestServer(version="v1.33.2") as server,
            CountingProxy(prom.url) as proxy,
        ):
            server.load_objects(generate_large_cluster(nodes=nodes, pods=pods, seed=0))
            prepared["setup_s"] = time.perf_counter() - started
            kubeconfig = str(server.write_kubeconfig(workdir / "kubeconfig"))
            argv = {
                "cli": [
                    *meshbot_argv(),
                    "preflight",
                    "--kubeconfig",
                    kubeconfig,
                    "--context",
                    "sandbox",
                    "--prometheus",
                    proxy.url,
                    "--output",
                    "json",
                ],
                "floor": [*_child_argv("floor", kubeconfig, proxy.url), kubeconfig, proxy.url],
                "naive": [*_child_argv("naive", kubeconfig, proxy.url), kubeconfig, proxy.url],
            }
            kinds = ["cli", "floor", *(["naive"] if naive else [])]
            runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
            for round_ in range(repeats):
                for kind in kinds:
                    if kind == "naive" and round_ > 0:
                        continue  # one naive run is enough to show the distance
                    server.reset_stats()
                    proxy.reset()
                    done = run_process(argv[kind], env=env)
                    if done.returncode not in (0, 1):  # 1: a check failed, still a report
                        raise SystemExit(
                            f"{kind} at {nodes} nodes exited {done.returncode}:\n"
                            + done.stderr.decode(errors="replace")[-3000:]
                        )
                    counts = proxy.reset()
                    runs[kind].append(
                        {
                            "wall_s": done.wall_s,
                            "rss_mb": done.rss_mb,
                            "kube_requests": server.request_count,
                            "promql": sum(
                                n for p, n in counts.paths.items() if p.startswith("/api/v1/query")
                            ),
                            "prom_bytes": counts.bytes_out,
                            "output_bytes": len(done.stdout),
                            "extra": _extra(kind, done.stdout),
                        }
                    )
    finally:
        prom.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    result: dict[str, Any] = {"nodes": nodes, "pods": pods, **prepared}
    for kind, rows in runs.items():
        result[kind] = {
            "wall_s": median([r["wall_s"] for r in rows]),
            "walls": [round(r["wall_s"], 3) for r in rows],
            "rss_mb": max(r["rss_mb"] for r in rows),
            "kube_requests": rows[0]["kube_requests"],
            "promql": rows[0]["promql"],
            "prom_bytes": rows[0]["prom_bytes"],
            "output_bytes": rows[0]["output_bytes"],
            "extra": rows[0]["extra"],
        }
    return result


def _extra(kind: str, stdout: bytes) -> dict[str, Any]:
    if kind == "cli":
        report = json.loads(stdout)
        return {"results": len(report.get("checks", [])), "summary": report.get("summary")}
    lines = stdout.decode().strip().splitlines()
    return dict(json.loads(lines[-1])) if lines else {}


# -- the compared approaches, each in its own process -------------------------------------


def _promql_texts() -> list[str]:
    from commands.preflight.model import PreflightSettings
    from commands.preflight.queries import queries

    return list(queries(PreflightSettings()).values())


def child_floor(kubeconfig: str, prom_url: str) -> dict[str, Any]:
    """Read the node and pod lists raw, paged as meshbot pages them, and run the same
    queries; parse each answer once. The least any preflight has to do."""
    import httpx
    import yaml

    config = yaml.safe_load(Path(kubeconfig).read_text())
    api = config["clusters"][0]["cluster"]["server"]
    token = config["users"][0]["user"].get("token")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    items = 0
    with httpx.Client(base_url=api, headers=headers, verify=False, timeout=120) as kube:
        for path in ("/api/v1/nodes", "/api/v1/pods"):
            token_ = None
            while True:
                params: dict[str, Any] = {"limit": 1000}
                if token_:
                    params["continue"] = token_
                page = json.loads(kube.get(path, params=params).content)
                items += len(page["items"])
                token_ = page["metadata"].get("continue")
                if not token_:
                    break
    series = 0
    with httpx.Client(base_url=prom_url, timeout=120) as prom:
        for promql in _promql_texts():
            answer = json.loads(prom.post("/api/v1/query", data={"query": promql}).content)
            series += len(answer["data"]["result"])
    return {"items": items, "series": series}


def child_naive(kubeconfig: str, prom_url: str) -> dict[str, Any]:
    """The obvious program: the client's model objects, whole lists, a query per node."""
    import httpx
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(kubeconfig, context="sandbox", client_configuration=configuration)
    api = client.ApiClient(configuration)
    core = client.CoreV1Api(api)
    nodes = core.list_node(_request_timeout=300).items
    pods = core.list_pod_for_all_namespaces(_request_timeout=300).items
    per_node = [
        '100 * avg(rate(node_cpu_seconds_total{{mode="steal",node="{n}"}}[1h]))',
        "max_over_time((100 * avg(rate("
        'node_cpu_seconds_total{{mode="steal",node="{n}"}}[5m])))[1h:5m])',
        'node_cpu_flag_info{{node="{n}"}}',
    ]
    series = 0
    with httpx.Client(base_url=prom_url, timeout=120) as prom:
        for node in nodes:
            for template in per_node:
                promql = template.format(n=node.metadata.name)
                answer = prom.post("/api/v1/query", data={"query": promql}).json()
                series += len(answer["data"]["result"])
    api.close()
    return {"nodes": len(nodes), "pods": len(pods), "series": series}


# -- report -------------------------------------------------------------------------------


def summarise(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"{'nodes':>6} {'pods':>7} | {'cli s':>6} {'floor s':>7} {'naive s':>8} | "
        f"{'cli/floor':>9} {'naive/cli':>9} | {'cli MB':>6} {'floor MB':>8} {'naive MB':>8} | "
        f"{'kube req':>8} {'naive req':>9} | {'PromQL':>6} {'naive':>6} | "
        f"{'prom KB':>8} {'json KB':>8}"
    ]
    for r in results:
        cli, floor, nv = r["cli"], r["floor"], r.get("naive")
        lines.append(
            f"{r['nodes']:>6} {r['pods']:>7} | {cli['wall_s']:>6.2f} {floor['wall_s']:>7.2f} "
            f"{nv['wall_s'] if nv else float('nan'):>8.2f} | "
            f"{ratio(cli['wall_s'], floor['wall_s']):>8.2f}x "
            f"{ratio(nv['wall_s'], cli['wall_s']) if nv else float('nan'):>8.1f}x | "
            f"{cli['rss_mb']:>6.0f} {floor['rss_mb']:>8.0f} "
            f"{nv['rss_mb'] if nv else float('nan'):>8.0f} | "
            f"{cli['kube_requests']:>8} {nv['kube_requests'] if nv else 0:>9} | "
            f"{cli['promql']:>6} {nv['promql'] if nv else 0:>6} | "
            f"{cli['prom_bytes'] / 1024:>8.0f} {cli['output_bytes'] / 1024:>8.0f}"
        )
    return lines


def growth(results: list[dict[str, Any]], key: str = "cli") -> str:
    """Per-node cost between the smallest and largest size: ≤ 1 means linear or better."""
    if len(results) < 2:
        return "-"
    small, large = results[0], results[-1]
    scale = large["nodes"] / small["nodes"]
    grew = large[key]["wall_s"] / small[key]["wall_s"]
    return f"{grew:.1f}x time for {scale:.0f}x nodes"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}, 1 repeat")
    parser.add_argument("--no-naive", action="store_true")
    parser.add_argument(
        "--naive-max",
        type=int,
        default=2000,
        help="no naive run above this many nodes (10,000 nodes: 30,000 queries, minutes)",
    )
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else tuple(int(s) for s in args.sizes.split(","))
    repeats = 1 if args.quick else args.repeats
    results = []
    compile_tree()
    with tempfile.TemporaryDirectory(prefix="meshbot-bench-preflight-") as tmp:
        for nodes in sizes:
            naive = not args.no_naive and nodes <= args.naive_max
            result = run_size(nodes, repeats, Path(tmp), naive=naive)
            results.append(result)
            print("\n".join(summarise([result])[-1:]), flush=True)
    report = {
        "machine": machine(),
        "sizes": results,
        "growth": growth(results),
        "command": "python -m tests.bench.bench_preflight_e2e " + " ".join(argv or sys.argv[1:]),
    }
    print("\n".join(summarise(results)))
    print(f"growth (cli): {growth(results)}; floor: {growth(results, 'floor')}")
    two = next((r for r in results if r["nodes"] == 2000), None)
    if two:
        cli = two["cli"]
        met = (
            cli["wall_s"] <= 5
            and cli["rss_mb"] <= 300
            and cli["wall_s"] <= 3 * two["floor"]["wall_s"]
            and ("naive" not in two or two["naive"]["wall_s"] >= 5 * cli["wall_s"])
        )
        print(f"goals ({GOALS}):", "met" if met else "NOT MET")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        kind, kubeconfig, prom_url = sys.argv[2], sys.argv[3], sys.argv[4]
        figures = (child_floor if kind == "floor" else child_naive)(kubeconfig, prom_url)
        print(json.dumps(figures))
    else:
        main()
