"""Metrics simulator: Istio proxy and node_exporter metrics from a scenario file.

Used by tests, benchmarks and the demo in place of a real mesh: a real Prometheus
scrapes ``MetricsExporter`` live, or loads history written by ``write_openmetrics``.

    scenario = Scenario.load("bot/sandbox/scenarios/latency-spike.yaml")
    simulator = MetricsSimulator(scenario)
    with MetricsExporter(simulator) as exporter:
        ...  # scrape exporter.url; simulator.inject({"service": "payments", "p99_factor": 4})
"""

from pathlib import Path

from bot.sandbox.metrics.exporter import MetricsExporter
from bot.sandbox.metrics.latency import (
    ISTIO_DURATION_BUCKETS_MS,
    LatencyDist,
    bucket_index,
    same_or_adjacent_bucket,
)
from bot.sandbox.metrics.openmetrics import write_openmetrics
from bot.sandbox.metrics.scenario import Event, Scenario, parse_duration
from bot.sandbox.metrics.serve import serve_forever
from bot.sandbox.metrics.simulator import MetricsSimulator

__all__ = [
    "ISTIO_DURATION_BUCKETS_MS",
    "SCENARIOS_DIR",
    "Event",
    "LatencyDist",
    "MetricsExporter",
    "MetricsSimulator",
    "Scenario",
    "bucket_index",
    "parse_duration",
    "same_or_adjacent_bucket",
    "scenario_path",
    "serve_forever",
    "write_openmetrics",
]

SCENARIOS_DIR = Path(__file__).resolve().parent.parent / "scenarios"


def scenario_path(name: str) -> Path:
    """Path of a shipped scenario, by name (``"baseline"``) or file name."""
    path = SCENARIOS_DIR / (name if name.endswith(".yaml") else f"{name}.yaml")
    if not path.is_file():
        raise FileNotFoundError(f"no shipped scenario {name!r} in {SCENARIOS_DIR}")
    return path
