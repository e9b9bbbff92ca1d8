"""Hours of node steal and CPU-flag history for thousands of nodes, in real Prometheus.

The preflight's PromQL (1 h average steal, worst 5-minute window, CPU flags) costs what
it costs only when Prometheus holds every node's series. The metrics simulator writes
them (the same series its exporter serves, sample by sample every 15 s); promtool turns
them into TSDB blocks. Only the families the preflight reads are written — the steal
counter of each CPU and the flag gauges — because the other seven CPU modes would
triple the minutes spent writing 10,000 nodes' history without changing what the
queries select.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.sandbox.metrics.exposition import format_value, header_lines
from bot.sandbox.metrics.scenario import Scenario
from bot.sandbox.metrics.series import NODE_CPU, NODE_CPU_FLAG, Unit, build_groups
from bot.sandbox.prometheus_runner import PrometheusProcess, backfill

HISTORY = timedelta(minutes=75)  # the 1 h window, from its start, plus room
STEP_S = 15


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


def _kept(unit: Unit) -> bool:
    return unit.family is NODE_CPU_FLAG or (
        unit.family is NODE_CPU and 'mode="steal"' in unit.names[0]
    )


def write_node_history(scenario: Scenario, start: datetime, end: datetime, path: Path) -> int:
    """OpenMetrics of the steal counters and flags from `start` to `end`; returns samples."""
    origin = start.timestamp()
    steps = int((end.timestamp() - origin) // STEP_S) + 1
    offsets = [i * STEP_S for i in range(steps)]
    stamps = [format_value(round(origin + at, 3)) for at in offsets]
    groups = build_groups(scenario)
    samples = 0
    with path.open("w", encoding="utf-8") as out:
        for family in (NODE_CPU, NODE_CPU_FLAG):
            out.write("\n".join(header_lines(family, openmetrics=True)) + "\n")
            for group in groups:
                units = [u for u in group.units if u.family is family and _kept(u)]
                if not units:
                    continue
                matrix = [group.values_at(at) for at in offsets]
                for unit in units:
                    name, slot = unit.names[0], unit.slots[0]
                    lines = [
                        f"{name} {format_value(values[slot])} {stamp}\n"
                        for values, stamp in zip(matrix, stamps, strict=True)
                        if values is not None
                    ]
                    samples += len(lines)
                    out.writelines(lines)
        out.write("# EOF\n")
    return samples


def backfilled_nodes(count: int, workdir: Path) -> tuple[PrometheusProcess, dict[str, float]]:
    """A started real Prometheus holding `count` nodes' history ending a minute ago."""
    import time

    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    workdir.mkdir(parents=True, exist_ok=True)
    history = workdir / "nodes.om"
    started = time.perf_counter()
    samples = write_node_history(node_scenario(count), end - HISTORY, end, history)
    written = time.perf_counter() - started
    process = PrometheusProcess([], workdir=workdir)
    backfill(history, process.data_dir)
    backfilled = time.perf_counter() - started - written
    history.unlink()
    process.start(timeout=120)
    return process, {"samples": samples, "write_s": written, "promtool_s": backfilled}
