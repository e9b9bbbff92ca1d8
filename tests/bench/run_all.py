"""Every end-to-end benchmark in one run, written up as docs/performance.md with plots.

Run from the repo root: ``python -m tests.bench.run_all [--quick] [--out docs/performance]``.
``--out docs/performance`` writes ``docs/performance.md`` and the plots beside it in
``docs/img/perf-*.png``. Each benchmark measures meshbot beside its floor, the naive way or
the stock tool in the same run, so the ratios hold on a busy machine even when the
absolute figures do not; the machine, its load before and after, the date and this
command are written with them. ``--quick``: the sizes that fit a few minutes each
(preflight 100/500/2,000 nodes once each; watcher 500/5,000 services), still 20 rounds of
ack latency. A benchmark that fails is reported as failed; the others still run.
The staged install's benchmark (tests/bench/bench_install.py) runs when it exists.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.bench.measure import machine
from tests.bench.report import write_report


class Tee(io.TextIOBase):
    """Print as usual and keep a copy (a benchmark's own summary goes into the report)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.copy = io.StringIO()

    def write(self, text: str) -> int:
        self.stream.write(text)
        self.stream.flush()
        return self.copy.write(text)


def run_one(name: str, call: Callable[[], Any]) -> dict[str, Any]:
    print(f"\n=== {name} ===", flush=True)
    tee = Tee(sys.stdout)
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(tee):
            figures = call()
        outcome: dict[str, Any] = {"ok": True, "figures": figures}
    except (Exception, SystemExit) as exc:
        traceback.print_exc()
        outcome = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    outcome["seconds"] = time.perf_counter() - started
    outcome["printed"] = tee.copy.getvalue()
    return outcome


def optional_bench(module_name: str) -> Callable[[], Any] | None:
    """A benchmark another change adds, if it is there yet, run as its own process: forked
    from this one (grown by the benchmarks before it), a child counts this process's
    pages in its own peak RSS until it execs."""
    if importlib.util.find_spec(module_name) is None:
        return None

    def run() -> None:
        done = subprocess.run(
            [sys.executable, "-m", module_name], capture_output=True, text=True, check=False
        )
        print(done.stdout, end="")
        if done.returncode != 0:
            raise RuntimeError(f"{module_name} exited {done.returncode}: {done.stderr[-2000:]}")

    return run


def plan(quick: bool) -> dict[str, Callable[[], Any]]:
    from tests.bench import (
        bench_ack_latency,
        bench_preflight_e2e,
        bench_watch,
        bench_watch_scale,
    )

    preflight = ["--quick"] if quick else []
    watch = ["--quick", "--recorded"] if quick else ["--recorded"]
    steps: dict[str, Callable[[], Any]] = {
        "preflight": lambda: bench_preflight_e2e.main(preflight),
        "watch_cycle": lambda: bench_watch_scale.main(watch),
        "breach_to_slack": lambda: bench_watch.main([]),
        "ack": lambda: bench_ack_latency.main(["--rounds", "20"]),
    }
    install = optional_bench("tests.bench.bench_install")
    if install is None:
        print("note: tests/bench/bench_install.py is absent; the install benchmark is skipped")
    else:
        steps["install"] = install
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="docs/performance", help="report path without .md")
    parser.add_argument("--only", help="comma-separated steps (preflight, watch_cycle, …)")
    parser.add_argument(
        "--append", action="store_true", help="add these steps' sections to the existing report"
    )
    args = parser.parse_args(argv)
    command = "python -m tests.bench.run_all " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    before = machine()
    started = datetime.now(UTC)
    results: dict[str, Any] = {}
    for name, call in plan(args.quick).items():
        if args.only and name not in args.only.split(","):
            continue
        results[name] = run_one(name, call)
    out = Path(args.out)
    report = write_report(
        out.with_suffix(".md"),
        out.parent / "img",
        results,
        append=args.append,
        run={
            "command": command.strip(),
            "started": started.strftime("%Y-%m-%d %H:%M UTC"),
            "minutes": (datetime.now(UTC) - started).total_seconds() / 60,
            "before": before,
            "after": machine(),
        },
    )
    print(f"\nwrote {report}")
    return 0 if all(r["ok"] for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
