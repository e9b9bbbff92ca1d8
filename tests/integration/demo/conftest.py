"""Fixtures for the browser tests: the whole `meshbot demo` as a subprocess, and Debian's
chromium driven by playwright (never a downloaded browser).

The demo runs exactly as a user starts it (`python -m bot.app.cli demo`); its one
printed URL is the page the tests open. Chromium is `/usr/bin/chromium` (`.ci/run`
installs it with apt); without it, or without Prometheus, the tests skip locally and
fail under CI.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fixtures.shared import REPO_ROOT, missing

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
IMAGES = REPO_ROOT / "docs" / "img"
URL_LINE = re.compile(r"meshbot demo is ready: (http://127\.0\.0\.1:\d+/)")


@dataclass
class RunningDemo:
    process: subprocess.Popen[str]
    url: str
    reader: threading.Thread
    output: list[str] = field(default_factory=list)

    def wait_output(self, text: str, timeout: float = 30.0) -> str:
        """The first line of the demo's output containing `text` (waits for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((line for line in list(self.output) if text in line), None)
            if found is not None:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} in the demo's output:\n{''.join(self.output)}")

    def stop(self, sig: int = signal.SIGINT, group: bool = True) -> int:
        """Ctrl-C as a terminal sends it (to the process group), or a signal to the pid."""
        if self.process.poll() is None:
            if group:
                os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)
        code = self.process.wait(timeout=60)
        self.reader.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return code


def start_demo(*args: str) -> RunningDemo:
    """`meshbot demo --port 0` in its own process group; returns once it printed its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.app.cli", "demo", "--port", "0", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    found: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            match = URL_LINE.search(line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True, name="demo-output")
    reader.start()
    ready.wait(90)
    if not found:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        reader.join(timeout=10)
        process.stdout.close()
        raise AssertionError("meshbot demo printed no URL:\n" + "".join(lines))
    return RunningDemo(process, found[0], reader, lines)


def require_parts() -> None:
    if not Path(CHROMIUM).exists():
        missing(f"{CHROMIUM} not installed (apt-get install -y chromium)")
    if not Path("/usr/bin/prometheus").exists():
        missing("prometheus not installed (apt-get install prometheus)")


@pytest.fixture(scope="module")
def demo() -> Iterator[RunningDemo]:
    """One demo for a test module, stopped with Ctrl-C at the end."""
    require_parts()
    running = start_demo()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    require_parts()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: object, demo: RunningDemo) -> Iterator[object]:
    """A 1280 x 800 page; JavaScript errors in it fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert errors == [], errors


def screenshot(page: object, name: str) -> Path:
    """Write docs/img/<name>.png (the README shows these, so they stay true)."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    path = IMAGES / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled")  # type: ignore[attr-defined]
    return path
