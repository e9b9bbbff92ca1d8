"""`meshbot watch rules` on real Prometheus: promtool accepts the file, Prometheus records
every service's p99 and rate with it, and the watcher reading the recorded series sees
the numbers the direct query gives at the same instant."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from bot.adapters.prometheus import PrometheusMetrics
from bot.sandbox.prometheus_runner import PROMTOOL
from commands.watch.commands import LatencyPolicy, WatchPolicy
from commands.watch.queries import latency_query, parse_latency
from commands.watch.reading import read
from commands.watch.recording import p99_record, recorded_latency_query
from tests.fixtures.metrics import ExporterFactory
from tests.fixtures.prometheus import StartPrometheus, require_prometheus
from tests.processes import run_meshbot

WINDOW = "10s"


def _rule_file(tmp_path: Path) -> Path:
    done = run_meshbot(["watch", "rules", "--window", WINDOW, "--interval", "1s"])
    assert done.returncode == 0, done.stderr
    path = tmp_path / "meshbot-rules.yml"
    path.write_text(done.stdout)
    return path


def test_promtool_accepts_the_printed_rules(tmp_path: Path) -> None:
    require_prometheus(PROMTOOL)
    checked = subprocess.run(
        [PROMTOOL, "check", "rules", str(_rule_file(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 2 rules found" in checked.stdout


def test_the_watcher_reads_what_prometheus_recorded(
    tmp_path: Path, metrics_exporter: ExporterFactory, start_prometheus: StartPrometheus
) -> None:
    require_prometheus()
    rules = _rule_file(tmp_path)
    exporter = metrics_exporter("baseline")
    prom = start_prometheus([exporter], extra_args=["--web.enable-lifecycle"])
    config_file = prom.workdir / "prometheus.yml"
    config = json.loads(config_file.read_text())
    config["rule_files"] = [str(rules)]
    config_file.write_text(json.dumps(config))
    httpx.post(f"{prom.url}/-/reload", timeout=10).raise_for_status()
    prom.wait_scraped_for(10)
    metrics = PrometheusMetrics(prom.url)
    try:
        services = set(parse_latency(metrics.query(latency_query(WINDOW))))
        assert services
        prom.wait_for(p99_record(WINDOW), "destination_service", sorted(services), 30)
        stamps = prom.query_values(f"timestamp({p99_record(WINDOW)})", "destination_service")
        at = max(stamps.values())  # one evaluation: the same instant for every series
        direct = parse_latency(metrics.query(latency_query(WINDOW), at=at))
        from_rules = parse_latency(metrics.query(recorded_latency_query(WINDOW), at=at))
        assert set(from_rules) == set(direct) == services
        # Equal, but for a scrape that landed between the rule's evaluation and now.
        for host, numbers in direct.items():
            assert from_rules[host].p99_ms == pytest.approx(numbers.p99_ms, rel=0.25), host
            assert from_rules[host].rps == pytest.approx(numbers.rps, rel=0.25), host

        latency = LatencyPolicy(default_ms=10_000, window=WINDOW, recorded=True)
        subjects, blind = read(WatchPolicy("prod", "C", latency=latency, steal=None), metrics)
        assert blind is None and {s.name for s in subjects} == services
    finally:
        metrics.close()
