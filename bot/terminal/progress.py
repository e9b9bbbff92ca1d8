"""A sign of life on stderr while a command works for more than a second.

A preflight of a large cluster or a slow API server can take seconds; a silent terminal
looks hung. After `delay` seconds a spinner with the elapsed time appears on stderr —
only when stderr is a terminal, so pipes, files and CI logs never get it — and is wiped
when the work ends, leaving stdout exactly what the command printed.
"""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import TextIO

FRAMES = "|/-\\"
DELAY_S = 1.0
TICK_S = 0.1


class Progress:
    def __init__(self, label: str, stream: TextIO | None = None, delay: float = DELAY_S) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.delay = delay
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._shown = False

    def _tty(self) -> bool:
        try:
            return self.stream.isatty()
        except (AttributeError, ValueError):
            return False

    def __enter__(self) -> Progress:
        if self._tty():
            self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        started = time.monotonic()
        if self._done.wait(self.delay):
            return
        frame = 0
        while not self._done.is_set():
            elapsed = time.monotonic() - started
            self._write(f"\r{FRAMES[frame % len(FRAMES)]} {self.label} {elapsed:.0f} s")
            self._shown = True
            frame += 1
            self._done.wait(TICK_S)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self._done.set()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        if self._shown:
            self._write("\r\033[K")
