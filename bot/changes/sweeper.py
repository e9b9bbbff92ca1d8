"""A small timer that drives the change pipeline's clock-based steps.

Proposals expire and bake windows end whether or not anyone clicks, so something has
to look at the active changes every few seconds: `Pipeline.run_due` expires stale
proposals and runs due bake checks. State lives in Redis (the due time is on the
change record), so a restarted replica simply picks up where the last one stopped,
and every transition is claimed atomically, so several replicas running this timer
judge a change once.

The timer thread only schedules; the work runs on the runtime's work pool, and the
timer ends by itself once that pool is shut down (`Runtime.close`) or `stop` is called.
"""

from __future__ import annotations

import logging
import threading

from bot.core.runtime import Runtime
from commands.changes.pipeline import Pipeline
from commands.core.errors import PortError

log = logging.getLogger(__name__)


class ChangeSweeper:
    def __init__(self, runtime: Runtime, interval_s: float = 5.0) -> None:
        self._runtime = runtime
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._busy = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="meshbot-bake", daemon=True)

    def start(self) -> ChangeSweeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            if self._busy.locked():
                continue  # the previous sweep is still running
            try:
                self._runtime.work_pool.submit(self.run_once)
            except RuntimeError:
                return  # the work pool is shut down: the runtime is closing

    def run_once(self) -> int:
        with self._busy:
            try:
                return Pipeline(self._runtime.services).run_due()
            except PortError as exc:
                log.warning("change sweep skipped: %s", exc)
            except Exception:
                # the top of a background job: say it loudly, keep the timer alive
                log.exception("change sweep failed")
            return 0
