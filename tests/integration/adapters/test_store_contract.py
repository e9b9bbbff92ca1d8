"""The Store and Lease contract, against real Redis, the embedded Valkey and the in-memory
fake alike: the fake the unit tests trust must behave as the real thing does."""

from __future__ import annotations

import threading
import time

import pytest

from bot.adapters.redis_store import RedisStore, client_factory
from commands.core.errors import StoreUnavailable
from tests.unit.fakes import MemoryStore

AnyStore = RedisStore | MemoryStore


def let_pass(store: AnyStore, seconds: float) -> None:
    """Let `seconds` go by for the store: Redis expires keys on its own clock, the fake on
    the clock the test moves."""
    if isinstance(store, MemoryStore):
        store.clock.advance(seconds)  # type: ignore[attr-defined]
    else:
        time.sleep(seconds)


def test_values_round_trip_as_json(store: AnyStore) -> None:
    value = {"state": "proposed", "approvals": ["U1"], "n": 3, "nested": {"ok": True}}
    store.put("change:1", value, cluster="prod")
    assert store.get("change:1", cluster="prod") == value
    assert store.get("change:1", cluster="staging") is None
    assert store.delete("change:1", cluster="prod") is True
    assert store.get("change:1", cluster="prod") is None


def test_many_values_are_read_at_once_in_order(store: AnyStore) -> None:
    store.put("alert:a", {"n": 1}, cluster="prod")
    store.put("alert:c", {"n": 3}, cluster="prod")
    store.put("alert:b", {"n": 2}, cluster="staging")
    keys = ["alert:c", "alert:b", "alert:a"]
    assert store.get_many(keys, cluster="prod") == [{"n": 3}, None, {"n": 1}]
    assert store.get_many([], cluster="prod") == []


def test_keys_carry_the_prefix_and_a_cluster_hash_tag(key_prefix: str) -> None:
    store = RedisStore.from_url("redis://127.0.0.1:1/0", prefix=key_prefix)  # no I/O here
    assert store.key("change:1", "prod") == f"{key_prefix}:{{prod}}:change:1"
    assert store.key("lease:watchers") == f"{key_prefix}:{{global}}:lease:watchers"
    store.close()


def test_ttl_expires_values(store: AnyStore) -> None:
    store.put("silence:a", {"by": "U1"}, ttl_s=0.3)
    remaining = store.ttl("silence:a")
    assert remaining is not None and 0 < remaining <= 0.3
    store.put("forever", 1)
    assert store.ttl("forever") is None
    let_pass(store, 0.5)
    assert store.get("silence:a") is None
    assert store.get("forever") == 1


def test_a_write_without_ttl_clears_the_ttl_and_an_update_with_one_sets_it(
    store: AnyStore,
) -> None:
    store.put("k", {"n": 1}, ttl_s=0.3)
    store.update("k", lambda v: {"n": v["n"] + 1})  # like SET without PX: no expiry any more
    assert store.ttl("k") is None
    written, value = store.update("k", lambda v: {"n": v["n"] + 1}, ttl_s=0.3)
    assert (written, value) == (True, {"n": 3})
    assert store.compare_and_set("k", {"n": 3}, {"n": 4}, ttl_s=0.3)
    remaining = store.ttl("k")
    assert remaining is not None and 0 < remaining <= 0.3
    let_pass(store, 0.5)
    assert store.get("k") is None and store.ttl("k") is None
    assert store.delete("k") is False


def test_values_handed_out_are_copies(store: AnyStore) -> None:
    store.put("k", {"list": [1, 2]})
    store.get("k")["list"].append(3)
    _, seen = store.update("k", lambda v: None)
    assert seen == {"list": [1, 2]} and store.get("k") == {"list": [1, 2]}


def test_compare_and_set_under_20_threads_has_exactly_one_winner(store: AnyStore) -> None:
    store.put("change:9", {"state": "proposed"})
    barrier = threading.Barrier(20)
    wins: list[int] = []

    def approve(n: int) -> None:
        barrier.wait()
        if store.compare_and_set("change:9", {"state": "proposed"}, {"state": "approved", "by": n}):
            wins.append(n)

    threads = [threading.Thread(target=approve, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert store.get("change:9") == {"state": "approved", "by": wins[0]}


def test_compare_and_set_from_absent(store: AnyStore) -> None:
    assert store.compare_and_set("new", None, {"v": 1}, ttl_s=30) is True
    assert store.compare_and_set("new", None, {"v": 2}) is False
    assert store.get("new") == {"v": 1}
    left = store.ttl("new")
    assert left is not None and 0 < left <= 30


def test_update_loses_no_increment_under_contention(store: AnyStore) -> None:
    store.put("counter", {"n": 0})

    def bump() -> None:
        for _ in range(10):
            store.update("counter", lambda v: {"n": v["n"] + 1})

    threads = [threading.Thread(target=bump) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("counter") == {"n": 200}


def test_update_returning_none_writes_nothing(store: AnyStore) -> None:
    store.put("k", {"state": "applied"})
    written, value = store.update("k", lambda v: None)
    assert (written, value) == (False, {"state": "applied"})


def test_audit_stream_keeps_order_and_reads_after_an_id(store: AnyStore) -> None:
    ids = [store.append_audit("prod", {"seq": i, "who": "U1"}) for i in range(30)]  # type: ignore[dict-item]
    entries = store.read_audit("prod", count=100)
    assert [e.fields["seq"] for e in entries] == [str(i) for i in range(30)]  # kept as text
    assert [e.id for e in entries] == ids
    later = store.read_audit("prod", after=ids[9], count=5)
    assert [e.fields["seq"] for e in later] == ["10", "11", "12", "13", "14"]
    assert store.read_audit("staging") == []


def test_an_update_appends_its_audit_entries_with_the_write_and_only_then(
    store: AnyStore,
) -> None:
    def entries(new: dict[str, int]) -> list[dict[str, str]]:
        return [{"event": "moved", "n": str(new["n"])}]

    store.put("change:1", {"n": 1}, cluster="prod")
    store.update("change:1", lambda v: {"n": v["n"] + 1}, cluster="prod", audit=entries)
    store.update("change:1", lambda v: None, cluster="prod", audit=entries)  # no move
    assert [dict(e.fields) for e in store.read_audit("prod")] == [{"event": "moved", "n": "2"}]


def test_lease_has_one_holder_until_it_expires(store: AnyStore) -> None:
    assert store.acquire("watchers", "replica-a", ttl_s=0.4)
    assert not store.acquire("watchers", "replica-b", ttl_s=0.4)
    assert store.acquire("watchers", "replica-a", ttl_s=0.4)  # renewal
    assert store.holder("watchers") == "replica-a"
    assert not store.release("watchers", "replica-b")
    let_pass(store, 0.6)
    assert store.holder("watchers") is None
    assert store.acquire("watchers", "replica-b", ttl_s=5)
    assert store.release("watchers", "replica-b")
    assert store.holder("watchers") is None


def test_a_renewed_lease_outlives_its_first_ttl(store: AnyStore) -> None:
    assert store.acquire("watchers", "replica-a", ttl_s=1.0)
    let_pass(store, 0.6)
    assert store.acquire("watchers", "replica-a", ttl_s=1.0)  # renewed before it ran out
    let_pass(store, 0.6)  # past the first TTL, within the renewed one
    assert store.holder("watchers") == "replica-a"
    assert not store.acquire("watchers", "replica-b", ttl_s=1.0)
    let_pass(store, 0.6)
    assert store.holder("watchers") is None


def test_unreachable_redis_raises_store_unavailable_quickly() -> None:
    store = RedisStore.from_url("redis://127.0.0.1:1/0", timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="unreachable"):
        store.get("x")
    with pytest.raises(StoreUnavailable):
        store.compare_and_set("x", None, 1)
    store.close()
    assert time.monotonic() - started < 5


def test_describe_hides_the_password() -> None:
    store = RedisStore.from_url("redis://:s3cret-pass@127.0.0.1:1/0")
    assert "s3cret" not in store.describe()
    assert "***" in store.describe()
    store.close()


def test_on_a_cluster_each_clusters_keys_share_a_slot_and_clusters_spread_over_masters(
    clean_redis_cluster: str, key_prefix: str
) -> None:
    store = RedisStore.from_url(clean_redis_cluster, prefix=key_prefix)
    client = client_factory(clean_redis_cluster)()
    try:
        names = [f"cluster-{i}" for i in range(12)]
        for name in names:
            store.put("change:1", {"state": "proposed"}, cluster=name)
            store.update("change:1", lambda v: {**v, "state": "approved"}, cluster=name)
            store.append_audit(name, {"event": "approved"})
        slots = {
            name: {
                client.keyslot(store.key(key, name))
                for key in ("change:1", "change:2", "audit", "alert:payments")
            }
            for name in names
        }
        assert all(len(found) == 1 for found in slots.values()), slots
        masters = {client.get_node_from_key(store.key("change:1", name)).port for name in names}
        assert len(masters) > 1, "every cluster landed on one master: nothing was proven"
        assert all(store.get("change:1", cluster=n) == {"state": "approved"} for n in names)
    finally:
        client.close()
        store.close()
