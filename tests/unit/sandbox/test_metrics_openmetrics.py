"""The OpenMetrics history file is what promtool's backfill expects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from bot.sandbox.metrics import MetricsSimulator, Scenario, scenario_path, write_openmetrics

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> str:
    scenario = Scenario.load(scenario_path("steal-spike"))
    path = tmp_path_factory.mktemp("om") / "history.om"
    write_openmetrics(scenario, START, START + timedelta(minutes=10), step_s=15, path=path)
    return path.read_text(encoding="utf-8")


def test_ends_with_eof_and_families_are_contiguous(history: str):
    lines = history.splitlines()
    assert lines[-1] == "# EOF"
    types = [line.split()[2] for line in lines if line.startswith("# TYPE")]
    assert len(types) == len(set(types))
    seen: list[str] = []
    for line in lines[:-1]:
        if line.startswith("#"):
            continue
        family = next(t for t in types if line.startswith(t))
        if not seen or seen[-1] != family:
            assert family not in seen, f"{family} interleaved"
            seen.append(family)


def test_timestamps_are_seconds_and_ascend_per_series(history: str):
    last: dict[str, float] = {}
    lo, hi = START.timestamp(), (START + timedelta(minutes=10)).timestamp()
    for line in history.splitlines():
        if line.startswith("#"):
            continue
        series, _value, stamp = line.rsplit(" ", 2)
        ts = float(stamp)
        assert lo <= ts <= hi  # seconds, not milliseconds
        assert ts >= last.get(series, 0.0)
        last[series] = ts


def test_counters_and_gauges_parse_as_openmetrics(history: str):
    # prometheus_client's checker rejects several timestamped points per histogram
    # (promtool accepts them; the integration tests backfill them), so leave those out.
    text = "\n".join(x for x in history.splitlines() if "istio_request_duration" not in x)
    families = {f.name: f for f in text_string_to_metric_families(text + "\n")}
    assert families["node_cpu_seconds"].type == "counter"
    assert families["istio_requests"].type == "counter"
    assert families["node_cpu_flag_info"].type == "gauge"


def test_history_matches_live_rendering(history: str):
    scenario = Scenario.load(scenario_path("steal-spike"))
    live = MetricsSimulator(scenario).render(120)
    stamp = str(int(START.timestamp() + 120))
    at_120 = {
        line.rsplit(" ", 2)[0]: line.rsplit(" ", 2)[1]
        for line in history.splitlines()
        if line.endswith(" " + stamp)
    }
    for line in live.splitlines():
        if not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            assert at_120[series] == value
