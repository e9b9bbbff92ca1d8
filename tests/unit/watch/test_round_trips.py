"""A steady watcher cycle reads the store a fixed number of times, however many alerts
are open: the open alerts' records and silences are read in one go each (get_many).
Only the alerts' own updates grow with them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from commands.watch.commands import LatencyPolicy, WatchPolicy
from commands.watch.cycle import WatchCycle
from commands.watch.ports import CyclePorts
from commands.watch.rules import RuleSpec
from tests.unit.fakes import FixedClock, MemoryStore
from tests.unit.watch.fakes import Ids, RecordingNotifier, ScriptedMetrics


class CountingStore(MemoryStore):
    """The in-memory store, counting each call by name."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def get(self, key: str, *, cluster: str | None = None) -> Any:
        self.calls["get"] += 1
        return super().get(key, cluster=cluster)

    def get_many(self, keys: Sequence[str], *, cluster: str | None = None) -> list[Any]:
        self.calls["get_many"] += 1
        return [super(CountingStore, self).get(k, cluster=cluster) for k in keys]

    def update(self, key: str, change: Callable[[Any], Any], **kw: Any) -> tuple[bool, Any]:
        self.calls["update"] += 1
        return super().update(key, change, **kw)


def steady_calls(breaching: int, services: int = 200) -> Counter[str]:
    store = CountingStore()
    metrics = ScriptedMetrics()
    for i in range(services):
        metrics.set_service(f"svc{i}", 900 if i < breaching else 100)
    policy = WatchPolicy(
        "prod",
        "C",
        cycle_s=10,
        latency=LatencyPolicy(default_ms=300, spec=RuleSpec(for_cycles=2)),
        steal=None,
        storm_k=1000,
        edit_interval_s=3600,
    )
    clock = FixedClock()
    cycle = WatchCycle(policy, CyclePorts(store, metrics, RecordingNotifier(), clock, "r1", Ids()))
    for _ in range(3):  # open, fire and post: then the steady state
        clock.value += 10
        cycle.run()
    store.calls.clear()
    clock.value += 10
    cycle.run()
    return store.calls


def test_reads_do_not_grow_with_the_open_alerts_or_the_services() -> None:
    few, many = steady_calls(breaching=3), steady_calls(breaching=12)
    assert few["get"] + few["get_many"] == many["get"] + many["get_many"]
    assert steady_calls(3, services=2000)["get"] == few["get"]
    assert many["update"] - few["update"] == 12 - 3  # one update per open alert
