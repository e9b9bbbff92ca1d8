"""How long the command line takes to answer what needs nothing behind it.

Run from the repo root: `python -m tests.bench.bench_cli_startup [--runs 10]`.

`meshbot --help`, `meshbot version`, `meshbot preflight --help` and a usage error start
no store and no adapter and import only the pure core, so they should answer in well
under a second. In the same run, as the reference, `meshbot status` pays for what every
command used to pay before (config, runtime with adapters, the embedded Valkey), and
`python -c pass` is the floor any Python program pays. Each is run as a user runs it:
a fresh process, wall time, median and max of `--runs` runs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.measure import compile_tree, user_env

CASES = {
    "python -c pass (the floor)": [sys.executable, "-c", "pass"],
    "meshbot --help": [sys.executable, "-m", "bot.app.cli", "--help"],
    "meshbot version": [sys.executable, "-m", "bot.app.cli", "version"],
    "meshbot preflight --help": [sys.executable, "-m", "bot.app.cli", "preflight", "--help"],
    "meshbot prefligth (usage error)": [sys.executable, "-m", "bot.app.cli", "prefligth"],
}
REFERENCE = "meshbot status (builds the runtime)"


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, capture_output=True, check=False, timeout=120)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    options = parser.parse_args()
    compile_tree()
    env = {k: v for k, v in user_env().items() if not k.startswith(("SLACK_", "MESHBOT_"))}
    env.pop("REDIS_URL", None)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "meshbot.yaml"
        config.write_text(f"redis: {{data_dir: {tmp}/data}}\n")
        cases = {
            **CASES,
            REFERENCE: [*CASES["meshbot version"][:3], "status", "--config", str(config)],
        }
        results: dict[str, list[float]] = {}
        for name, command in cases.items():
            timed(command, env)  # warm the page cache
            results[name] = [timed(command, env) for _ in range(options.runs)]
    reference = statistics.median(results[REFERENCE])
    print(f"{'command':<38} {'median':>8} {'max':>8}  vs status")
    for name, times in results.items():
        median = statistics.median(times)
        print(
            f"{name:<38} {median * 1000:>6.0f}ms {max(times) * 1000:>6.0f}ms"
            f"  {reference / median:>5.1f}x faster"
        )


if __name__ == "__main__":
    main()
