"""History for thousands of nodes or services in real Prometheus, for the benchmarks.

A query costs what it costs only when Prometheus holds every series it selects: the
preflight's 1 h average steal and worst 5-minute window over every node, the watcher's
`histogram_quantile` over every service's buckets. The metrics simulator writes them
(the same series its exporter serves, sample by sample every 15 s); promtool turns them
into TSDB blocks. Only the series the benchmark's queries read are written — for nodes
the steal counters and the flag gauges, for services the destination reporter's
latency histogram — because the rest would multiply the minutes spent writing 10,000
nodes' or 20,000 services' history without changing what the queries select.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.sandbox.metrics.exposition import Family, format_value, header_lines
from bot.sandbox.metrics.scenario import Scenario
from bot.sandbox.metrics.series import (
    DURATION,
    NODE_CPU,
    NODE_CPU_FLAG,
    Group,
    Unit,
    build_groups,
)
from bot.sandbox.prometheus_runner import PrometheusProcess, backfill

# The preflight asks for "the last hour" at the moment it runs, minutes after the
# backfill: its history runs from 70 minutes before to 10 minutes after the backfill
# starts (promtool takes future samples), so both windows stay full while the bench runs.
NODE_HISTORY = (timedelta(minutes=70), timedelta(minutes=10))
# The watcher's queries are evaluated at the history's end (TimedMetrics pins `at`), so
# its history only needs the 5-minute window and a little room.
SERVICE_HISTORY = (timedelta(minutes=7), timedelta(0))
STEP_S = 15
CHUNK = 2000
# Nodes have few series each: promtool writes 10,000 nodes' 80 minutes (14.8 M samples)
# in one run at 1.9 GB peak. One run writes one block per range, so Prometheus has
# nothing to merge while the benchmark runs.
NODE_CHUNK = 10_000


def node_scenario(count: int) -> Scenario:
    """`count` nodes named as bot.sandbox.kube's generated cluster names them.

    Most nodes steal under 2 %; every 40th is a noisy VM (12 %), every 25th lacks AVX2,
    every 100th exposes no CPU flags at all — so every branch of the checks has data.
    """
    nodes: list[dict[str, Any]] = []
    for i in range(count):
        node: dict[str, Any] = {
            "name": f"node-{i:05d}",
            "instance": f"10.{i // 62500}.{i // 250 % 250}.{i % 250}:9100",
            "cpus": 2,
            "steal": 12.0 if i % 40 == 7 else (i % 5) * 0.4,
            "hypervisor": i % 3 != 0,
        }
        if i % 100 != 99:
            node["flags"] = ["aes"] if i % 25 == 3 else ["aes", "avx2"]
        nodes.append(node)
    return Scenario.from_dict(
        {"name": f"nodes-{count}", "duration": "3h", "services": [], "nodes": nodes}
    )


def service_scenario(count: int, breaching: int = 10) -> Scenario:
    """`count` services, each called by the ingress gateway, reported by the destination;
    the first `breaching` have a p99 of 900 ms (the others 120 ms), so the number of
    alerts stays the same whatever the number of services."""
    services = [
        {
            "name": f"svc-{i:05d}",
            "namespace": f"team-{i % 50:02d}",
            "rps": 5 + i % 20,
            "latency": {"p50_ms": 20, "p99_ms": 900 if i < breaching else 120},
            "callers": [{"workload": "istio-ingressgateway", "namespace": "istio-system"}],
        }
        for i in range(count)
    ]
    return Scenario.from_dict(
        {
            "name": f"services-{count}",
            "duration": "3h",
            "reporters": ["destination"],
            "services": services,
            "nodes": [],
        }
    )


def node_series(unit: Unit) -> bool:
    """The preflight's series: steal counters and CPU flags."""
    return unit.family is NODE_CPU_FLAG or (
        unit.family is NODE_CPU and 'mode="steal"' in unit.names[0]
    )


def latency_series(unit: Unit) -> bool:
    """The watcher's series: Istio's request-duration histogram."""
    return unit.family is DURATION


def write_history(
    groups: Sequence[Group],
    start: datetime,
    end: datetime,
    path: Path,
    keep: Callable[[Unit], bool],
    families: Sequence[Family],
) -> int:
    """OpenMetrics of the groups' kept series from `start` (scenario second 0) to `end`;
    returns the samples written."""
    origin = start.timestamp()
    steps = int((end.timestamp() - origin) // STEP_S) + 1
    offsets = [i * STEP_S for i in range(steps)]
    stamps = [format_value(round(origin + at, 3)) for at in offsets]
    samples = 0
    with path.open("w", encoding="utf-8") as out:
        for family in families:
            out.write("\n".join(header_lines(family, openmetrics=True)) + "\n")
            for group in groups:
                units = [u for u in group.units if u.family is family and keep(u)]
                if not units:
                    continue
                matrix = [group.values_at(at) for at in offsets]
                for unit in units:
                    for values, stamp in zip(matrix, stamps, strict=True):
                        if values is None or (
                            unit.presence_slot is not None and values[unit.presence_slot] < 1
                        ):
                            continue
                        # a histogram's buckets, sum and count at one instant, together
                        out.writelines(
                            f"{name} {format_value(values[slot])} {stamp}\n"
                            for name, slot in zip(unit.names, unit.slots, strict=True)
                        )
                        samples += len(unit.names)
        out.write("# EOF\n")
    return samples


def backfilled_nodes(count: int, workdir: Path) -> tuple[PrometheusProcess, dict[str, float]]:
    """A started real Prometheus holding `count` nodes' history ending a minute ago."""
    families = (NODE_CPU, NODE_CPU_FLAG)
    return backfilled(
        node_scenario(count),
        node_series,
        families,
        NODE_HISTORY,
        workdir,
        chunk=NODE_CHUNK,
        settle=True,
    )


def backfilled_services(
    count: int, workdir: Path, breaching: int = 10
) -> tuple[PrometheusProcess, dict[str, float]]:
    """A started real Prometheus holding `count` services' latency histograms for the
    last 7 minutes (a 5-minute rate window, from its start, plus room); `["end"]` of the
    figures is the history's last instant."""
    scenario = service_scenario(count, breaching)
    # Past CHUNK services the blocks overlap until Prometheus merges them (a minute after
    # it starts, maybe inside a timed cycle): wait for that first.
    return backfilled(scenario, latency_series, (DURATION,), SERVICE_HISTORY, workdir, settle=True)


def backfilled(
    scenario: Scenario,
    keep: Callable[[Unit], bool],
    families: Sequence[Family],
    around: tuple[timedelta, timedelta],
    workdir: Path,
    chunk: int = CHUNK,
    settle: bool = False,
) -> tuple[PrometheusProcess, dict[str, float]]:
    """Write, convert and serve; `chunk` groups (nodes, service edges) per promtool run,
    as promtool holds a whole file's samples in memory (5,000 services at once: 5 GB).

    `settle`: return only once Prometheus has merged the overlapping blocks that more
    than one promtool run leaves (see `wait_for_one_block_per_range`)."""
    now = datetime.now(UTC).replace(microsecond=0)
    start, end = now - around[0], now + around[1]
    workdir.mkdir(parents=True, exist_ok=True)
    history = workdir / "history.om"
    process = PrometheusProcess([], workdir=workdir)
    groups = build_groups(scenario)
    samples, written, converted = 0, 0.0, 0.0
    for first in range(0, len(groups), chunk):
        started = time.perf_counter()
        part = groups[first : first + chunk]
        samples += write_history(part, start, end, history, keep, families)
        middle = time.perf_counter()
        backfill(history, process.data_dir)
        written += middle - started
        converted += time.perf_counter() - middle
        history.unlink()
    process.start(timeout=120)
    figures = {"samples": samples, "write_s": written, "promtool_s": converted}
    if settle:
        figures["settle_s"] = wait_for_one_block_per_range(process.data_dir)
    return process, figures | {"end": end.timestamp()}


def has_overlapping_blocks(data_dir: Path) -> bool:
    """Whether two of the TSDB's blocks share part of their time range."""
    ranges = []
    for meta in data_dir.glob("*/meta.json"):
        if ".tmp" in meta.parent.name:
            continue
        try:
            found = json.loads(meta.read_text())
        except (OSError, ValueError):  # being written or deleted by the compactor
            continue
        ranges.append((int(found["minTime"]), int(found["maxTime"])))
    ranges.sort()
    return any(later[0] < earlier[1] for earlier, later in itertools.pairwise(ranges))


def wait_for_one_block_per_range(data_dir: Path, timeout: float = 300.0) -> float:
    """Wait until Prometheus has compacted the overlapping blocks away; returns seconds.

    Each promtool run writes its own blocks for the same hours, so a history written in
    five chunks is five overlapping blocks per range. Until Prometheus's compactor
    merges them (on its first tick, a minute after start) every query merges five
    blocks' series — the preflight's three queries took 2.9 s instead of 2.1 s at
    10,000 nodes — and the merge itself then lands in the middle of what is measured.
    A Prometheus that scraped these nodes holds one block per range; so does this one
    before anything is timed."""
    started = time.perf_counter()
    deadline = started + timeout
    while has_overlapping_blocks(data_dir):
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{data_dir}: overlapping TSDB blocks not compacted in {timeout} s")
        time.sleep(1)
    return time.perf_counter() - started
