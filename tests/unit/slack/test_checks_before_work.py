"""Checks a request registers before its ack, asked only when its work is about to run
(bot.core.acks), carried into the listener pool (bot.core.runtime.ContextPool)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.core.acks import AckGate, begin_request, check_before_work, checks_before_work
from bot.core.runtime import ContextPool


@pytest.fixture(autouse=True)
def no_checks_left_behind() -> Iterator[None]:
    yield
    begin_request(object())  # the test thread's next "request" starts clean


def test_work_runs_only_when_every_check_passes() -> None:
    gate = AckGate(max_wait_s=0)
    done: list[str] = []
    asked: list[str] = []

    def check(name: str, answer: bool) -> bool:
        asked.append(name)
        return answer

    gate.after_acks(lambda: done.append("a"), (lambda: check("a", True),))()
    gate.after_acks(
        lambda: done.append("b"), (lambda: check("b1", False), lambda: check("b2", True))
    )()
    assert done == ["a"]
    assert asked == ["a", "b1"]  # the first refusal is enough: nothing more is claimed


def test_checks_belong_to_their_request_only() -> None:
    first, second = object(), object()
    check_before_work(first, lambda: True)
    check_before_work(first, lambda: False)
    assert len(checks_before_work()) == 2
    begin_request(second)  # the same thread, the next request: nothing inherited
    assert checks_before_work() == ()
    check_before_work(second, lambda: True)
    assert len(checks_before_work()) == 1


def test_the_listener_pool_sees_the_checks_of_the_request_that_submitted() -> None:
    request = object()
    refuse = lambda: False  # noqa: E731
    check_before_work(request, refuse)
    with ContextPool(max_workers=2) as pool:
        seen = pool.submit(checks_before_work).result()
        begin_request(object())
        later = pool.submit(checks_before_work).result()
    assert seen == (refuse,)
    assert later == ()
