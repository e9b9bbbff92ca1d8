"""Watchers: breach-to-Slack time against the stock Prometheus → Alertmanager path, and
rule evaluation time for 5,000 services.

Run from the repo root: `python -m tests.bench.bench_watch [--cycle 5] [--for 10]`.
Needs /usr/bin/prometheus, /usr/bin/prometheus-alertmanager (Debian packages) and Redis
on 127.0.0.1:6379 (or MESHBOT_TEST_REDIS_URL).

Side by side, in the same run, on the same metric and threshold:
- meshbot: one watcher cycle every `--cycle` s, `for` = `--for` s, posting to #oncall;
- the stock path twice, each a Prometheus alerting rule with the same expression,
  threshold and `for`, an Alertmanager and a webhook receiver that posts into the same
  Slack emulator: *default* (rules evaluated every `--cycle` s, Alertmanager's default
  grouping: group_wait 30 s) and *tuned* as a team that cares would run it (rules
  evaluated every second, group_wait 1 s, group_interval 1 s).
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
from dataclasses import dataclass
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
    """Alertmanager's webhook receiver: every notification → one chat.postMessage in the
    channel named by the path (`/C_AM`)."""

    client: WebClient

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        names = [a["labels"].get("destination_service", "?") for a in body.get("alerts", [])]
        channel = self.path.strip("/") or "C_AM"
        self.client.chat_postMessage(channel=channel, text=f"[{body['status']}] p99 high: {names}")
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


@dataclass(frozen=True)
class StockPath:
    """One Prometheus rule → Alertmanager → webhook path, and how it is tuned."""

    name: str
    channel: str
    evaluation_s: float | None  # None: every `--cycle` s
    group_wait: str | None  # None: Alertmanager's default (30 s)
    group_interval: str | None = None


STOCK_PATHS = (
    StockPath("default", "C_AM", None, None),
    StockPath("tuned", "C_AM_TUNED", 1.0, "1s", "1s"),
)


def alertmanager_config(path: StockPath, relay_port: int) -> str:
    route: dict[str, Any] = {"receiver": "relay"}
    if path.group_wait is not None:
        route["group_wait"] = path.group_wait
    if path.group_interval is not None:
        route["group_interval"] = path.group_interval
    receiver = {"url": f"http://127.0.0.1:{relay_port}/{path.channel}"}
    return json.dumps(
        {"route": route, "receivers": [{"name": "relay", "webhook_configs": [receiver]}]}
    )


def start_alertmanager(path: StockPath, relay_port: int, work: Path) -> tuple[Any, int]:
    port = free_port()
    folder = work / f"am-{path.name}"
    folder.mkdir()
    (folder / "am.yml").write_text(alertmanager_config(path, relay_port))
    process = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={folder / 'am.yml'}",
            f"--storage.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, port


def bench_end_to_end(cycle: float, for_s: float, work: Path) -> dict[str, float]:
    """Seconds from "breach visible" to the Slack post: meshbot and each stock path."""
    scenario = Scenario.load(scenario_path("baseline"))
    exporter = MetricsExporter(MetricsSimulator(scenario)).start()
    emulator = SlackEmulator(bot_token="xoxb-bench", signing_secret="bench").start()
    emulator.add_channel("C_ONCALL", "oncall")
    for path in STOCK_PATHS:
        emulator.add_channel(path.channel, f"alertmanager-{path.name}")
    relay = ThreadingHTTPServer(("127.0.0.1", 0), Relay)
    Relay.client = WebClient(token="xoxb-bench", base_url=emulator.api_url)
    threading.Thread(target=relay.serve_forever, daemon=True).start()
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
    managers: list[Any] = []
    proms: list[PrometheusProcess] = []
    prefix = f"meshbot-bench-{uuid.uuid4().hex[:8]}"
    scheduler = runtime = None
    try:
        for path in STOCK_PATHS:
            am, am_port = start_alertmanager(path, relay.server_address[1], work)
            managers.append(am)
            folder = work / f"prom-{path.name}"
            folder.mkdir()
            prom = PrometheusProcess(
                [exporter.target], workdir=folder, extra_args=["--web.enable-lifecycle"]
            )
            proms.append(prom)
            prom.start()
            evaluation = path.evaluation_s or cycle
            (prom.workdir / "prometheus.yml").write_text(
                prometheus_config(exporter.target, am_port, evaluation, rules)
            )
            httpx.post(f"{prom.url}/-/reload", timeout=10).raise_for_status()
        prom = proms[0]
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
        for each in proms:
            each.wait_scraped_for(10)
        time.sleep(cycle)  # every path settled on a healthy mesh
        exporter.simulator.inject({"service": "payments", "p99_factor": 8})
        visible = None
        while visible is None:
            if prom.query(expr):
                visible = time.time()
            time.sleep(0.1)
        deadline = time.time() + for_s + 120
        channels = {"meshbot": ("C_ONCALL", "payments")} | {
            path.name: (path.channel, "firing") for path in STOCK_PATHS
        }
        seen: dict[str, float] = {}
        while time.time() < deadline and len(seen) < len(channels):
            for name, (channel, needle) in channels.items():
                if name not in seen and (at := first_post(emulator, channel, needle)):
                    seen[name] = at
            time.sleep(0.1)
        if len(seen) < len(channels):
            raise SystemExit(f"no post from {sorted(set(channels) - set(seen))}")
        return {name: at - visible for name, at in seen.items()}
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
        for each in proms:
            each.stop()
        for am in managers:
            am.terminate()
            am.wait(timeout=10)
        relay.shutdown()
        relay.server_close()
        emulator.stop()
        exporter.stop()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycle", type=float, default=5.0)
    parser.add_argument("--for", dest="for_s", type=float, default=10.0)
    options = parser.parse_args(argv)
    timings = sorted(bench_evaluation())
    print(
        f"rule evaluation, 5,000 services, one query: median {timings[len(timings) // 2]:.1f} ms, "
        f"max {timings[-1]:.1f} ms (target < 200 ms)"
    )
    with tempfile.TemporaryDirectory(prefix="meshbot-bench-watch-") as tmp:
        seconds = bench_end_to_end(options.cycle, options.for_s, Path(tmp))
    budget = options.for_s + options.cycle + 2
    print(f"breach visible → Slack post, meshbot (cycle {options.cycle:g} s): ", end="")
    print(f"{seconds['meshbot']:6.1f} s (budget {budget:g} s)")
    for path in STOCK_PATHS:
        label = f"Prometheus+Alertmanager {path.name}"
        ratio = seconds[path.name] / seconds["meshbot"]
        print(f"breach visible → Slack post, {label:33}{seconds[path.name]:6.1f} s ({ratio:.1f}x)")
    return {
        "seconds": seconds,
        "cycle_s": options.cycle,
        "for_s": options.for_s,
        "eval_ms_median": timings[len(timings) // 2],
        "paths": {p.name: p.__dict__ for p in STOCK_PATHS},
    }


if __name__ == "__main__":
    main()
