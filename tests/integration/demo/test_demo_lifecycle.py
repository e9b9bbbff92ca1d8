"""`meshbot demo` stops everything it started: Ctrl-C in a terminal (SIGINT to the whole
process group) or SIGTERM to the demo alone ends meshbot, Prometheus, the embedded
Valkey (a daemon, so not a child) and the servers, and removes its temporary folder.
Without Prometheus it still runs, and says in the channels what is missing and how to
install it."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.integration.demo.conftest import require_parts, start_demo


def started_processes(pid: int) -> tuple[list[psutil.Process], Path]:
    """The demo's descendants and its Valkey daemon, and the demo's temporary folder."""
    children = psutil.Process(pid).children(recursive=True)
    meshbot = next(p for p in children if "serve" in p.cmdline())
    config = Path(meshbot.cmdline()[meshbot.cmdline().index("--config") + 1])
    workdir = config.parent
    valkey_pid = int((workdir / "valkey" / "valkey.pid").read_text().strip())
    return [*children, psutil.Process(valkey_pid)], workdir


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize(
    ("sig", "group"),
    [(signal.SIGINT, True), (signal.SIGTERM, False)],
    ids=["ctrl-c in a terminal", "sigterm to the demo"],
)
def test_stopping_the_demo_leaves_no_process_and_no_folder_behind(
    sig: signal.Signals, group: bool
) -> None:
    require_parts()
    demo = start_demo()
    try:
        processes, workdir = started_processes(demo.process.pid)
        names = {p.name() for p in processes}
        assert {"prometheus", "valkey-server"} <= names and workdir.is_dir(), names
    except BaseException:
        demo.stop()
        raise
    assert demo.stop(sig, group=group) == 0, "".join(demo.output)
    psutil.wait_procs(processes, timeout=20)
    left = [f"{p.pid} {p.name()}" for p in processes if alive(p)]
    assert left == [], left
    assert not workdir.exists()


def test_without_prometheus_the_demo_runs_and_says_what_is_missing_in_the_channels() -> None:
    require_parts()
    demo = start_demo("--no-prometheus")
    try:
        assert "apt-get install prometheus" in demo.wait_output("No Prometheus")
        for channel in ("C0MESHOPS", "C0ONCALL"):
            page = httpx.get(demo.url, params={"as": "U0CAROL", "channel": channel}).text
            assert "No Prometheus" in page and "apt-get install prometheus" in page
        command = {"as": "U0CAROL", "channel": "C0MESHOPS", "text": "/mesh status"}
        assert httpx.post(f"{demo.url}ui/command", json=command).json() == {"ok": True}
        url = f"{demo.url}?as=U0CAROL&channel=C0MESHOPS"
        status, deadline = "", time.monotonic() + 20
        while "meshbot status" not in status and time.monotonic() < deadline:
            time.sleep(0.1)  # the answer comes through the response_url after the ack
            status = httpx.get(url).text
        assert "prometheus</b> demo: not configured" in status
    finally:
        assert demo.stop() == 0
