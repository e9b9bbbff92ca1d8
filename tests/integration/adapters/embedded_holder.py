"""A process that uses a data directory's embedded Valkey, driven line by line on stdin.

The embedded-store tests need several real processes attached to one server at once,
each leaving (or being killed) when the test says. Commands: `put KEY VALUE` (answered
once the write is fsynced to the AOF), `get KEY`, `detach` (then exit). Every answer
is one line on stdout.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from bot.adapters.embedded_redis import EmbeddedRedis

MODULE = "tests.integration.adapters.embedded_holder"


class Holder:
    """The test's handle on one holder process (this module run with `-m`)."""

    def __init__(self, data_dir: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", MODULE, str(data_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        words = self._line().split()
        assert words[:1] == ["attached"], words
        self.server_pid, self.how = int(words[1]), words[2]

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            err = self.process.stderr.read() if self.process.stderr else ""
            raise AssertionError(f"holder exited: {err}")
        return line.strip()

    def ask(self, command: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._line()

    def detach(self) -> None:
        assert self.ask("detach") == "detached"
        assert self.process.wait(timeout=30) == 0

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def close(self) -> None:
        if self.process.poll() is None:
            self.kill()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream:
                stream.close()


def main(data_dir: str) -> int:
    embedded = EmbeddedRedis(Path(data_dir))
    embedded.attach()
    client = embedded.client()
    how = "started" if embedded.started_here else "joined"
    print(f"attached {embedded.pid} {how}", flush=True)
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["put"]:
            client.set(words[1], words[2])
            client.execute_command("WAITAOF", 1, 0, 5000)
            print("ok", flush=True)
        elif words[:1] == ["get"]:
            print(f"value {client.get(words[1])}", flush=True)
        elif words[:1] == ["detach"]:
            client.close()
            embedded.detach()
            print("detached", flush=True)
            return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
