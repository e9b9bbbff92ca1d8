"""metav1.LabelSelector matching as the API server does it (webhook and workload selectors)."""

from __future__ import annotations

import pytest

from bot.sandbox.kube.selectors import selector_matches

LABELS = {"istio.io/rev": "1-30-3", "team": "shop"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        (None, True),
        ({}, True),
        ({"matchLabels": {"team": "shop"}}, True),
        ({"matchLabels": {"team": "pay"}}, False),
        (
            {"matchExpressions": [{"key": "istio.io/rev", "operator": "In", "values": ["1-30-3"]}]},
            True,
        ),
        (
            {
                "matchExpressions": [
                    {"key": "istio.io/rev", "operator": "In", "values": ["default"]}
                ]
            },
            False,
        ),
        (
            {
                "matchExpressions": [
                    {"key": "istio-injection", "operator": "NotIn", "values": ["x"]}
                ]
            },
            True,
        ),
        ({"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["shop"]}]}, False),
        ({"matchExpressions": [{"key": "team", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "istio-injection", "operator": "Exists"}]}, False),
        ({"matchExpressions": [{"key": "istio-injection", "operator": "DoesNotExist"}]}, True),
        ({"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}, False),
        ({"matchExpressions": [{"key": "team", "operator": "Bogus"}]}, False),
        (
            {
                "matchLabels": {"team": "shop"},
                "matchExpressions": [{"key": "istio.io/rev", "operator": "DoesNotExist"}],
            },
            False,
        ),
    ],
)
def test_selector_matches(selector: dict | None, expected: bool) -> None:
    assert selector_matches(selector, LABELS) is expected
