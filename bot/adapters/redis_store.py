"""The Store and Lease ports on Redis (or any Redis-protocol server, e.g. Valkey).

Keys live under one prefix and carry the cluster as a hash tag (`meshbot:{prod}:change:…`)
so every key of a cluster lands in one slot and the same code runs on Redis Cluster.
Values are canonical JSON (sorted keys), so equal values compare equal as strings.
Atomic updates use WATCH/MULTI on the single key; leases use small Lua scripts. Every
redis-py connection or timeout error becomes `StoreUnavailable` with a plain message.
"""

from __future__ import annotations

import json
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


@contextmanager
def _translated(action: str) -> Iterator[None]:
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise StoreUnavailable(f"Redis is unreachable ({action}): {exc}") from exc
    except RedisError as exc:
        raise StoreUnavailable(f"Redis refused {action}: {exc}") from exc


class RedisStore:
    """Store and Lease over one redis-py client."""

    def __init__(self, client: redis.Redis, *, prefix: str = "meshbot", label: str) -> None:
        self._redis = client
        self._prefix = prefix
        self._label = label
        self._renew = client.register_script(_RENEW_OR_ACQUIRE)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = "meshbot", timeout_s: float = 2.0, label: str | None = None
    ) -> RedisStore:
        client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            health_check_interval=30,
        )
        return cls(client, prefix=prefix, label=label or redact_url(url))

    def key(self, key: str, cluster: str | None = None) -> str:
        return f"{self._prefix}:{{{cluster or _GLOBAL}}}:{key}"

    def describe(self) -> str:
        return self._label

    def close(self) -> None:
        self._redis.close()

    def ping(self) -> None:
        with _translated("ping"):
            self._redis.ping()

    def get(self, key: str, *, cluster: str | None = None) -> JSON | None:
        with _translated("read"):
            raw = self._redis.get(self.key(key, cluster))
        return None if raw is None else json.loads(raw)

    def put(
        self, key: str, value: JSON, *, cluster: str | None = None, ttl_s: float | None = None
    ) -> None:
        with _translated("write"):
            self._redis.set(self.key(key, cluster), dumps(value), px=_millis(ttl_s))

    def delete(self, key: str, *, cluster: str | None = None) -> bool:
        with _translated("delete"):
            return bool(self._redis.delete(self.key(key, cluster)))

    def ttl(self, key: str, *, cluster: str | None = None) -> float | None:
        with _translated("read"):
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
            with _translated("write"):
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
        with _translated("atomic update"), self._redis.pipeline() as pipe:
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
        with _translated("audit append"):
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
        with _translated("audit read"):
            rows: Any = self._redis.xrange(self.key("audit", cluster), min=low, count=count)
        return [AuditEntry(entry_id, dict(fields)) for entry_id, fields in rows]

    def holder(self, name: str) -> str | None:
        with _translated("lease read"):
            value = self._redis.get(self.key(f"lease:{name}"))
        return None if value is None else str(value)

    def acquire(self, name: str, holder: str, ttl_s: float) -> bool:
        with _translated("lease acquire"):
            return bool(
                self._renew(
                    keys=[self.key(f"lease:{name}")], args=[holder, max(1, int(ttl_s * 1000))]
                )
            )

    def release(self, name: str, holder: str) -> bool:
        with _translated("lease release"):
            return bool(self._release(keys=[self.key(f"lease:{name}")], args=[holder]))


def _fields(entry: Mapping[str, str]) -> dict[Any, Any]:
    return {k: str(v) for k, v in entry.items()}


def _millis(seconds: float | None) -> int | None:
    return None if seconds is None else max(1, int(seconds * 1000))
