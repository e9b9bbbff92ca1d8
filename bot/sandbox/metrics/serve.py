"""``meshbot sandbox metrics``: serve a scenario until SIGINT/SIGTERM.

Kept apart from the exporter so the exporter stays free of process-wide concerns
(signal handlers can only be installed from the main thread).
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

from bot.sandbox.metrics.exporter import MetricsExporter
from bot.sandbox.metrics.scenario import Scenario
from bot.sandbox.metrics.simulator import MetricsSimulator


def serve_forever(scenario_path: str, port: int = 9464) -> None:
    """Serve the scenario's metrics on 127.0.0.1:port until interrupted."""
    scenario = Scenario.load(scenario_path)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with MetricsExporter(MetricsSimulator(scenario), port=port) as exporter:
            print(
                f"scenario {scenario.name!r}: serving {exporter.url} (Ctrl-C to stop)",
                file=sys.stderr,
                flush=True,
            )
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
