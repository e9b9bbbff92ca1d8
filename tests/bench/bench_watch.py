"""Watchers: breach-to-Slack time against the stock Prometheus → Alertmanager path, and
rule evaluation time for 5,000 services.

Run from the repo root: `python -m tests.bench.bench_watch [--cycle 5] [--for 10]`.
Needs /usr/bin/prometheus, /usr/bin/prometheus-alertmanager (Debian packages) and Redis
on 127.0.0.1:6379 (or MESHBOT_TEST_REDIS_URL).

Side by side, in the same run, on the same metric and threshold:
- meshbot: one watcher cycle every `--cycle` s, `for` = `--for` s, posting to #oncall;
- the stock path: a Prometheus alerting rule with the same expression, threshold and
  `for` (evaluated every `--cycle` s), Alertmanager with its default grouping
  (group_wait 30 s), and a webhook receiver that posts into the same Slack emulator.
"Visible" is the first moment an instant query of the p99 returns a value above the
threshold; both times are measured from there. The target (issue 7): meshbot posts
within `for` + one cycle + 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import redis
from slack_sdk import WebClient

from bot.app.config import load_settings
from bot.app.runtime import build_runtime
from bot.sandbox.metrics import MetricsExporter, MetricsSimulator, Scenario, scenario_path
from bot.sandbox.prometheus_runner import PrometheusProcess
from bot.sandbox.slack import SlackEmulator
from bot.slack.app import build_web_client
from bot.watch.jobs import start_watchers
from commands.watch.commands import LatencyPolicy, WatchPolicy
from commands.watch.cycle import WatchCycle
from commands.watch.ports import CyclePorts
from commands.watch.queries import latency_series
from commands.watch.rules import RuleSpec
from tests.unit.fakes import FixedClock, MemoryStore
from tests.unit.watch.fakes import Ids, RecordingNotifier, ScriptedMetrics

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
REDIS_URL = os.environ.get("MESHBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
THRESHOLD_MS = 1000
WINDOW = "10s"
SERVICE = "payments.payments.svc.cluster.local"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_evaluation(services: int = 5000, rounds: int = 10) -> list[float]:
    metrics = ScriptedMetrics()
    for i in range(services):
        metrics.set_service(f"svc{i}", 900 if i % 500 == 0 else 120)
    policy = WatchPolicy(
        "prod", "C", cycle_s=10, latency=LatencyPolicy(default_ms=300, spec=RuleSpec(3)), steal=None
    )
    clock = FixedClock()
    ports = CyclePorts(MemoryStore(), metrics, RecordingNotifier(), clock, "r1", Ids())
    cycle = WatchCycle(policy, ports)
    timings = []
    for _ in range(rounds):
        clock.value += 10
        timings.append(cycle.run().eval_ms)
    return timings


class Relay(BaseHTTPRequestHandler):
    """Alertmanager's webhook receiver: every notification → one chat.postMessage."""

    client: WebClient

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        names = [a["labels"].get("destination_service", "?") for a in body.get("alerts", [])]
        self.client.chat_postMessage(channel="C_AM", text=f"[{body['status']}] p99 high: {names}")
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def prometheus_config(target: str, am_port: int, cycle: float, rules: Path) -> str:
    return json.dumps(
        {
            "global": {"scrape_interval": "1s", "evaluation_interval": f"{cycle:g}s"},
            "rule_files": [str(rules)],
            "alerting": {
                "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]
            },
            "scrape_configs": [
                {
                    "job_name": "meshbot-sandbox",
                    "honor_labels": True,
                    "scrape_interval": "1s",
                    "scrape_timeout": "1s",
                    "static_configs": [{"targets": [target]}],
                }
            ],
        }
    )


def first_post(emulator: SlackEmulator, channel: str, needle: str) -> float | None:
    for call in emulator.calls("chat.postMessage"):
        if call.params.get("channel") == channel and needle in str(call.params.get("text")):
            return call.at
    return None


def bench_end_to_end(cycle: float, for_s: float, work: Path) -> tuple[float, float]:
    scenario = Scenario.load(scenario_path("baseline"))
    exporter = MetricsExporter(MetricsSimulator(scenario)).start()
    emulator = SlackEmulator(bot_token="xoxb-bench", signing_secret="bench").start()
    emulator.add_channel("C_ONCALL", "oncall")
    emulator.add_channel("C_AM", "alertmanager")
    relay = ThreadingHTTPServer(("127.0.0.1", 0), Relay)
    Relay.client = WebClient(token="xoxb-bench", base_url=emulator.api_url)
    threading.Thread(target=relay.serve_forever, daemon=True).start()
    am_port = free_port()
    (work / "am.yml").write_text(
        json.dumps(
            {
                "route": {"receiver": "relay"},  # Alertmanager's default grouping
                "receivers": [
                    {
                        "name": "relay",
                        "webhook_configs": [
                            {"url": f"http://127.0.0.1:{relay.server_address[1]}/"}
                        ],
                    }
                ],
            }
        )
    )
    am = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={work / 'am.yml'}",
            f"--storage.path={work / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    expr = f"{latency_series(SERVICE, WINDOW)} > {THRESHOLD_MS}"
    rules = work / "rules.yml"
    rules.write_text(
        json.dumps(
            {
                "groups": [
                    {
                        "name": "meshbot-bench",
                        "rules": [
                            {
                                "alert": "P99High",
                                "expr": expr,
                                "for": f"{for_s:g}s",
                                "labels": {"destination_service": SERVICE},
                            }
                        ],
                    }
                ]
            }
        )
    )
    prom = PrometheusProcess(
        [exporter.target], workdir=work / "prom", extra_args=["--web.enable-lifecycle"]
    )
    (work / "prom").mkdir()
    prefix = f"meshbot-bench-{uuid.uuid4().hex[:8]}"
    scheduler = runtime = None
    try:
        prom.start()
        (prom.workdir / "prometheus.yml").write_text(
            prometheus_config(exporter.target, am_port, cycle, rules)
        )
        httpx.post(f"{prom.url}/-/reload", timeout=10).raise_for_status()
        config = work / "meshbot.yaml"
        config.write_text(
            f"""
redis: {{key_prefix: {prefix}}}
clusters:
  prod:
    prometheus: {{url: "{prom.url}"}}
    oncall_channel: C_ONCALL
watchers:
  cycle_s: {cycle}
  lease_ttl_s: 3
  blind_for_s: 60
  chart: false
  latency: {{default_ms: {THRESHOLD_MS}, window: {WINDOW}, for_s: {for_s}, min_rps: 1}}
  steal: {{enabled: false}}
"""
        )
        settings = load_settings(
            config,
            env={
                "SLACK_BOT_TOKEN": "xoxb-bench",
                "SLACK_API_URL": emulator.api_url,
                "REDIS_URL": REDIS_URL,
            },
        )
        runtime = build_runtime(settings, replica_id="bench")
        scheduler = start_watchers(runtime, build_web_client(runtime))
        prom.wait_scraped_for(10)
        time.sleep(cycle)  # both paths settled on a healthy mesh
        exporter.simulator.inject({"service": "payments", "p99_factor": 8})
        visible = None
        while visible is None:
            if prom.query(expr):
                visible = time.time()
            time.sleep(0.1)
        deadline = time.time() + for_s + 120
        meshbot_at = am_at = None
        while time.time() < deadline and (meshbot_at is None or am_at is None):
            meshbot_at = meshbot_at or first_post(emulator, "C_ONCALL", "payments")
            am_at = am_at or first_post(emulator, "C_AM", "firing")
            time.sleep(0.1)
        if meshbot_at is None or am_at is None:
            raise SystemExit(f"no post: meshbot={meshbot_at} alertmanager={am_at}")
        return meshbot_at - visible, am_at - visible
    finally:
        if scheduler is not None:
            scheduler.stop()
        if runtime is not None:
            runtime.close()
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()
        prom.stop()
        am.terminate()
        am.wait(timeout=10)
        relay.shutdown()
        relay.server_close()
        emulator.stop()
        exporter.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycle", type=float, default=5.0)
    parser.add_argument("--for", dest="for_s", type=float, default=10.0)
    options = parser.parse_args()
    timings = sorted(bench_evaluation())
    print(
        f"rule evaluation, 5,000 services, one query: median {timings[len(timings) // 2]:.1f} ms, "
        f"max {timings[-1]:.1f} ms (target < 200 ms)"
    )
    with tempfile.TemporaryDirectory(prefix="meshbot-bench-watch-") as tmp:
        meshbot, stock = bench_end_to_end(options.cycle, options.for_s, Path(tmp))
    budget = options.for_s + options.cycle + 2
    print(
        f"breach visible → Slack post, meshbot:                 {meshbot:6.1f} s "
        f"(budget {budget:g} s)"
    )
    print(f"breach visible → Slack post, Prometheus+Alertmanager: {stock:6.1f} s")
    print(f"ratio stock / meshbot: {stock / meshbot:.1f}x")


if __name__ == "__main__":
    main()
