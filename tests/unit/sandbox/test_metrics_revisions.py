"""Revisions in scenarios: validation, and the live move a staged install drives."""

from __future__ import annotations

import pytest

from bot.sandbox.metrics import MetricsSimulator, Scenario

BASE = """
name: live-waves
revisions: {default: 1.29.6, 1-30-3: 1.30.3}
services:
  - {name: cart, namespace: shop, latency: {p50_ms: 10, p99_ms: 50}}
  - {name: ledger, namespace: billing, revision: 1-30-3}
events:
  - {at: 0s, revision: 1-30-3, error_ratio: 0.2}
"""


def _build_lines(text: str) -> list[str]:
    return sorted(line for line in text.splitlines() if line.startswith("istio_build{"))


def test_set_revision_moves_a_namespace_from_now_on() -> None:
    clock = [0.0]
    simulator = MetricsSimulator(Scenario.load(BASE), clock=lambda: clock[0])
    clock[0] = 120.0

    simulator.set_revision("shop", "1-30-3")

    before, after = simulator.render(60.0), simulator.render(180.0)
    assert _build_lines(before) == [
        'istio_build{app="cart",component="proxy",namespace="shop",pod="cart-0",tag="1.29.6"} 1',
        'istio_build{app="ledger",component="proxy",namespace="billing",pod="ledger-0",'
        'tag="1.30.3"} 1',
    ]
    assert 'namespace="shop",pod="cart-0",tag="1.30.3"} 1' in "\n".join(_build_lines(after))
    errors_after = [
        line
        for line in after.splitlines()
        if line.startswith("istio_requests_total{")
        and 'destination_service_name="cart"' in line
        and 'response_code="503"' in line
    ]
    assert errors_after  # the revision's regression came with the move
    assert "# TYPE istio_build gauge" in after


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (BASE + "  - {at: 1m, revision: 1-31-0, p99_factor: 2}\n", "unknown revision '1-31-0'"),
        (
            BASE + "  - {at: 1m, namespace: shop, revision: 1-30-3, p99_factor: 2}\n",
            "only the revision",
        ),
        (BASE + "  - {at: 1m, revision: 1-30-3, colour: red}\n", "unknown keys"),
        (BASE.replace("revision: 1-30-3}", "revision: nope}"), "unknown revision 'nope'"),
        (
            "services:\n  - {name: a, revision: default}\n",
            "revision given but no 'revisions' map",
        ),
    ],
)
def test_revision_mistakes_fail_loudly(yaml_text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Scenario.load(yaml_text)


def test_a_move_to_an_unknown_revision_is_refused() -> None:
    simulator = MetricsSimulator(Scenario.load(BASE), clock=lambda: 0.0)
    with pytest.raises(ValueError, match="unknown revision"):
        simulator.set_revision("shop", "9-9-9")
