"""docs/performance.md and its plots, from the figures tests.bench.run_all collected.

Kept apart from the benchmarks so a report can be rewritten from saved figures, and so
each benchmark stays a program that prints its own table. Plots are matplotlib (Agg),
log-log where the question is "how does it grow".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

GOAL_CYCLE_S = 2.0


def write_report(
    path: Path,
    images: Path,
    results: Mapping[str, Any],
    *,
    run: Mapping[str, Any],
    append: bool = False,
) -> Path:
    """Write the report; `append`: add the sections of `results` to the existing one,
    with the command and load of this later run."""
    images.mkdir(parents=True, exist_ok=True)
    link = Path("img") if images.resolve().parent == path.resolve().parent else images
    if append and path.exists():
        lines = [path.read_text(encoding="utf-8").rstrip(), ""]
        lines += _sections(results, images, link)
        lines += [
            f"(This section: `{run['command']}`, {run['started']}, load average before "
            f"{run['before']['load']}, after {run['after']['load']}.)",
            "",
        ]
        path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
        return path
    lines = [
        "# Performance",
        "",
        "Every figure below is end to end on real parts (the Kubernetes API test server, real",
        "Prometheus with backfilled history, real Redis, the Slack emulator, real",
        "Alertmanager), measured beside the floor, the naive way or the stock tool *in the",
        "same run*: on this shared 2-core machine absolute times move with the load, the",
        "ratios much less. Regenerate with the command below (about 20 minutes with",
        "`--quick`).",
        "",
        f"- command: `{run['command']}`",
        f"- date: {run['started']} ({run['minutes']:.0f} minutes)",
        f"- machine: {_machine(run['before'])}",
        f"- load average (1, 5, 15 min) before: {run['before']['load']}, "
        f"after: {run['after']['load']}",
        "",
    ]
    lines += _sections(results, images, link)
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return path


def _sections(results: Mapping[str, Any], images: Path, link: Path) -> list[str]:
    lines: list[str] = []
    sections = (
        ("preflight", _preflight),
        ("watch_cycle", _watch_cycle),
        ("breach_to_slack", _breach),
        ("ack", _ack),
        ("install", _install),
    )
    for name, render in sections:
        result = results.get(name)
        if result is None:
            continue
        if not result["ok"]:
            lines += [f"## {name}", "", f"FAILED in this run: {result['error']}", ""]
            continue
        lines += render(result, images, link)
    return lines


def _machine(facts: Mapping[str, str]) -> str:
    return (
        f"{facts['cpus']} x {facts['cpu']}, {facts['memory']}, {facts['system']}, "
        f"Python {facts['python']}"
    )


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b else "-"


def _plot(images: Path, name: str, draw: Any) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
    draw(axes)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    target = images / f"perf-{name}.png"
    figure.savefig(target)
    plt.close(figure)
    return target.name


# -- preflight ------------------------------------------------------------------------------


def _preflight(result: Mapping[str, Any], images: Path, link: Path) -> list[str]:
    sizes: Sequence[Mapping[str, Any]] = result["figures"]["sizes"]
    lines = [
        "## Preflight, as a user runs it",
        "",
        "`meshbot preflight --kubeconfig K --context sandbox --prometheus URL --output json`",
        "as a subprocess, timed from spawn to exit, peak RSS from the kernel; 15 pods per",
        "node; every node's steal counters and CPU flags in Prometheus (70 minutes of 15 s",
        "samples from the metrics simulator, backfilled with promtool), so the 1 h average and",
        "the worst 5-minute window are really computed. *floor*: the same node and pod lists",
        "read raw (paged alike) and the same three PromQL queries, each answer parsed once with",
        "`json.loads`, nothing else. *naive*: the official client's model objects, unpaged,",
        "and the three queries per node. Kubernetes requests counted by the test server,",
        "PromQL queries and bytes by a proxy in front of Prometheus. Every child runs with",
        "its bytecode cached, as an installed meshbot after its first run (the sandbox's",
        "`PYTHONDONTWRITEBYTECODE` is taken out of the children's environment).",
        "",
        "| nodes | pods | meshbot s | floor s | naive s | meshbot / floor | naive / meshbot "
        "| meshbot MB | floor MB | naive MB | kube requests (meshbot / naive) "
        "| PromQL (meshbot / naive) | Prometheus KB | JSON out KB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sizes:
        cli, floor, naive = r["cli"], r["floor"], r.get("naive")
        naive_s = f"{naive['wall_s']:.2f}" if naive else "-"
        naive_ratio = _ratio(naive["wall_s"], cli["wall_s"]) if naive else "-"
        naive_mb = f"{naive['rss_mb']:.0f}" if naive else "-"
        lines.append(
            f"| {r['nodes']:,} | {r['pods']:,} | {cli['wall_s']:.2f} | {floor['wall_s']:.2f} "
            f"| {naive_s} | {_ratio(cli['wall_s'], floor['wall_s'])} | {naive_ratio} "
            f"| {cli['rss_mb']:.0f} | {floor['rss_mb']:.0f} | {naive_mb} "
            f"| {cli['kube_requests']} / {naive['kube_requests'] if naive else '-'} "
            f"| {cli['promql']} / {naive['promql'] if naive else '-'} "
            f"| {cli['prom_bytes'] / 1024:,.0f} | {cli['output_bytes'] / 1024:,.0f} |"
        )
    lines += [
        "",
        f"Growth of meshbot's time from the smallest to the largest size: "
        f"{result['figures']['growth']}.",
        "",
    ]
    two = next((r for r in sizes if r["nodes"] == 2000), None)
    if two:
        cli = two["cli"]
        checks = [
            ("≤ 5 s", cli["wall_s"] <= 5, f"{cli['wall_s']:.2f} s"),
            ("≤ 300 MB", cli["rss_mb"] <= 300, f"{cli['rss_mb']:.0f} MB"),
            (
                "≤ 3x the floor",
                cli["wall_s"] <= 3 * two["floor"]["wall_s"],
                _ratio(cli["wall_s"], two["floor"]["wall_s"]),
            ),
        ]
        if two.get("naive"):
            checks.append(
                (
                    "≥ 5x faster than naive",
                    two["naive"]["wall_s"] >= 5 * cli["wall_s"],
                    _ratio(two["naive"]["wall_s"], cli["wall_s"]),
                )
            )
        lines.append(
            "Goals at 2,000 nodes: "
            + "; ".join(
                f"{goal}: {shown} ({'met' if ok else 'NOT met'})" for goal, ok, shown in checks
            )
            + "."
        )
        lines.append("")

    def draw(axes: Any) -> None:
        nodes = [r["nodes"] for r in sizes]
        for key, label in (("cli", "meshbot CLI"), ("floor", "raw floor"), ("naive", "naive")):
            if all(key in r for r in sizes):
                axes.plot(nodes, [r[key]["wall_s"] for r in sizes], marker="o", label=label)
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("nodes (15 pods each)")
        axes.set_ylabel("wall time, spawn to exit (s)")
        axes.set_title("preflight --output json, end to end")

    lines += [f"![preflight growth]({link / _plot(images, 'preflight', draw)})", ""]
    return lines


# -- watcher cycle --------------------------------------------------------------------------


def _watch_cycle(result: Mapping[str, Any], images: Path, link: Path) -> list[str]:
    figures = result["figures"]
    sizes: Sequence[Mapping[str, Any]] = figures["sizes"]
    lines = [
        "## One watcher cycle",
        "",
        "Every service's Istio histogram (`istio_request_duration_milliseconds_bucket`,",
        "destination reporter) backfilled into real Prometheus, alert state in real Redis,",
        "alerts to the Slack emulator; the same 10 services breach at every size. Cycle 1",
        "opens their alerts, cycle 2 fires them (one grouped post), cycles 3-5 are the steady",
        "state (medians below). Redis round trips are counted on the wire. *cycle* is the",
        "watcher as shipped (the p99 screened from two buckets per service, measured exactly",
        "only where that cannot clear it: docs/watchers.md); *one query*: the same cycle with",
        "one `histogram_quantile` over every service's buckets (the watcher before",
        "screening, and what a hand-written alert rule does); *recorded*: the same cycle",
        "reading the p99 recorded by `meshbot watch rules` (the rules evaluated by promtool",
        "against the same Prometheus).",
        "",
        "| services | cycle s | query s | queries | evaluation s | Redis round trips "
        "| Prometheus KB | cold first cycle s | one query: cycle s | one query / cycle "
        "| recorded: cycle s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sizes:
        s = r["steady"]
        one = r.get("steady_one_query")
        rec = r.get("steady_recorded")
        lines.append(
            f"| {r['services']:,} | {s['wall_s']:.3f} | {s['query_s']:.3f} "
            f"| {s.get('queries', '-')} | {s['eval_s']:.3f} "
            f"| {s['redis_round_trips']} | {s['prom_bytes'] / 1024:,.0f} "
            f"| {r['direct'][0]['wall_s']:.2f} "
            + (
                f"| {one['wall_s']:.3f} | {one['wall_s'] / s['wall_s']:.1f}x "
                if one
                else "| - | - "
            )
            + (f"| {rec['wall_s']:.3f} |" if rec else "| - |")
        )
    lines.append("")
    trips = [r["steady"]["redis_round_trips"] for r in sizes]
    lines.append(
        f"Redis round trips per steady cycle: {', '.join(map(str, trips))} — they follow the "
        "open alerts (10 here), not the services. With `cycle_s` "
        f"{figures['cycle_s']:g} s, the queries are the part that grows: "
        + "; ".join(f"{r['services']:,} services: {r['steady']['query_s']:.2f} s" for r in sizes)
        + f". Goal: 5,000 services ≤ {GOAL_CYCLE_S:g} s per cycle."
    )
    lines += ["", *_where_it_stops(sizes, figures["cycle_s"]), ""]

    def draw(axes: Any) -> None:
        services = [r["services"] for r in sizes]
        axes.plot(services, [r["steady"]["wall_s"] for r in sizes], marker="o", label="cycle")
        axes.plot(services, [r["steady"]["query_s"] for r in sizes], marker="s", label="query only")
        for key, marker, label in (
            ("steady_one_query", "v", "cycle with one histogram_quantile for all"),
            ("steady_recorded", "^", "cycle on the recorded p99"),
        ):
            if all(r.get(key) for r in sizes):
                axes.plot(services, [r[key]["wall_s"] for r in sizes], marker=marker, label=label)
        axes.axhline(GOAL_CYCLE_S, color="grey", linestyle="--", label="goal at 5,000")
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("services")
        axes.set_ylabel("seconds per cycle (steady state)")
        axes.set_title("one watcher cycle: real Prometheus + Redis")

    lines += [f"![watcher cycle growth]({link / _plot(images, 'watch', draw)})", ""]
    return lines


def _where_it_stops(sizes: Sequence[Mapping[str, Any]], cycle_s: float) -> list[str]:
    """Where the direct cycle stops fitting, from the per-service cost at the largest size
    (the query grows about linearly with the services), and what to do then."""
    largest = sizes[-1]
    per_service = largest["steady"]["wall_s"] / largest["services"]
    fits_goal = int(GOAL_CYCLE_S / per_service)
    fits_cycle = int(cycle_s / per_service)
    text = (
        f"Where it stops fitting, at {per_service * 1000:.2f} ms per service a cycle on this "
        f"machine: the {GOAL_CYCLE_S:g} s goal at about {fits_goal:,} services, a "
        f"{cycle_s:g} s `cycle_s` at about {fits_cycle:,} (and Prometheus itself is busy "
        "for that long each cycle). Before that point, let Prometheus record the p99: "
        "`meshbot watch rules` prints the rule file and `watchers.latency.recorded: true` "
        "makes the cycle read it"
    )
    recorded = largest.get("steady_recorded")
    if recorded:
        text += (
            f" — {recorded['wall_s']:.2f} s per cycle at {largest['services']:,} services "
            f"instead of {largest['steady']['wall_s']:.2f} s"
        )
    text += (
        ". Past what one Prometheus evaluates in an interval, shard: one Prometheus and one "
        "watcher cluster entry per Kubernetes cluster (each cluster's cycle is its own job)."
    )
    return [text]


# -- breach to Slack ------------------------------------------------------------------------


def _breach(result: Mapping[str, Any], images: Path, link: Path) -> list[str]:
    figures = result["figures"]
    seconds = figures["seconds"]
    paths = figures["paths"]
    lines = [
        "## Breach → Slack",
        "",
        f"The same injected breach (payments' p99 x 8) and the same threshold and `for` "
        f"({figures['for_s']:g} s), in the same run; seconds from the moment an instant query "
        "first shows the breach to the Slack post.",
        "",
        "| path | how it is set up | seconds | vs meshbot |",
        "|---|---|---:|---:|",
        f"| meshbot | one watcher cycle every {figures['cycle_s']:g} s | "
        f"{seconds['meshbot']:.1f} | 1.0x |",
    ]
    for name, path in paths.items():
        evaluation = (
            f"rules every {path['evaluation_s']:g} s"
            if path["evaluation_s"]
            else f"rules every {figures['cycle_s']:g} s"
        )
        wait = path["group_wait"] or "30s (default)"
        interval = f", group_interval {path['group_interval']}" if path["group_interval"] else ""
        lines.append(
            f"| Prometheus + Alertmanager, {name} | {evaluation}, group_wait {wait}{interval} "
            f"| {seconds[name]:.1f} | {_ratio(seconds[name], seconds['meshbot'])} |"
        )
    lines.append("")

    def draw(axes: Any) -> None:
        names = ["meshbot", *paths]
        axes.bar(names, [seconds[n] for n in names], label="seconds to the Slack post")
        axes.set_ylabel("seconds")
        axes.set_title("breach visible → Slack post")

    lines += [f"![breach to Slack]({link / _plot(images, 'breach', draw)})", ""]
    return lines


# -- ack latency ----------------------------------------------------------------------------


def _ack(result: Mapping[str, Any], images: Path, link: Path) -> list[str]:
    figures = result["figures"]
    apps = figures["apps"]
    lines = [
        "## Ack latency under a burst",
        "",
        f"{figures['concurrency']} signed `/mesh help` at once, {figures['rounds']} rounds, "
        "meshbot and a bare Bolt app (an `@app.command` that only acks) alternating on",
        "identical waitress servers in one process; the Slack emulator and the load "
        "generator in their own processes. The ratio is taken per round (meshbot's p99 / the "
        "bare app's p99 of the same round).",
        "",
        "| app | p50 ms | p99 ms | mean ms |",
        "|---|---:|---:|---:|",
    ]
    for name, app in apps.items():
        lines.append(
            f"| {name} | {app['p50_ms']:.1f} | {app['p99_ms']:.1f} | {app['mean_ms']:.1f} |"
        )
    lines += [
        "",
        f"Per-round p99 ratio meshbot / bare Bolt: median {figures['median_ratio']:.2f}x, "
        f"worst {figures['worst_ratio']:.2f}x (goal: ≤ 1.2x in the median round).",
        "",
    ]

    def draw(axes: Any) -> None:
        ratios = figures["ratios"]
        axes.plot(range(1, len(ratios) + 1), ratios, marker="o", label="meshbot p99 / bare p99")
        axes.axhline(1.2, color="grey", linestyle="--", label="goal (median round)")
        axes.set_xlabel("round")
        axes.set_ylabel("ratio")
        axes.set_title(f"ack p99 at {figures['concurrency']} concurrent, per round")

    lines += [f"![ack ratio per round]({link / _plot(images, 'ack', draw)})", ""]
    return lines


# -- staged install -------------------------------------------------------------------------


def _install(result: Mapping[str, Any], images: Path, link: Path) -> list[str]:
    return [
        "## Staged install: planning and per-wave cost",
        "",
        "As printed by `python -m tests.bench.bench_install`:",
        "",
        "```text",
        result["printed"].strip(),
        "```",
        "",
    ]
