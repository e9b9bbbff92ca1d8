"""Counts, lists, durations and namespace names as every answer words them."""

from __future__ import annotations

import pytest

from commands.core.names import namespace_name, namespace_problem
from commands.core.wording import count, duration, listing, number


def test_counts_take_the_right_plural_and_thousands_separators() -> None:
    assert count(1, "subject") == "1 subject"
    assert count(2000, "node") == "2,000 nodes"
    assert count(0, "pod") == "0 pods"
    assert count(3, "policy") == "3 policies"
    assert number(107774.0) == "107,774" and number(0.5) == "0.5"


def test_long_lists_name_a_few_and_say_how_many_more() -> None:
    names = [f"n-{i}" for i in range(1, 2001)]
    assert listing(names) == "n-1, n-2, n-3 … and 1,997 more"
    assert listing(["a", "b", "c", "d"]) == "a, b, c, d"  # "… and 1 more" saves nothing


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (10, "10 s"),
        (2.5, "2.5 s"),
        (90, "1 min 30 s"),
        (600, "10 min"),
        (3600, "1 h"),
        (5400, "1 h 30 min"),
        (7199, "2 h"),
        (86400, "24 h"),
    ],
)
def test_durations_are_whole_units_never_fractions_of_a_minute(seconds: float, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize("name", ["shop", "a", "team-01", "0day", "x" * 63])
def test_valid_namespace_names_pass(name: str) -> None:
    assert namespace_name(name) == name and namespace_problem(name) is None


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("Bad_NS", "did you mean `bad-ns`?"),
        ("-shop", "did you mean `shop`?"),
        ("a.b", "`a-b`"),
        ("x" * 64, "(64 characters)"),
    ],
)
def test_invalid_namespace_names_say_the_rule_and_a_fix(name: str, hint: str) -> None:
    with pytest.raises(ValueError) as caught:
        namespace_name(name)
    assert "lowercase letters, digits or '-'" in str(caught.value) and hint in str(caught.value)
