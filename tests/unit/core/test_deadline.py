"""A command's overall budget (commands.core.deadline): shared by nested calls, carried
into worker threads, recording what it cut."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from commands.core import deadline


def test_a_budget_is_open_only_inside_a_command_and_nested_calls_share_it() -> None:
    assert deadline.current() is None
    with deadline.command_budget() as outer:
        with deadline.command_budget() as inner:
            assert inner is outer
        assert deadline.current() is outer
        assert outer.remaining(30) <= 30
    assert deadline.current() is None


def test_worker_threads_see_the_budget_only_when_the_work_is_carried() -> None:
    def seen(_: int) -> deadline.CommandBudget | None:
        budget = deadline.current()
        if budget is not None:
            budget.cut("list pods")
        return budget

    with deadline.command_budget() as budget, ThreadPoolExecutor(4) as pool:
        assert list(pool.map(seen, range(4))) == [None] * 4
        assert list(pool.map(deadline.carried(seen), range(4))) == [budget] * 4
    assert budget.cuts == ("list pods",)


def test_a_suspended_stretch_has_no_budget_and_the_command_gets_it_back() -> None:
    with deadline.command_budget() as budget:
        with deadline.suspended():
            assert deadline.current() is None
        assert deadline.current() is budget
