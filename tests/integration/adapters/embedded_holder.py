"""A process that uses a data directory's embedded Valkey, driven line by line on stdin.

The embedded-store tests need several real processes attached to one server at once,
each leaving (or being killed) when the test says. Commands: `put KEY VALUE` (answered
once the write is fsynced to the AOF), `get KEY`, `detach` (then exit). Every answer
is one line on stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bot.adapters.embedded_redis import EmbeddedRedis


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
