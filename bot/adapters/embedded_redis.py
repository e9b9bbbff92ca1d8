"""One embedded Valkey per data directory, shared by every meshbot process that uses it.

Without `REDIS_URL`, `meshbot serve` and each CLI run beside it must see the same state
(a change rejected on the command line is rejected in Slack). So the first process to
need the store starts the server and records where it is; later ones join it; the last
one out stops it. Each decision (start, join, stop) is taken holding an `flock` on
`<data_dir>/valkey/lock`, which the kernel releases if its holder dies.

Who is still using the server is counted by the server itself: every process keeps a
connection named `meshbot-presence:<pid>:<token>` open while it is attached, and a
crashed process's connections close with it. Leaving, a process looks at CLIENT LIST
under the lock: nobody else named there → SHUTDOWN (AOF fsynced) and wait until the
pid is gone (a zombie counts as gone: see bot.adapters.valkey_process). A record whose
pid is dead, is not our valkey-server, or never answers is stale: the server is killed
if it still runs and a fresh one starts on the same data.

Nothing here runs at import or construction: `attach` is called on the store's first
use, so `help`, `version` or a preflight never start or wait for a server.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bot.adapters import valkey_process as proc
from bot.adapters.valkey_process import ServerFiles, ValkeyStartError
from bot.core.settings import ConfigError

log = logging.getLogger(__name__)
PRESENCE = "meshbot-presence"
START_TIMEOUT_S = 15.0
LOCK_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0

__all__ = ["EmbeddedRedis", "ValkeyStartError"]


class EmbeddedRedis:
    """The shared server of one data directory, seen from this process."""

    def __init__(self, data_dir: Path, *, start_timeout_s: float = START_TIMEOUT_S) -> None:
        self.data_dir = data_dir.expanduser().resolve() / "valkey"
        self.files = ServerFiles(self.data_dir, proc.socket_path(self.data_dir))
        self.start_timeout_s = start_timeout_s
        self.name = f"{PRESENCE}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.started_here = False
        self._presence: redis.Redis | None = None
        self._pid = 0
        self._guard = threading.RLock()

    # ---- what the runtime uses ------------------------------------------------------------

    @property
    def attached(self) -> bool:
        return self._presence is not None

    def attach(self) -> str:
        """Join the data directory's server, starting it if none runs; returns its URL."""
        with self._guard:
            if self._presence is None:
                self.started_here = False
                try:
                    proc.private_dir(self.data_dir)
                except ValkeyStartError:
                    raise
                except OSError as exc:  # e.g. a container user whose home is not writable
                    raise ConfigError(
                        f"redis.data_dir: cannot create {self.data_dir} for the embedded store "
                        f"({exc.strerror}); set redis.data_dir to a writable directory, or "
                        "REDIS_URL"
                    ) from None
                with self._locked():
                    self._join_or_start()
                    self._presence = self._present()
                atexit.register(self.detach)
                how = "started" if self.started_here else "joined"
                log.info("%s the %s (pid %s)", how, self.describe(), self._pid)
            return self.url

    def client(self, **options: Any) -> redis.Redis:
        """A client of the shared server (attaching first); its connections carry our
        presence name too, so after a server restart they count us in again."""
        self.attach()
        return self._connect(**options)

    def detach(self) -> None:
        """Leave; the last process out shuts the server down and waits until it is gone."""
        with self._guard:
            presence, self._presence = self._presence, None
            if presence is None:
                return
            with contextlib.suppress(Exception):
                atexit.unregister(self.detach)
            try:
                with self._locked():
                    if self._others(presence) == 0:
                        self._shutdown(presence)
            except (redis.RedisError, OSError, ValkeyStartError) as exc:
                log.warning("leaving the embedded Valkey in %s: %s", self.data_dir, exc)
            finally:
                presence.close()

    def recover(self) -> None:
        """After a connection failure: if the server died, start a fresh one (same socket
        and password, so open clients reconnect by themselves)."""
        with self._guard:
            if self._presence is None:
                return
            try:
                with self._locked():
                    if not self._answers():
                        self._join_or_start()
                    try:
                        self._presence.ping()
                    except redis.RedisError:  # the server we were counted on is gone
                        self._presence.close()
                        self._presence = self._present()
            except (redis.RedisError, OSError, ValkeyStartError) as exc:
                log.warning("restarting the embedded Valkey in %s failed: %s", self.data_dir, exc)

    # Kept for callers (and tests) that use it as a plain server: start = attach.
    start = attach
    stop = detach

    @property
    def url(self) -> str:
        password = quote(self._password(), safe="")
        return f"unix://:{password}@{self.files.socket}?db=0"

    @property
    def version(self) -> str:
        return proc.valkey_binary()[1]

    def describe(self) -> str:
        return (
            f"embedded Valkey {self.version} on unix socket {self.files.socket}, "
            f"data in {self.data_dir}"
        )

    @property
    def pid(self) -> int:
        """The server's pid as recorded (0: none recorded)."""
        record = self._record()
        return int(record.get("pid") or 0) if record else 0

    # ---- start or join --------------------------------------------------------------------

    def _join_or_start(self) -> None:
        if self._answers():
            self._pid = self._server_pid()
            if self.pid != self._pid:
                self._write_record({"pid": self._pid, "socket": str(self.files.socket)})
            return
        for pid in self._recorded_pids():
            if proc.gone(pid) or not proc.is_our_server(pid, self.files):
                log.info("embedded Valkey in %s: pid %s is gone; starting anew", self.data_dir, pid)
                continue
            if self._wait_ready(pid):  # still loading its AOF, say
                self._pid = pid
                return
            log.warning("embedded Valkey pid %s does not answer: replacing it", pid)
            proc.kill(pid)
        self._clear_runtime_files()
        child = proc.spawn(self.files, self._password())
        if not self._wait_ready(child):
            proc.kill(child)
            raise ValkeyStartError(
                f"the embedded Valkey did not start within {self.start_timeout_s:g} s; "
                f"its log ({self.files.log}): {proc.log_tail(self.files)}"
            )
        self._pid = child
        self.started_here = True
        self._write_record(
            {"pid": child, "socket": str(self.files.socket), "started_by": os.getpid()}
        )

    def _recorded_pids(self) -> list[int]:
        """The pids our record and the server's own pidfile name (a starter that died
        between spawning and writing the record leaves only the pidfile)."""
        pids = [self.pid]
        with contextlib.suppress(OSError, ValueError):
            pids.append(int(self.files.pidfile.read_text().strip() or 0))
        return sorted({p for p in pids if p > 0})

    def _wait_ready(self, pid: int) -> bool:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._answers():
                return True
            if proc.gone(pid):
                raise ValkeyStartError(
                    f"the embedded Valkey exited while starting; its log ({self.files.log}): "
                    f"{proc.log_tail(self.files)}"
                )
            time.sleep(0.01)
        return False

    def _present(self) -> redis.Redis:
        """Our presence: one named connection held open while we are attached."""
        presence = self._connect(single_connection_client=True, retry=Retry(NoBackoff(), 0))
        presence.ping()
        return presence

    def _probe(self) -> redis.Redis:
        """A one-shot client that fails at once (no retries) when nothing answers."""
        return self._connect(
            socket_timeout=1.0, socket_connect_timeout=1.0, retry=Retry(NoBackoff(), 0)
        )

    def _server_pid(self) -> int:
        probe = self._probe()
        try:
            return int(probe.info("server").get("process_id") or 0)
        finally:
            probe.close()

    def _answers(self) -> bool:
        probe = self._probe()
        try:
            return bool(probe.ping())
        except redis.BusyLoadingError:
            return False
        except redis.AuthenticationError as exc:
            raise ValkeyStartError(
                f"the Valkey on {self.files.socket} refused meshbot's password: {exc}"
            ) from exc
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False
        finally:
            probe.close()

    # ---- leave ----------------------------------------------------------------------------

    def _others(self, presence: redis.Redis) -> int:
        clients = presence.client_list(_type="normal")
        names = {c.get("name", "") for c in clients}
        return sum(1 for n in names if n.startswith(PRESENCE + ":") and n != self.name)

    def _shutdown(self, presence: redis.Redis) -> None:
        pid = self._pid or self.pid
        presence.shutdown()
        if pid and not proc.wait_gone(pid, STOP_TIMEOUT_S):
            log.warning("embedded Valkey pid %s did not exit after SHUTDOWN: killing it", pid)
            proc.kill(pid)
        self._clear_runtime_files()

    # ---- files ----------------------------------------------------------------------------

    def _connect(self, **options: Any) -> redis.Redis:
        settings: dict[str, Any] = {
            "unix_socket_path": str(self.files.socket),
            "password": self._password(),
            "client_name": self.name,
            "decode_responses": True,
            **options,
        }
        return redis.Redis(**settings)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.data_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT_S
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise ValkeyStartError(
                            f"another meshbot process has held {self.data_dir / 'lock'} for "
                            f"{LOCK_TIMEOUT_S:g} s"
                        ) from None
                    time.sleep(0.01)
            yield
        finally:
            os.close(fd)

    def _password(self) -> str:
        path = self.data_dir / "secret"
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            pass
        proc.private_dir(self.data_dir)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32))
        return path.read_text().strip()

    @property
    def _record_path(self) -> Path:
        return self.data_dir / "server.json"

    def _record(self) -> dict[str, Any] | None:
        try:
            value = json.loads(self._record_path.read_text())
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def _write_record(self, record: dict[str, Any]) -> None:
        temporary = self._record_path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(record, out)
        temporary.replace(self._record_path)

    def _clear_runtime_files(self) -> None:
        for path in (self._record_path, self.files.pidfile, self.files.socket):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self._pid = 0
