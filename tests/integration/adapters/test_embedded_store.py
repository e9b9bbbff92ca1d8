"""One embedded Valkey per data directory, across real processes.

Each holder is its own Python process attached through `EmbeddedRedis` (see
embedded_holder.py): the first starts the server, the others join it, the last one out
stops it; a crashed starter or a dead server is recovered by the next process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters import valkey_process
from bot.adapters.embedded_redis import EmbeddedRedis
from bot.adapters.redis_store import RedisStore
from commands.core.errors import StoreUnavailable
from tests.integration.adapters.embedded_holder import Holder


@pytest.fixture
def holders(tmp_path: Path) -> Iterator[list[Holder]]:
    started: list[Holder] = []
    yield started
    for holder in started:
        holder.close()
    record = EmbeddedRedis(tmp_path / "data")
    if record.pid and not valkey_process.gone(record.pid):
        os.kill(record.pid, signal.SIGKILL)


def hold(holders: list[Holder], data_dir: Path) -> Holder:
    holder = Holder(data_dir)
    holders.append(holder)
    return holder


def test_processes_share_one_server_and_the_last_one_out_stops_it(
    tmp_path: Path, holders: list[Holder]
) -> None:
    data = tmp_path / "data"
    first = hold(holders, data)
    second = hold(holders, data)
    assert (first.how, second.how) == ("started", "joined")
    assert first.server_pid == second.server_pid

    assert first.ask("put change:1 rejected") == "ok"
    assert second.ask("get change:1") == "value rejected"

    first.detach()  # the starter leaves first: the server stays for the second
    assert not valkey_process.gone(second.server_pid)
    assert second.ask("get change:1") == "value rejected"
    second.detach()
    assert valkey_process.gone(second.server_pid)
    assert not (data / "valkey" / "server.json").exists()


def test_the_server_is_private_to_its_owner(tmp_path: Path, holders: list[Holder]) -> None:
    holder = hold(holders, tmp_path / "data")
    directory = tmp_path / "data" / "valkey"
    assert (directory.stat().st_mode & 0o777) == 0o700
    for secret in ("secret", "valkey.conf", "server.json"):
        assert (directory / secret).stat().st_mode & 0o077 == 0, secret
    config = (directory / "valkey.conf").read_text()
    assert "port 0" in config.splitlines()  # no TCP listener at all
    assert "requirepass" in config
    import redis

    anonymous = redis.Redis(unix_socket_path=str(directory / "valkey.sock"))
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    anonymous.close()
    holder.detach()


def test_a_killed_starter_leaves_a_server_the_next_process_joins(
    tmp_path: Path, holders: list[Holder]
) -> None:
    data = tmp_path / "data"
    owner = hold(holders, data)
    assert owner.ask("put approval:1 U_BOB") == "ok"
    owner.kill()
    assert not valkey_process.gone(owner.server_pid)  # the server outlives its starter

    successor = hold(holders, data)
    assert (successor.how, successor.server_pid) == ("joined", owner.server_pid)
    assert successor.ask("get approval:1") == "value U_BOB"
    successor.detach()
    assert valkey_process.gone(owner.server_pid)


def test_a_stale_record_of_a_dead_server_is_replaced_and_the_data_kept(
    tmp_path: Path, holders: list[Holder]
) -> None:
    data = tmp_path / "data"
    owner = hold(holders, data)
    assert owner.ask("put approval:2 U_BOB") == "ok"  # fsynced to the AOF
    os.kill(owner.server_pid, signal.SIGKILL)
    owner.kill()
    assert valkey_process.wait_gone(owner.server_pid, 10)
    assert (data / "valkey" / "server.json").exists()  # the record of a dead server

    successor = hold(holders, data)
    assert successor.how == "started" and successor.server_pid != owner.server_pid
    assert successor.ask("get approval:2") == "value U_BOB"
    successor.detach()
    assert valkey_process.gone(successor.server_pid)


def test_a_zombie_nobody_reaps_counts_as_gone(tmp_path: Path) -> None:
    """A stopped server whose parent never reaps it (PID 1 in a container) is a zombie:
    stopping must see it as gone instead of waiting for it."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys\n"
            "child = subprocess.Popen(['sleep', '600'])\n"
            "print(child.pid, flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert not valkey_process.gone(child)
        os.kill(child, signal.SIGKILL)
        assert valkey_process.wait_gone(child, 10)
        stat = Path(f"/proc/{child}/stat").read_text()
        assert stat.rpartition(")")[2].split()[0] == "Z"  # still there, unreaped
    finally:
        parent.kill()
        parent.wait()
        for stream in (parent.stdin, parent.stdout):
            if stream:
                stream.close()


def test_a_long_data_dir_puts_the_socket_in_a_short_private_place(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    embedded = EmbeddedRedis(deep)
    assert len(str(embedded.files.socket)) < valkey_process.MAX_SOCKET_PATH
    embedded.attach()
    try:
        assert embedded.client().ping()
        assert (embedded.files.socket.parent.stat().st_mode & 0o777) == 0o700
    finally:
        embedded.detach()
    assert not embedded.files.socket.exists()


def test_a_server_killed_under_a_running_process_is_restarted_on_the_next_use(
    tmp_path: Path,
) -> None:
    """`meshbot serve` keeps running when its Valkey is killed: the failing operation
    says the store is unreachable, the next one finds a fresh server on the same data."""
    embedded = EmbeddedRedis(tmp_path / "data")
    store = RedisStore(
        lambda: embedded.client(socket_timeout=2.0, socket_connect_timeout=2.0),
        prefix="meshbot",
        label=embedded.describe,
        on_unreachable=embedded.recover,
    )
    try:
        store.put("approval:3", {"by": "U_BOB"})
        fsync = embedded.client()
        fsync.execute_command("WAITAOF", 1, 0, 5000)
        fsync.close()
        first = embedded.pid
        os.kill(first, signal.SIGKILL)
        assert valkey_process.wait_gone(first, 10)
        with pytest.raises(StoreUnavailable, match="unreachable"):
            store.get("approval:3")
        assert store.get("approval:3") == {"by": "U_BOB"}
        assert embedded.pid not in (0, first)
    finally:
        store.close()
        embedded.detach()
    assert not (tmp_path / "data" / "valkey" / "server.json").exists()
