"""A backfill written in several promtool runs, as the benchmarks write 10,000 nodes.

Each run writes its own blocks for the same hours; until Prometheus merges them every
query merges their series, so the node benchmark waits for that merge before it times
anything. This checks the overlap is seen, and gone once Prometheus has compacted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.sandbox.metrics.series import NODE_CPU, NODE_CPU_FLAG, build_groups
from bot.sandbox.prometheus_runner import PrometheusProcess, backfill
from tests.bench.history import (
    has_overlapping_blocks,
    node_scenario,
    node_series,
    wait_for_one_block_per_range,
    write_history,
)

pytestmark = pytest.mark.prometheus
STEAL = '100 * avg by (node) (rate(node_cpu_seconds_total{mode="steal"}[1h]))'


def _backfill(groups, chunks, tmp_path):
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(minutes=70)
    data = tmp_path / "data"
    history = tmp_path / "history.om"
    size = -(-len(groups) // chunks)
    for first in range(0, len(groups), size):
        part = groups[first : first + size]
        write_history(part, start, end, history, node_series, (NODE_CPU, NODE_CPU_FLAG))
        backfill(history, data)
    return data


def test_one_promtool_run_leaves_no_overlap(tmp_path):
    data = _backfill(build_groups(node_scenario(4)), 1, tmp_path)
    assert not has_overlapping_blocks(data)


def test_chunks_overlap_until_prometheus_compacts_them(tmp_path):
    data = _backfill(build_groups(node_scenario(4)), 2, tmp_path)
    assert has_overlapping_blocks(data)
    process = PrometheusProcess([], workdir=tmp_path, data_dir=data).start(timeout=60)
    try:
        waited = wait_for_one_block_per_range(data, timeout=180)
        assert not has_overlapping_blocks(data)
        assert waited > 0
        nodes = {s["metric"]["node"] for s in process.query(STEAL)}
        assert nodes == {f"node-{i:05d}" for i in range(4)}
    finally:
        process.stop()
