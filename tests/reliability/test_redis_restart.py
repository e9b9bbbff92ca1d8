"""Real Redis stopped dead (SIGKILL) and restarted from its append-only file, twice in
one change's life: once between the proposal and the approval, once while the approved
change's write is in flight. A private `redis-server --appendonly yes --appendfsync
always` in a temporary folder, meshbot over HTTP on it, the Kubernetes test server.

Nothing acknowledged is lost (the proposal, the approval, the audit), nothing runs
twice (one change, one write), and the truth is told: the clicker hears that Redis is
down and what that means for the change, and once Redis is back the thread and
`meshbot change ID` say what happened."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from bot.app.config import Settings
from bot.sandbox.kube import KubeTestServer
from bot.sandbox.slack import SlackEmulator
from tests.fixtures.meshbot import RunningBot
from tests.processes import free_port
from tests.reliability.changes_support import (
    PA_PATH,
    SHOP,
    Thread,
    buttons,
    meshbot_says,
    pa,
    writes,
)
from tests.reliability.support import audit_entries


class PrivateRedis:
    """redis-server on a free port, persisting every write to its AOF before answering."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateRedis:
        options = {
            "port": str(self.port),
            "bind": "127.0.0.1",
            "dir": str(self.folder),
            "appendonly": "yes",
            "appendfsync": "always",
            "save": "",
            "logfile": str(self.folder / "redis.log"),
        }
        args = [part for name, value in options.items() for part in (f"--{name}", value)]
        self.process = subprocess.Popen(["redis-server", *args])
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.BusyLoadingError:
                pass
            except redis.ConnectionError:
                assert self.process.poll() is None, (self.folder / "redis.log").read_text()
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.05)
        client.close()
        return self

    def kill(self) -> None:
        """A crash: no shutdown, no final save; only what the AOF already holds survives."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    folder = tmp_path / "redis"
    folder.mkdir()
    server = PrivateRedis(folder).start()
    yield server
    server.stop()


def test_redis_killed_and_restarted_from_its_aof_loses_nothing_and_tells_the_truth(
    private_redis: PrivateRedis,
    tmp_path: Path,
    kube_server_with_istio: KubeTestServer,
    kubeconfig: Path,
    slack_emulator: SlackEmulator,
    meshbot_settings_factory: Callable[..., Settings],
    http_bot_factory: Callable[[Settings], RunningBot],
) -> None:
    server = kube_server_with_istio
    server.load_seed(SHOP)
    seeded = pa(server)
    settings = meshbot_settings_factory(
        private_redis.url,
        f"clusters:\n  prod:\n    kubeconfig: {kubeconfig}\n    context: sandbox\n"
        "changes: {sweep_interval_s: 0.2, apply_lease_s: 3}\n",
    )
    config = tmp_path / "meshbot.yaml"
    bot = http_bot_factory(settings)
    assert bot.client is not None
    change = Thread(slack_emulator, bot.client)

    # 1. Redis dies between the proposal and the approval
    private_redis.kill()
    refused = bot.answer(change.click(bot.client, "change_approve", "U_BOB"), timeout=15)
    assert "Redis is unreachable" in str(refused["text"])
    assert pa(server)["spec"] == seeded["spec"]  # nothing applied
    private_redis.start()
    env = {"REDIS_URL": private_redis.url}
    after_restart = meshbot_says(change.id, config, env)
    assert "state proposed" in after_restart and "approved by" not in after_restart

    # 2. Redis dies while the approved change's write is in flight
    held = server.faults.add("PUT", f"{PA_PATH}$", hang=2.0, count=1)
    url = change.click(bot.client, "change_approve", "U_BOB")
    slack_emulator.wait_for(lambda: held.hits >= 1, 30)
    private_redis.kill()
    told = str(bot.answer(url, timeout=30)["text"])
    assert "Redis is unreachable" in told
    assert "was written to the cluster but could not be recorded" in told
    assert pa(server)["spec"]["mtls"]["mode"] == "PERMISSIVE" and writes(server) == 1
    private_redis.start()

    # back: the approval and the stored plan survived; the sweep records what was written
    change.wait_state("verifying")
    thread = change.wait_thread("Applied: 1 object(s) in place: 1 written before")
    assert "Taken over: " in thread and "written: PeerAuthentication shop/default" in thread
    assert writes(server) == 1  # written once
    events = [e["event"] for e in audit_entries(bot.runtime, "prod") if e["result"] == "ok"]
    assert events == ["proposed", "approved", "applying", "taken over", "applied", "verifying"]
    assert bot.runtime.store.get("changes:index", cluster="prod") == [change.id]
    shown = meshbot_says(change.id, config, env)
    assert "state verifying" in shown and "approved by U_BOB — 1 of 1" in shown

    assert buttons(change.parent()) == {"change_rollback": change.id}
    change.click(bot.client, "change_rollback", "U_ALICE")
    change.wait_state("rolled back")
    restored = pa(server)
    assert restored["spec"] == seeded["spec"]
    assert restored["metadata"]["labels"] == seeded["metadata"]["labels"]
