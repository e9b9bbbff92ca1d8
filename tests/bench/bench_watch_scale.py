"""Benchmark: one watcher cycle at 500 / 5,000 / 20,000 services, on real parts.

Per size, a real Prometheus holds every service's Istio latency histogram
(`istio_request_duration_milliseconds_bucket`, destination reporter, 15 s samples from
the metrics simulator, backfilled with promtool), alert state lives in real Redis, and
alerts go to the Slack emulator. The same ten services breach at every size, so what
must grow with the services (the query, the evaluation) is told apart from what must
grow only with the alerts that change (Redis round trips, Slack calls).

Cycles run back to back on a clock that advances one `cycle_s` each: cycle 1 opens the
ten alerts (pending), cycle 2 fires them (one grouped Slack post: a storm), cycle 3 on
is the steady state. Per cycle: wall time, the PromQL query's time, the evaluation's,
Redis round trips (counted on the wire by a TCP proxy in front of Redis), bytes
Prometheus returned. With `--recorded`, the same cycles also run against the p99
recorded by `meshbot watch rules`' recording rule, evaluated by the same Prometheus.
Goal (issue 17): 5,000 services ≤ 2 s per cycle.

Run from the repo root: ``python -m tests.bench.bench_watch_scale [--sizes 500,5000]``.
Needs Redis on 127.0.0.1:6379 (or MESHBOT_TEST_REDIS_URL) and Debian's prometheus.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis

from tests.bench.measure import CountingProxy, machine, median

SIZES = (500, 5000, 20000)
QUICK_SIZES = (500, 5000)
CYCLE_S = 30.0
CYCLES = 5
BREACHING = 10
REDIS_URL = os.environ.get("MESHBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class SteppedClock:
    """Wall time at the start, then one `cycle_s` later at each `step()`: back-to-back
    cycles are seen as the scheduler would space them."""

    def __init__(self, cycle_s: float) -> None:
        self.base = time.time()
        self.cycle_s = cycle_s
        self.steps = 0

    def now(self) -> float:
        return self.base + self.steps * self.cycle_s

    def step(self) -> None:
        self.steps += 1


class TimedMetrics:
    """The real PrometheusMetrics, with the time spent in its queries added up, asking
    at the backfilled history's end (`at`) rather than at the moment of the cycle:
    writing 20,000 services' history takes longer than a 5-minute window lasts."""

    def __init__(self, inner: Any, at: float) -> None:
        self.inner = inner
        self.at = at
        self.query_s = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def query(self, promql: str, *, at: float | None = None) -> Sequence[Any]:
        started = time.perf_counter()
        try:
            return self.inner.query(promql, at=self.at if at is None else at)
        finally:
            self.query_s += time.perf_counter() - started


class RoundTripProxy:
    """A TCP pass-through to Redis that counts round trips: each burst the client sends
    after having received an answer (a pipeline is one, a MULTI/EXEC of five commands
    sent one by one is five)."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.round_trips = 0
        self._lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()

    def _pump(self, source: socket.socket, sink: socket.socket, count: bool) -> None:
        try:
            while data := source.recv(1 << 16):
                if count:
                    with self._lock:
                        self.round_trips += 1
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            server = socket.create_connection(self.upstream)
            server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def reset(self) -> int:
        with self._lock:
            count, self.round_trips = self.round_trips, 0
        return count

    def __enter__(self) -> RoundTripProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.listener.close()


def run_cycles(
    prom_url: str,
    at: float,
    redis_url: str,
    proxy: RoundTripProxy,
    prom_proxy: CountingProxy,
    mode: str,
) -> list[dict[str, Any]]:
    """CYCLES cycles; `mode`: "direct" (as shipped: screened), "one_query" (every
    service's histogram_quantile in one query, as before screening) or "recorded"."""
    from slack_sdk import WebClient

    from bot.adapters.prometheus import PrometheusMetrics
    from bot.adapters.redis_store import RedisStore
    from bot.sandbox.slack import SlackEmulator
    from bot.watch.jobs import new_alert_id
    from bot.watch.notify import ChannelPacer, SlackAlertNotifier
    from commands.watch.commands import LatencyPolicy, WatchPolicy
    from commands.watch.cycle import WatchCycle
    from commands.watch.ports import CyclePorts
    from commands.watch.rules import RuleSpec

    prefix = f"meshbot-bench-watch-{uuid.uuid4().hex[:8]}"
    emulator = SlackEmulator(bot_token="xoxb-bench", signing_secret="bench").start()
    emulator.add_channel("C_ONCALL", "oncall")
    store = RedisStore.from_url(redis_url, prefix=prefix, timeout_s=30)
    metrics = TimedMetrics(PrometheusMetrics(prom_url, timeout_s=120), at)
    clock = SteppedClock(CYCLE_S)
    latency = LatencyPolicy(
        default_ms=500,
        spec=RuleSpec(for_cycles=2),
        recorded=mode == "recorded",
        screen=mode != "one_query",
    )
    policy = WatchPolicy(
        "bench", "C_ONCALL", cycle_s=CYCLE_S, latency=latency, steal=None, chart=False
    )
    notifier = SlackAlertNotifier(
        WebClient(token="xoxb-bench", base_url=emulator.api_url),
        policy,
        metrics,
        clock,
        rollback=False,
        pacer=ChannelPacer(interval_s=0.0),
    )
    ports = CyclePorts(store, metrics, notifier, clock, "bench", new_alert_id)
    cycle = WatchCycle(policy, ports)
    rows = []
    try:
        for index in range(CYCLES):
            proxy.reset()
            prom_proxy.reset()
            metrics.query_s = 0.0
            posts_before = len(emulator.calls("chat.postMessage"))
            started = time.perf_counter()
            summary = cycle.run()
            wall = time.perf_counter() - started
            wire = prom_proxy.reset()
            if summary.blind:
                raise SystemExit(f"the watcher saw no data: {summary.blind}")
            rows.append(
                {
                    "cycle": index + 1,
                    "wall_s": wall,
                    "query_s": metrics.query_s,
                    "eval_s": summary.eval_ms / 1000,
                    "evaluated": summary.evaluated,
                    "redis_round_trips": proxy.reset(),
                    "prom_bytes": wire.bytes_out,
                    "queries": sum(
                        n for p, n in wire.paths.items() if p.startswith("/api/v1/query")
                    ),
                    "slack_posts": len(emulator.calls("chat.postMessage")) - posts_before,
                    "blind": summary.blind,
                }
            )
            clock.step()
    finally:
        store.close()
        metrics.close()
        emulator.stop()
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()
    return rows


def run_size(services: int, tmp: Path, recorded: bool) -> dict[str, Any]:
    from tests.bench.history import backfilled_services

    workdir = tmp / f"services-{services}"
    prom, history = backfilled_services(services, workdir / "prometheus", BREACHING)
    up = urlsplit(REDIS_URL)
    result: dict[str, Any] = {"services": services, "history": history}
    try:
        with (
            CountingProxy(prom.url) as prom_proxy,
            RoundTripProxy(up.hostname or "127.0.0.1", up.port or 6379) as proxy,
        ):
            redis_url = f"redis://127.0.0.1:{proxy.port}{up.path or '/0'}"
            at = history["end"]
            for mode in ("direct", "one_query"):
                result[mode] = run_cycles(prom_proxy.url, at, redis_url, proxy, prom_proxy, mode)
            if recorded:
                result["rules"] = backfill_rules(prom, at, workdir)
                prom_proxy.retarget(prom.url)
                result["recorded"] = run_cycles(
                    prom_proxy.url, at, redis_url, proxy, prom_proxy, "recorded"
                )
    finally:
        prom.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def backfill_rules(prom: Any, at: float, workdir: Path) -> dict[str, Any]:
    """The recorded p99 up to `at`: the rule file `meshbot watch rules` prints, evaluated
    by promtool against this Prometheus every 30 s of the last two minutes (what the
    server itself does while it runs), its blocks then served by the restarted server.
    The time of one evaluation is what the rule costs Prometheus per interval."""
    import subprocess
    import sys

    from bot.sandbox.prometheus_runner import PROMTOOL

    rules = workdir / "meshbot-rules.yml"
    printed = subprocess.run(
        [sys.executable, "-m", "bot.app.cli", "watch", "rules", "--interval", "30s"],
        capture_output=True,
        text=True,
        check=True,
    )
    rules.write_text(printed.stdout)
    blocks = workdir / "rule-blocks"
    started = time.perf_counter()
    subprocess.run(
        [
            PROMTOOL,
            *("tsdb", "create-blocks-from", "rules", "--quiet"),
            f"--url={prom.url}",
            f"--start={int(at - 120)}",
            f"--end={int(at)}",
            f"--output-dir={blocks}",
            str(rules),
        ],
        capture_output=True,
        check=True,
        timeout=1800,
    )
    seconds = time.perf_counter() - started
    prom.stop(remove=False)
    for block in blocks.iterdir():
        shutil.move(str(block), prom.data_dir / block.name)
    prom.start(timeout=300)
    return {"promtool_rules_s": seconds, "evaluations": 5, "per_evaluation_s": seconds / 5}


def steady(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The steady state: cycles after the alerts fired, median of each figure."""
    later = rows[2:] or rows
    return {k: median([r[k] for r in later]) for k in ("wall_s", "query_s", "eval_s")} | {
        "redis_round_trips": max(r["redis_round_trips"] for r in later),
        "prom_bytes": later[0]["prom_bytes"],
        "queries": later[0].get("queries", 0),
    }


MARKS = {"direct": "", "one_query": "1", "recorded": "r"}


def summarise(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"{'services':>8} | {'cycle':>5} {'wall s':>7} {'query s':>7} {'eval s':>7} "
        f"{'redis RT':>8} {'posts':>5} {'prom KB':>8}"
    ]
    for result in results:
        for kind in ("direct", "one_query", "recorded"):
            for row in result.get(kind) or ():
                label = f"{result['services']}{MARKS[kind]}"
                lines.append(
                    f"{label:>8} | {row['cycle']:>5} {row['wall_s']:>7.3f} {row['query_s']:>7.3f} "
                    f"{row['eval_s']:>7.3f} {row['redis_round_trips']:>8} "
                    f"{row['slack_posts']:>5} {row['prom_bytes'] / 1024:>8.0f}"
                )
    return lines


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}")
    parser.add_argument("--recorded", action="store_true", help="also on the recording rule")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else tuple(int(s) for s in args.sizes.split(","))
    results = []
    with tempfile.TemporaryDirectory(prefix="meshbot-bench-watch-") as tmp:
        for services in sizes:
            results.append(run_size(services, Path(tmp), args.recorded))
            print("\n".join(summarise(results[-1:])[1:]), flush=True)
    print("\n".join(summarise(results)))
    for result in results:
        result["steady"] = steady(result["direct"])
        result["steady_one_query"] = steady(result["one_query"])
        if result.get("recorded"):
            result["steady_recorded"] = steady(result["recorded"])
    report = {"machine": machine(), "sizes": results, "cycle_s": CYCLE_S}
    five = next((r for r in results if r["services"] == 5000), None)
    if five:
        worst = max(r["wall_s"] for r in five["direct"])
        print(f"goal (5,000 services ≤ 2 s per cycle): {'met' if worst <= 2 else 'NOT MET'}")
    print("(sizes: 1 = one histogram_quantile query for every service, r = recorded p99)")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
