"""How fast `meshbot demo` serves: time from start to its URL (meshbot ready behind it).

Figures per round: the whole command as a user runs it (`python -m bot.app.cli demo`,
imports included, to the printed URL and the first page), and in-process the demo's
start as built (Prometheus loads its hour of history while meshbot starts) against
the naive order (history and Prometheus first, then meshbot), with their ratio.

    .venv/bin/python -m tests.bench.bench_demo_start --rounds 3
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import time

import httpx

from bot.app.demo import DemoRun, meshbot_config
from bot.sandbox.demo import free_port


def whole_command() -> tuple[float, float]:
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.app.cli", "demo", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            match = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
            if match:
                url_s = time.monotonic() - started
                httpx.get(match.group(1), timeout=10).raise_for_status()
                return url_s, time.monotonic() - started
        raise RuntimeError("meshbot demo printed no URL")
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
        process.stdout.close()


def as_built() -> float:
    run = DemoRun(0)
    started = time.monotonic()
    try:
        run.start()
        return time.monotonic() - started
    finally:
        run.stop()


def naive() -> float:
    """Prometheus (history, backfill, start) first; meshbot only after it."""
    run = DemoRun(0)
    started = time.monotonic()
    try:
        redis_url = run.valkey.start()
        run._started += ["valkey", "world"]
        run.world.start()
        run.world.wait_prometheus()
        http_port, health_port = free_port(), free_port()
        config = run.workdir / "meshbot.yaml"
        config.write_text(meshbot_config(run.world, http_port, health_port), encoding="utf-8")
        run._spawn(config, redis_url)
        run._wait_ready(f"http://127.0.0.1:{health_port}/readyz")
        return time.monotonic() - started
    finally:
        run.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    urls, pages, built, naives = [], [], [], []
    for i in range(rounds):
        url_s, page_s = whole_command()
        urls.append(url_s)
        pages.append(page_s)
        built.append(as_built())
        naives.append(naive())
        print(
            f"round {i + 1}: command → URL {url_s:.2f} s, page {page_s:.2f} s; in-process "
            f"as built {built[-1]:.2f} s, naive order {naives[-1]:.2f} s"
        )
    load = os.getloadavg()[0]
    print(
        f"median of {rounds} (load {load:.1f} on {os.cpu_count()} CPUs): command → URL "
        f"{statistics.median(urls):.2f} s, page {statistics.median(pages):.2f} s; as built "
        f"{statistics.median(built):.2f} s vs naive {statistics.median(naives):.2f} s "
        f"(ratio {statistics.median(naives) / statistics.median(built):.2f}x)"
    )


if __name__ == "__main__":
    main()
