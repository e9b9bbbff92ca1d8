"""Work after an ack waits for the other pending acks, but never longer than its bound."""

from __future__ import annotations

import threading
import time

from bot.core.acks import AckGate


def test_work_waits_until_pending_acks_are_out() -> None:
    gate = AckGate(max_wait_s=5)
    order: list[str] = []
    release = threading.Event()

    def request() -> None:
        with gate.awaiting_ack():
            release.wait()
            order.append("ack")

    waiting = threading.Thread(target=request)
    waiting.start()
    while gate.pending == 0:
        time.sleep(0.001)
    worker = threading.Thread(target=gate.after_acks(lambda: order.append("work")))
    worker.start()
    time.sleep(0.05)
    assert order == []
    release.set()
    waiting.join()
    worker.join()
    assert order == ["ack", "work"]


def test_work_is_never_held_longer_than_the_bound() -> None:
    gate = AckGate(max_wait_s=0.05)
    with gate.awaiting_ack():
        started = time.monotonic()
        assert gate.wait_for_acks() is False
        assert 0.04 <= time.monotonic() - started < 1
    assert gate.wait_for_acks() is True


def test_work_waits_for_a_quiet_moment_after_the_last_arrival() -> None:
    gate = AckGate(max_wait_s=1.0, quiet_s=0.1)
    with gate.awaiting_ack():
        pass
    started = time.monotonic()
    assert gate.wait_for_acks() is True
    assert 0.05 <= time.monotonic() - started < 0.5


def test_under_steady_load_queued_work_waits_no_longer_than_the_bound_from_queueing() -> None:
    gate = AckGate(max_wait_s=0.2, quiet_s=60.0)  # arrivals never calm down
    with gate.awaiting_ack():
        pass
    done: list[int] = []
    queued = time.monotonic()
    held = [gate.after_acks(lambda n=n: done.append(n)) for n in range(20)]
    time.sleep(0.25)  # every item is now past its bound
    for work in held:  # one worker taking one item after the other: none waits again
        work()
    # were the bound counted from when a worker picks an item, this took 20 x 0.2 s
    assert done == list(range(20)) and time.monotonic() - queued < 2.0
