"""Ack latency of `/mesh help` over HTTP mode, against a bare Bolt app on the same server.

Run from the repo root: `python -m tests.bench.bench_ack_latency [--concurrency 50]
[--rounds 20]`. Needs Redis on 127.0.0.1:6379 (or MESHBOT_TEST_REDIS_URL). Each round
fires `concurrency` signed slash commands at once (a barrier releases them together)
and times each until its HTTP response, which is the ack. meshbot and the bare app
(an `@app.command` that only acks) alternate rounds on identical waitress servers.
Three processes, as in production where Slack is elsewhere: this one serves both apps;
one runs the Slack emulator (which receives meshbot's answers); one generates the load.
Which app goes first alternates round by round. Each round's p99 of meshbot is divided by
the bare app's p99 of the same round: the median and the worst of those ratios are the
figures (one pooled p99 hides a bad round; a single round's swings are noise).
Targets: meshbot p99 < 100 ms at 50 concurrent (issue 2); ≤ 1.2x the bare app in the
median round (issue 17).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import tempfile
import threading
import time
import uuid
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import httpx
from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from bot.app.config import load_settings
from bot.app.health import BackgroundServer
from bot.app.runtime import build_runtime
from bot.app.slack import build_app
from bot.sandbox.slack import SlackEmulator, sign, slash_command_body
from bot.slack.serve import slack_wsgi

SECRET = "bench-signing-secret"


def bare_app(api_url: str, bot_token: str) -> App:
    app = App(
        client=WebClient(token=bot_token, base_url=api_url),
        signing_secret=SECRET,
        process_before_response=False,
    )

    @app.command("/mesh")
    def only_ack(ack: Ack) -> None:
        ack()

    return app


def fire(url: str, response_urls: list[str], concurrency: int) -> list[float]:
    barrier = threading.Barrier(concurrency)
    timings: list[float] = []
    lock = threading.Lock()

    def one(response_url: str) -> None:
        body = slash_command_body(text="help", user_id="U_ALICE", response_url=response_url)
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SECRET, body)}
        with httpx.Client(timeout=10) as client:
            barrier.wait()
            started = time.perf_counter()
            answer = client.post(url, content=body, headers=headers)
            elapsed = time.perf_counter() - started
        assert answer.status_code == 200, answer.text
        with lock:
            timings.append(elapsed)

    threads = [threading.Thread(target=one, args=(u,)) for u in response_urls[:concurrency]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return timings


def emulator_process(urls_needed: int, out: Connection, stop: Event) -> None:
    with SlackEmulator(signing_secret=SECRET) as emulator:
        emulator.add_user("U_ALICE", "alice")
        emulator.add_channel("C_OPS", "mesh-ops")
        response_urls = [emulator.new_response_url("C_OPS") for _ in range(urls_needed)]
        out.send((emulator.api_url, emulator.bot_token, response_urls))
        stop.wait()
        out.send(len(emulator.responses()))


def load_process(
    targets: dict[str, str],
    response_urls: list[str],
    concurrency: int,
    rounds: int,
    out: Connection,
) -> None:
    results: dict[str, list[list[float]]] = {name: [] for name in targets}
    cursor = 0

    def next_urls() -> list[str]:
        nonlocal cursor
        chunk = response_urls[cursor : cursor + concurrency]
        cursor += concurrency
        return chunk

    for url in targets.values():  # one warm-up round each
        fire(url, next_urls(), concurrency)
    names = list(targets)
    for index in range(rounds):
        for name in names if index % 2 == 0 else names[::-1]:
            results[name].append(fire(targets[name], next_urls(), concurrency))
            time.sleep(0.3)  # let the round's after-ack work drain
    out.send(results)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    options = parser.parse_args(argv)
    redis_url = os.environ.get("MESHBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"meshbot-bench-{uuid.uuid4().hex[:8]}"
    spawn = mp.get_context("spawn")
    needed = options.concurrency * (2 * options.rounds + 2)
    from_emulator, to_parent = spawn.Pipe(duplex=False)
    stop = spawn.Event()
    emulator = spawn.Process(target=emulator_process, args=(needed, to_parent, stop))
    emulator.start()
    api_url, bot_token, response_urls = from_emulator.recv()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "meshbot.yaml"
        config.write_text(f"redis: {{key_prefix: {prefix}}}\naccess: {{operators: [U_ALICE]}}\n")
        settings = load_settings(
            config,
            env={
                "SLACK_BOT_TOKEN": bot_token,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": api_url,
                "REDIS_URL": redis_url,
            },
        )
        with build_runtime(settings) as runtime:
            servers = {
                "meshbot": BackgroundServer(
                    slack_wsgi(build_app(runtime), runtime), "127.0.0.1", 0, 16
                ),
                "bare bolt": BackgroundServer(
                    SlackRequestHandler(bare_app(api_url, bot_token)), "127.0.0.1", 0, 16
                ),
            }
            try:
                for server in servers.values():
                    server.start()
                targets = {name: f"{s.url}/slack/events" for name, s in servers.items()}
                from_load, load_out = spawn.Pipe(duplex=False)
                load = spawn.Process(
                    target=load_process,
                    args=(targets, response_urls, options.concurrency, options.rounds, load_out),
                )
                load.start()
                results: dict[str, list[list[float]]] = from_load.recv()
                load.join()
                time.sleep(1.0)
            finally:
                for server in servers.values():
                    server.stop()
                stop.set()
                answered = from_emulator.recv()
                emulator.join()
    return report(results, options.concurrency, options.rounds, answered)


def report(
    results: dict[str, list[list[float]]], concurrency: int, rounds: int, answered: int
) -> dict[str, Any]:
    print(
        f"ack latency, {concurrency} concurrent signed /mesh help, "
        f"{rounds} rounds ({concurrency * rounds} requests each)"
    )
    figures: dict[str, Any] = {}
    for name, per_round in results.items():
        values = [v for one in per_round for v in one]
        p50, p99 = percentile(values, 0.50) * 1000, percentile(values, 0.99) * 1000
        mean = statistics.fmean(values) * 1000
        figures[name] = {"p50_ms": p50, "p99_ms": p99, "mean_ms": mean}
        print(f"  {name:<10} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   mean {mean:7.1f} ms (pooled)")
    ratios = [
        percentile(ours, 0.99) / percentile(theirs, 0.99)
        for ours, theirs in zip(results["meshbot"], results["bare bolt"], strict=True)
    ]
    median_ratio, worst = statistics.median(ratios), max(ratios)
    print(
        f"  per-round p99 ratio meshbot/bare: median {median_ratio:.2f}x, worst {worst:.2f}x, "
        f"best {min(ratios):.2f}x (target: median <= 1.2x)"
    )
    print(f"  answers meshbot posted to response_url: {answered}")
    return {
        "apps": figures,
        "ratios": ratios,
        "median_ratio": median_ratio,
        "worst_ratio": worst,
        "rounds": rounds,
        "concurrency": concurrency,
        "answered": answered,
    }


if __name__ == "__main__":
    main()
