"""The watcher lease on a clock the test moves: one holder, a handover within one TTL,
a holder that cannot renew stops acting before anyone else may start, and nobody leads
while the store is down. (tests/integration/watch/test_replicas.py does the same on
real Redis, where time cannot be moved.)"""

from __future__ import annotations

from bot.watch.scheduler import SAFETY, LeaseKeeper, WatcherScheduler
from tests.unit.fakes import FixedClock, MemoryStore

TTL = 15.0


def keepers(*names: str) -> tuple[FixedClock, MemoryStore, list[LeaseKeeper]]:
    clock = FixedClock()
    store = MemoryStore(clock=clock)
    made = [LeaseKeeper(store, "watchers", name, TTL, monotonic=clock.now) for name in names]
    return clock, store, made


def test_one_holder_renews_and_the_other_waits() -> None:
    clock, store, (a, b) = keepers("r1", "r2")
    assert a.renew() and not b.renew()
    for _ in range(10):  # renewed every TTL/3 for a long time
        clock.advance(TTL / 3)
        assert a.renew() and a.valid()
        assert not b.renew() and not b.valid()
    assert store.holder("watchers") == "r1"


def test_a_holder_that_stops_renewing_stops_acting_before_the_next_can_take_over() -> None:
    clock, store, (a, b) = keepers("r1", "r2")
    assert a.renew()
    clock.advance(TTL * SAFETY - 0.01)
    assert a.valid()
    clock.advance(0.02)
    assert not a.valid()  # stops acting on its own …
    assert not b.renew()  # … while the lease is still its own in the store
    clock.advance(TTL * (1 - SAFETY))
    assert b.renew() and b.valid()  # taken over within one TTL
    assert store.holder("watchers") == "r2"
    assert not a.renew()


def test_with_the_store_down_nobody_leads_and_failed_renewals_are_counted() -> None:
    clock, store, (a,) = keepers("r1")
    assert a.renew()
    store.down = True
    clock.advance(TTL / 3)
    assert not a.renew() and not a.valid()
    assert a.failed_renewals == 1
    store.down = False
    clock.advance(TTL)
    assert a.renew() and a.failed_renewals == 1


def test_the_scheduler_leads_only_while_its_keeper_holds_the_lease() -> None:
    clock, _, (a, b) = keepers("r1", "r2")
    changes: list[tuple[str, bool]] = []
    first = WatcherScheduler(
        a, {"job": lambda: None}, 30, on_leadership=lambda lead: changes.append(("r1", lead))
    )
    second = WatcherScheduler(
        b, {"job": lambda: None}, 30, on_leadership=lambda lead: changes.append(("r2", lead))
    )
    first.tick()
    second.tick()
    assert (first.leading, second.leading) == (True, False)
    clock.advance(TTL)  # r1 hangs: no renewal for a whole TTL …
    second.tick()  # … so the next renewal on r2 takes the lease
    first.tick()  # r1 comes back: the lease is r2's now
    assert (first.leading, second.leading) == (False, True)
    assert changes == [("r1", True), ("r2", True), ("r1", False)]
