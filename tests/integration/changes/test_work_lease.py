"""The work lease on real Redis: renewed while the work runs (so no live replica's work
is taken over), released when it ends, and left to expire when the worker dies."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from bot.adapters.redis_store import RedisStore
from commands.changes.lease import WorkLease


class CountedRenewals:
    """The Lease port, counting acquire calls so the test waits for renewals to happen."""

    def __init__(self, inner: RedisStore) -> None:
        self.inner = inner
        self.acquired = 0
        self.changed = threading.Condition()

    def holder(self, name: str) -> str | None:
        return self.inner.holder(name)

    def acquire(self, name: str, holder: str, ttl_s: float) -> bool:
        taken = self.inner.acquire(name, holder, ttl_s)
        with self.changed:
            self.acquired += 1
            self.changed.notify_all()
        return taken

    def release(self, name: str, holder: str) -> bool:
        return self.inner.release(name, holder)

    def wait_for(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.acquired >= count, timeout=30)


@pytest.fixture
def store(clean_redis: str, key_prefix: str) -> Iterator[RedisStore]:
    opened = RedisStore.from_url(clean_redis, prefix=key_prefix)
    yield opened
    opened.close()


def test_a_kept_lease_outlives_many_ttls_and_is_released_at_the_end(store: RedisStore) -> None:
    port = CountedRenewals(store)
    lease = WorkLease(port, "chg-aaaaaaaa", "replica-a", ttl_s=0.3)
    assert lease.take()
    with lease.kept():
        port.wait_for(1 + 6)  # the take, then six renewals: two whole TTLs and more
        assert store.holder(lease.name) == lease.token
        other = WorkLease(store, "chg-aaaaaaaa", "replica-b", ttl_s=0.3)
        assert not other.take()
    assert store.holder(lease.name) is None


def test_a_dead_workers_lease_expires_and_another_replica_takes_it(store: RedisStore) -> None:
    dead = WorkLease(store, "chg-bbbbbbbb", "replica-dead", ttl_s=0.2)
    assert dead.take()  # and never kept: the process died right after
    deadline = time.monotonic() + 10
    while store.holder(dead.name) is not None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert WorkLease(store, "chg-bbbbbbbb", "replica-live", ttl_s=0.2).take()


def test_an_ordinary_error_releases_the_lease(store: RedisStore) -> None:
    lease = WorkLease(store, "chg-cccccccc", "replica-a", ttl_s=30)
    assert lease.take()
    with pytest.raises(RuntimeError), lease.kept():
        raise RuntimeError("the API server said no")
    assert store.holder(lease.name) is None
