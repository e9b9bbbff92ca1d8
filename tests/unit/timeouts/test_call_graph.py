"""Retry amplification along call paths: default retries stack 3x per hop, explicit
policies count as written, `attempts: 0` stops it, and the path is named."""

from __future__ import annotations

import pytest

from commands.timeouts.call_graph import amplification_findings, paths
from commands.timeouts.model import Edge, Severity, TimeoutsSettings
from commands.timeouts.queries import parse_edges
from commands.timeouts.routes import routes_of
from tests.unit.timeouts.fakes import CHECKOUT, FRONTEND, PAYMENTS, three_hop_samples, vs

SETTINGS = TimeoutsSettings()


def test_edges_name_services_by_the_workloads_behind_them() -> None:
    edges = parse_edges(three_hop_samples())
    assert [(e.source, e.destination, e.source_is_service) for e in edges] == [
        (CHECKOUT, PAYMENTS, True),
        (FRONTEND, CHECKOUT, True),
        ("istio-system/istio-ingressgateway", FRONTEND, False),
    ]


def test_paths_are_maximal_and_survive_cycles() -> None:
    edges = [Edge("a", "b", 1), Edge("b", "c", 1), Edge("c", "a", 1), Edge("x", "a", 1)]
    assert [[e.destination for e in p] for p in paths(edges)] == [["a", "b", "c"]]
    ring = [Edge("a", "b", 1), Edge("b", "a", 1)]
    assert [[e.source, e.destination] for p in paths(ring) for e in p][:2] == [["a", "b"]]


@pytest.mark.parametrize(
    ("payments_retries", "threshold", "expected"),
    [
        pytest.param(None, 8.0, (27, Severity.WARNING), id="defaults everywhere: 3x3x3"),
        pytest.param(
            {"attempts": 3}, 8.0, (36, Severity.ERROR), id="explicit 3 retries at payments: 3x3x4"
        ),
        pytest.param(
            {"attempts": 0}, 8.0, (9, Severity.WARNING), id="retries off at payments: 3x3x1"
        ),
        pytest.param({"attempts": 0}, 30.0, None, id="under a higher threshold"),
    ],
)
def test_three_hop_amplification(
    payments_retries: dict[str, object] | None,
    threshold: float,
    expected: tuple[int, Severity] | None,
) -> None:
    routes = routes_of(
        vs("payments", "payments", "payments", timeout="2s", retries=payments_retries)
    )
    settings = TimeoutsSettings(amplification_threshold=threshold)
    findings, _ = amplification_findings(parse_edges(three_hop_samples()), routes, settings)
    if expected is None:
        assert findings == []
        return
    (finding,) = findings
    product, severity = expected
    assert finding.subject == (
        "istio-system/istio-ingressgateway → frontend.shop → checkout.shop → payments.payments"
    )
    assert f"up to {product}x" in finding.message
    assert finding.severity is severity
    assert len(finding.evidence) == 3


def test_suggestion_turns_outer_retries_off_and_keeps_the_innermost() -> None:
    findings, _ = amplification_findings(parse_edges(three_hop_samples()), [], SETTINGS)
    suggestion = findings[0].suggestion
    assert suggestion is not None
    # gateway hop (3) is not ours to edit; frontend→checkout off, then payments lowered
    assert [(e.host, e.attempts, e.route) for e in suggestion.edits] == [
        (CHECKOUT, 0, None),
        (PAYMENTS, 1, None),
    ]
    assert "amplification after the change: 6x" in suggestion.why[1]


def test_gateway_bound_routes_decide_gateway_hops() -> None:
    gateway_vs = vs(
        "frontend-gw", "shop", "frontend", retries={"attempts": 0}, gateways=["shop/gw"]
    )
    routes = routes_of(gateway_vs)
    findings, _ = amplification_findings(parse_edges(three_hop_samples()), routes, SETTINGS)
    assert "up to 9x (1 x 3 x 3)" in findings[0].message


def test_many_paths_are_capped_with_a_note() -> None:
    edges = [Edge(f"ns/w{i}", f"s{i}", 1, False) for i in range(30)]
    edges += [Edge(f"s{i}", f"t{i}", 1) for i in range(30)]
    edges += [Edge(f"t{i}", "db", 1) for i in range(30)]
    findings, notes = amplification_findings(edges, [], TimeoutsSettings(max_paths=5))
    assert len(findings) == 5
    assert notes == ["25 more call paths amplify retries beyond 8x; the worst 5 are shown"]
