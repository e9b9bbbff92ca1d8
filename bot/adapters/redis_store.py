"""The Store and Lease ports on Redis (or any Redis-protocol server, e.g. Valkey).

Keys live under one prefix and carry the cluster as a hash tag (`meshbot:{prod}:change:…`)
so every key of a cluster lands in one slot and the same code runs on Redis Cluster.
Values are canonical JSON (sorted keys), so equal values compare equal as strings.
Atomic updates use WATCH/MULTI on the single key; leases use small Lua scripts on one
key: both stay inside one slot, so a Redis Cluster client (`redis+cluster://` URLs)
runs them unchanged. Every redis-py connection or timeout error becomes
`StoreUnavailable` with a plain message.

The client is made on first use, not at construction: a command that never touches
state (help, preflight, an audit) never connects — nor starts the embedded server.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError

from commands.core.errors import StoreUnavailable
from commands.core.ports import JSON, AuditEntry

AUDIT_MAX_LEN = 100_000
_GLOBAL = "global"

_RENEW_OR_ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def dumps(value: JSON) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
Client = Any  # redis.Redis or redis.RedisCluster: the commands we use are the same


def client_factory(url: str, timeout_s: float = 2.0) -> Callable[[], Client]:
    """How to make the client for `url`: `redis+cluster://` (or `rediss+cluster://`)
    selects redis-py's RedisCluster, any other scheme a plain client."""
    scheme, sep, rest = url.partition("://")
    options: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
    }
    if scheme in CLUSTER_SCHEMES:
        plain = f"{CLUSTER_SCHEMES[scheme]}{sep}{rest}"
        return lambda: redis.RedisCluster.from_url(plain, **options)
    return lambda: redis.Redis.from_url(url, health_check_interval=30, **options)


class RedisStore:
    """Store and Lease over one redis-py client (plain or cluster), made on first use."""

    def __init__(
        self,
        client: Client | Callable[[], Client],
        *,
        prefix: str = "meshbot",
        label: str | Callable[[], str],
        on_unreachable: Callable[[], None] | None = None,
    ) -> None:
        self._connect = None if hasattr(client, "ping") else client
        self._client: Client | None = None if self._connect else client
        self._prefix = prefix
        self._label = label
        self._on_unreachable = on_unreachable
        self._made = threading.Lock()
        self._scripts: tuple[Any, Any] | None = None

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = "meshbot", timeout_s: float = 2.0, label: str | None = None
    ) -> RedisStore:
        return cls(client_factory(url, timeout_s), prefix=prefix, label=label or redact_url(url))

    @property
    def _redis(self) -> Client:
        if self._client is None:
            with self._made:
                if self._client is None:
                    assert self._connect is not None
                    with self._translated("connect"):
                        self._client = self._connect()
        return self._client

    def _script(self, which: int) -> Any:
        if self._scripts is None:
            client = self._redis
            self._scripts = (
                client.register_script(_RENEW_OR_ACQUIRE),
                client.register_script(_RELEASE),
            )
        return self._scripts[which]

    @contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        try:
            yield
        except (RedisConnectionError, RedisTimeoutError) as exc:
            if self._on_unreachable is not None:
                self._on_unreachable()
            raise StoreUnavailable(f"Redis is unreachable ({action}): {exc}") from exc
        except RedisError as exc:
            raise StoreUnavailable(f"Redis refused {action}: {exc}") from exc
        except OSError as exc:  # e.g. the embedded server could not be started
            raise StoreUnavailable(f"the state store is not available ({action}): {exc}") from exc

    def key(self, key: str, cluster: str | None = None) -> str:
        return f"{self._prefix}:{{{cluster or _GLOBAL}}}:{key}"

    def describe(self) -> str:
        return self._label() if callable(self._label) else self._label

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def ping(self) -> None:
        with self._translated("ping"):
            self._redis.ping()

    def get(self, key: str, *, cluster: str | None = None) -> JSON | None:
        with self._translated("read"):
            raw = self._redis.get(self.key(key, cluster))
        return None if raw is None else json.loads(raw)

    def get_many(self, keys: Sequence[str], *, cluster: str | None = None) -> list[JSON | None]:
        if not keys:
            return []
        # one MGET: a cluster's keys share its hash tag, so one slot on Redis Cluster too
        with self._translated("read"):
            raws = self._redis.mget([self.key(key, cluster) for key in keys])
        return [None if raw is None else json.loads(raw) for raw in raws]

    def put(
        self, key: str, value: JSON, *, cluster: str | None = None, ttl_s: float | None = None
    ) -> None:
        with self._translated("write"):
            self._redis.set(self.key(key, cluster), dumps(value), px=_millis(ttl_s))

    def delete(self, key: str, *, cluster: str | None = None) -> bool:
        with self._translated("delete"):
            return bool(self._redis.delete(self.key(key, cluster)))

    def ttl(self, key: str, *, cluster: str | None = None) -> float | None:
        with self._translated("read"):
            millis = self._redis.pttl(self.key(key, cluster))
        return None if millis < 0 else millis / 1000

    def compare_and_set(
        self,
        key: str,
        expected: JSON | None,
        new: JSON,
        *,
        cluster: str | None = None,
        ttl_s: float | None = None,
    ) -> bool:
        if expected is None:  # one round trip: SET NX (Slack's replay memory runs on this)
            with self._translated("write"):
                full = self.key(key, cluster)
                return bool(self._redis.set(full, dumps(new), px=_millis(ttl_s), nx=True))
        want = dumps(expected)
        written, _ = self._atomically(
            key, cluster, ttl_s, lambda raw, _value: dumps(new) if raw == want else None
        )
        return written

    def update(
        self,
        key: str,
        change: Callable[[JSON | None], JSON | None],
        *,
        cluster: str | None = None,
        ttl_s: float | None = None,
        audit: Callable[[JSON], Sequence[Mapping[str, str]]] | None = None,
    ) -> tuple[bool, JSON | None]:
        def step(_raw: str | None, value: JSON | None) -> str | None:
            new = change(value)
            return None if new is None else dumps(new)

        return self._atomically(key, cluster, ttl_s, step, audit)

    def _atomically(
        self,
        key: str,
        cluster: str | None,
        ttl_s: float | None,
        step: Callable[[str | None, JSON | None], str | None],
        audit: Callable[[JSON], Sequence[Mapping[str, str]]] | None = None,
    ) -> tuple[bool, JSON | None]:
        """WATCH the key, compute, then SET it (and XADD the audit entries: the stream
        shares the key's cluster hash tag, so one slot) in one MULTI."""
        full = self.key(key, cluster)
        stream = self.key("audit", cluster)
        with self._translated("atomic update"), self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(full)
                    raw: Any = pipe.get(full)
                    current = None if raw is None else json.loads(raw)
                    new_raw = step(raw, current)
                    if new_raw is None:
                        pipe.unwatch()
                        return False, current
                    entries = audit(json.loads(new_raw)) if audit is not None else ()
                    pipe.multi()
                    pipe.set(full, new_raw, px=_millis(ttl_s))
                    for entry in entries:
                        pipe.xadd(stream, _fields(entry), maxlen=AUDIT_MAX_LEN, approximate=True)
                    pipe.execute()
                    return True, json.loads(new_raw)
                except WatchError:
                    continue

    def append_audit(self, cluster: str, entry: Mapping[str, str]) -> str:
        with self._translated("audit append"):
            return str(
                self._redis.xadd(
                    self.key("audit", cluster),
                    _fields(entry),
                    maxlen=AUDIT_MAX_LEN,
                    approximate=True,
                )
            )

    def read_audit(
        self, cluster: str, *, count: int = 100, after: str | None = None
    ) -> Sequence[AuditEntry]:
        low = f"({after}" if after else "-"
        with self._translated("audit read"):
            rows: Any = self._redis.xrange(self.key("audit", cluster), min=low, count=count)
        return [AuditEntry(entry_id, dict(fields)) for entry_id, fields in rows]

    def holder(self, name: str) -> str | None:
        with self._translated("lease read"):
            value = self._redis.get(self.key(f"lease:{name}"))
        return None if value is None else str(value)

    def acquire(self, name: str, holder: str, ttl_s: float) -> bool:
        with self._translated("lease acquire"):
            return bool(
                self._script(0)(
                    keys=[self.key(f"lease:{name}")], args=[holder, max(1, int(ttl_s * 1000))]
                )
            )

    def release(self, name: str, holder: str) -> bool:
        with self._translated("lease release"):
            return bool(self._script(1)(keys=[self.key(f"lease:{name}")], args=[holder]))


def _fields(entry: Mapping[str, str]) -> dict[Any, Any]:
    return {k: str(v) for k, v in entry.items()}


def _millis(seconds: float | None) -> int | None:
    return None if seconds is None else max(1, int(seconds * 1000))
