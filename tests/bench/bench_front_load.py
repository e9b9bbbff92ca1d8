"""Load on the real HTTP front: signed commands at a steady rate mixed with button clicks.

Run from the repo root (Redis up; Prometheus from the Debian package for the watchers;
Istio's CRDs in ../shared):

    .venv/bin/python -m tests.bench.bench_front_load [--rate 100] [--duration 60]
        [--compare-with be18be1]

Every part runs as it does in production, each in its own process: `meshbot serve
--http` (a subprocess, with its watchers running a cycle every 5 s against a real
Prometheus scraping the metrics simulator), the Slack emulator, and the load generator,
which sends open-loop — request i leaves at i / rate whatever the answers do — so a slow
bot shows up as latency and errors, not as a lower rate. One request in five is a click
on a live proposal's Approve / Reject by someone whose role refuses it (each must reach
the audit stream); the rest are `/mesh help`, `version`, `change ID`, `history`. Each
request has its own response_url, so "every answer delivered" is exact: one post per URL,
and the time from request to answer is measured. meshbot's resident memory is sampled
every second, and its log lines are counted.

`--compare-with REV` runs the same load, in the same run, against meshbot as it was at
git revision REV (exported with `git archive`): the log volume and memory figures side
by side, and what that version got wrong (no audit of role refusals; answers minutes
late under steady load, the work queue growing without end).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import redis

from bot.sandbox.kube import KubeTestServer
from bot.sandbox.metrics import MetricsExporter, MetricsSimulator, Scenario, scenario_path
from bot.sandbox.prometheus_runner import PrometheusProcess
from bot.sandbox.slack import sign, slash_command_body
from tests.bench.front_load_parts import Request, emulator_process, load_process
from tests.fixtures.seeds import SHOP_STRICT
from tests.processes import free_port, wait_http
from tests.reliability.support import rss_bytes

SECRET = "bench-front-signing-secret"
REDIS_URL = os.environ.get("MESHBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT.parent / "shared" / "istio-crds" / "istio-1.30.0-crd-all.gen.yaml"
# (action, clicker): each refused by role (viewer, no role, operator)
CLICKS = [
    ("change_approve", "U_VIEWER"),
    ("change_reject", "U_STRANGER"),
    ("change_approve", "U_ALICE"),
]


# ---- one run ---------------------------------------------------------------------------------


@dataclass
class Figures:
    label: str
    sent: int = 0
    elapsed_s: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    ack_ms: dict[str, float] = field(default_factory=dict)
    answer_ms: dict[str, float] = field(default_factory=dict)
    answered_once: int = 0
    unanswered: int = 0
    answered_twice: int = 0
    clicks: int = 0
    refusals_audited: int = 0
    rss_mib: list[float] = field(default_factory=list)
    log_lines: int = 0
    log_lines_during_load: int = 0
    loggers: Counter[str] = field(default_factory=Counter)
    slack_calls: dict[str, int] = field(default_factory=dict)


def run(label: str, source: Path, rate: float, duration: float, work: Path) -> Figures:
    figures = Figures(label)
    total = int(rate * duration)
    work = work / uuid.uuid4().hex[:8]
    work.mkdir()
    prefix = f"meshbot-bench-{uuid.uuid4().hex[:8]}"
    with ExitStack() as cleanup:
        cleanup.callback(_clean, prefix)
        control, api_url, bot_token, urls = _start_emulator(total + 10, cleanup)
        kube = KubeTestServer().start()
        cleanup.callback(kube.stop)
        kube.load_crds_from(CRDS)
        kube.load_seed(SHOP_STRICT)
        kubeconfig = kube.write_kubeconfig(work / "kubeconfig")
        scenario = Scenario.load(scenario_path("baseline"))
        exporter = MetricsExporter(MetricsSimulator(scenario)).start()
        cleanup.callback(exporter.stop)
        (work / "prom").mkdir()
        prom = PrometheusProcess([exporter.target], workdir=work / "prom").start()
        cleanup.callback(prom.stop)
        health, port = free_port(), free_port()
        config = work / "meshbot.yaml"
        config.write_text(
            CONFIG.format(prefix=prefix, health=health, kubeconfig=kubeconfig, prometheus=prom.url)
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MESHBOT_"))},
            "MESHBOT_CONFIG": str(config),
            "SLACK_BOT_TOKEN": bot_token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": api_url,
            "REDIS_URL": REDIS_URL,
            "PYTHONPATH": str(source),
        }
        log_path = work / "meshbot.log"
        with log_path.open("w") as log_file:
            bot = subprocess.Popen(
                [sys.executable, "-m", "bot.app.cli", "serve", "--http", "--port", str(port)],
                env=env,
                cwd=source,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        cleanup.callback(_stop, bot)
        wait_http(f"http://127.0.0.1:{health}/readyz", ok_only=True, timeout=60)
        _load(
            figures,
            control,
            f"http://127.0.0.1:{port}/slack/events",
            urls,
            rate,
            total,
            bot.pid,
            log_path,
            prefix,
        )
    lines = log_path.read_text().splitlines()
    figures.log_lines = len(lines)
    figures.loggers = Counter(_logger(line) for line in lines)
    return figures


CONFIG = """
redis: {{key_prefix: {prefix}}}
health: {{port: {health}}}
access:
  operators: [U_ALICE]
  viewers: [U_VIEWER]
  approvers: ["@mesh-approvers"]
clusters:
  prod:
    kubeconfig: {kubeconfig}
    context: sandbox
    prometheus: {{url: "{prometheus}"}}
    oncall_channel: C_ONCALL
watchers:
  cycle_s: 5
  lease_ttl_s: 15
  chart: false
"""


def _start_emulator(urls_needed: int, cleanup: ExitStack) -> tuple[Connection, str, str, list[str]]:
    spawn = mp.get_context("spawn")
    from_emulator, emulator_out = spawn.Pipe(duplex=False)
    control, emulator_control = spawn.Pipe()
    emulator = spawn.Process(
        target=emulator_process, args=(urls_needed, emulator_out, emulator_control, SECRET)
    )
    emulator.start()

    def stop() -> None:
        control.send("stop")
        emulator.join(timeout=10)

    cleanup.callback(stop)
    api_url, bot_token, urls = from_emulator.recv()
    return control, api_url, bot_token, urls


def _stop(bot: subprocess.Popen[bytes]) -> None:
    bot.send_signal(signal.SIGTERM)
    try:
        bot.wait(timeout=30)
    except subprocess.TimeoutExpired:
        bot.kill()
        bot.wait()


def _load(
    figures: Figures,
    control: Connection,
    target: str,
    urls: list[str],
    rate: float,
    total: int,
    pid: int,
    log_path: Path,
    prefix: str,
) -> None:
    proposal_url = urls.pop()
    body = slash_command_body(
        text="mtls permissive namespace=shop", user_id="U_ALICE", response_url=proposal_url
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SECRET, body)}
    httpx.post(target, content=body, headers=headers, timeout=10).raise_for_status()
    change_id, message_ts = _wait(lambda: _ask(control, "proposal"), "the proposal", 30)
    plan = _plan(total, urls, change_id, message_ts)
    figures.clicks = sum(r.kind == "click" for r in plan)
    samples: list[float] = []
    stop_sampling = threading.Event()

    def sample() -> None:
        while not stop_sampling.wait(1.0):
            samples.append(rss_bytes(pid) / 2**20)

    threading.Thread(target=sample, daemon=True).start()
    lines_before = _count_lines(log_path)
    spawn = mp.get_context("spawn")
    from_load, load_out = spawn.Pipe(duplex=False)
    load = spawn.Process(target=load_process, args=(target, plan, rate, SECRET, load_out))
    load.start()
    results, figures.elapsed_s = from_load.recv()
    load.join()
    figures.log_lines_during_load = _count_lines(log_path) - lines_before
    figures.sent = len(results)
    figures.statuses = Counter(status for _, status, _, _, _ in results)
    for kind in ("command", "click"):
        ms = sorted(1000 * t for k, _, t, _, _ in results if k == kind)
        figures.ack_ms[f"{kind} p50"] = ms[len(ms) // 2]
        figures.ack_ms[f"{kind} p99"] = ms[max(0, int(len(ms) * 0.99) - 1)]
        figures.ack_ms[f"{kind} max"] = ms[-1]
    wanted = {r.url.rstrip("/").rsplit("/", 1)[-1] for r in plan}
    deadline = time.monotonic() + 60
    while True:
        answers = _ask(control, "answers")
        if all(u in answers for u in wanted) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    stop_sampling.set()
    figures.rss_mib = samples
    posts = {u: answers.get(u, (0, 0.0))[0] for u in wanted}
    figures.answered_once = sum(n == 1 for n in posts.values())
    figures.unanswered = sum(n == 0 for n in posts.values())
    figures.answered_twice = sum(n > 1 for n in posts.values())
    delays = sorted(
        1000 * (answers[url_id][1] - sent_at)
        for _, _, _, url_id, sent_at in results
        if url_id in answers
    )
    if delays:
        figures.answer_ms = {
            "p50": delays[len(delays) // 2],
            "p99": delays[max(0, int(len(delays) * 0.99) - 1)],
            "max": delays[-1],
        }
    figures.refusals_audited = _refusals(prefix, change_id)
    figures.slack_calls = _ask(control, "calls")


def _plan(total: int, urls: list[str], change_id: str, message_ts: str) -> list[Request]:
    commands = ["help", "version", f"change {change_id}", "history limit=5"]
    plan: list[Request] = []
    for i in range(total):
        url = urls[i]
        if i % 5 == 4:
            action, user = CLICKS[(i // 5) % len(CLICKS)]
            plan.append(Request("click", action, user, url, change_id, message_ts))
        else:
            plan.append(Request("command", commands[i % len(commands)], "U_VIEWER", url))
    return plan


def _ask(control: Connection, what: str) -> Any:
    control.send(what)
    return control.recv()


def _wait(probe: Any, what: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not appear within {timeout} s")


def _refusals(prefix: str, change_id: str) -> int:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        rows = client.xrange(f"{prefix}:{{prod}}:audit", count=100_000)
    finally:
        client.close()
    return sum(
        1
        for _, fields in rows
        if fields.get("result") == "refused" and fields.get("change") == change_id
    )


def _clean(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _count_lines(path: Path) -> int:
    return len(path.read_text().splitlines())


def _logger(line: str) -> str:
    try:
        return str(json.loads(line).get("logger", "?"))
    except ValueError:
        return "(not JSON)"


def _exported(revision: str, work: Path) -> Path:
    target = work / f"src-{revision}"
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


# ---- report ----------------------------------------------------------------------------------


def report(f: Figures, rate: float, duration: float) -> list[str]:
    problems = []
    errors = f.sent - f.statuses.get(200, 0)
    rss = f.rss_mib
    settled = rss[min(10, len(rss) - 1)] if rss else 0.0
    growth = (rss[-1] - settled) if rss else 0.0
    print(f"\n== {f.label}")
    print(f"sent {f.sent} in {f.elapsed_s:.1f} s ({f.sent / f.elapsed_s:.1f}/s, target {rate:g}/s)")
    print(f"  of which {f.clicks} clicks refused by role; statuses {dict(f.statuses)}")
    print("  ack ms: " + ", ".join(f"{k} {v:.0f}" for k, v in f.ack_ms.items()))
    print(
        f"answers: {f.answered_once} delivered once, {f.unanswered} missing, "
        f"{f.answered_twice} delivered twice; request to answer ms: "
        + ", ".join(f"{k} {v:.0f}" for k, v in f.answer_ms.items())
    )
    print(f"audit: {f.refusals_audited} refusals recorded for {f.clicks} refused clicks")
    if rss:
        print(
            f"RSS MiB: at 10 s {settled:.1f}, end {rss[-1]:.1f}, max {max(rss):.1f} "
            f"({growth:+.1f} after warm-up, {len(rss)} samples); every 10 s: "
            + " ".join(f"{v:.0f}" for v in rss[::10])
        )
    per_minute = f.log_lines_during_load / (f.elapsed_s / 60)
    print(
        f"log lines: {f.log_lines} in all, {f.log_lines_during_load} during the load "
        f"({per_minute:.1f} a minute); by logger {dict(f.loggers.most_common(6))}"
    )
    print(f"Slack calls: {f.slack_calls}")
    if errors:
        problems.append(f"{errors} requests did not get 200")
    if f.unanswered or f.answered_twice:
        problems.append("not every request was answered exactly once")
    if max(f.ack_ms.values(), default=0) > 3000:
        problems.append("an ack took longer than Slack's 3 s")
    if f.answer_ms.get("p99", 0) > 3000:
        problems.append(f"answers came late (p99 {f.answer_ms['p99'] / 1000:.1f} s)")
    if f.refusals_audited != f.clicks:
        problems.append("the audit does not hold every refused click")
    if growth > 20:
        problems.append(f"memory grew {growth:.1f} MiB after warm-up")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--compare-with", help="a git revision to run the same load against")
    options = parser.parse_args()
    if not CRDS.exists():
        raise SystemExit(f"Istio's CRDs are needed: {CRDS}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        runs = [("meshbot (this tree)", ROOT)]
        if options.compare_with:
            runs.append(
                (f"meshbot at {options.compare_with}", _exported(options.compare_with, work))
            )
        results = [run(label, src, options.rate, options.duration, work) for label, src in runs]
    problems = report(results[0], options.rate, options.duration)
    for other in results[1:]:
        report(other, options.rate, options.duration)
        now, before = results[0], other
        now_rate = now.log_lines_during_load / now.elapsed_s
        before_rate = before.log_lines_during_load / before.elapsed_s
        fewer = f"{before_rate / now_rate:.0f}x fewer" if now_rate else "none now"
        print(
            f"\nlog lines a minute under load: {60 * before_rate:.0f} before, "
            f"{60 * now_rate:.1f} now ({fewer})"
        )
    print(
        "\nverdict: "
        + (
            "; ".join(problems)
            if problems
            else "0 errors, acks within 3 s, every answer delivered once and within 3 s, "
            "every refusal audited, memory flat"
        )
    )
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
