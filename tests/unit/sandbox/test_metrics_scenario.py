"""Scenario files load, validate loudly, and resolve into the right timeline."""

from __future__ import annotations

import pytest

from bot.sandbox.metrics import SCENARIOS_DIR, Scenario, parse_duration, scenario_path
from bot.sandbox.metrics.timeline import segments

MINIMAL = """
name: t
services:
  - name: api
    namespace: web
    rps: 10
    latency: {p50_ms: 10, p99_ms: 100}
    callers:
      - {service: ui, share: 0.5}
  - name: ui
    namespace: web
nodes:
  - {name: n1, cpus: 2, steal: 3}
events:
  - {at: 2m, service: api, p99_factor: 4}
  - {at: 30s, node: n1, steal: 25}
"""


@pytest.mark.parametrize("path", sorted(SCENARIOS_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_scenarios_load(path):
    scenario = Scenario.load(path)
    assert scenario.services and scenario.nodes


def test_shipped_scenarios_are_the_documented_ones():
    names = {p.stem for p in SCENARIOS_DIR.glob("*.yaml")}
    assert {"baseline", "latency-spike", "steal-spike", "mtls-migration", "three-hop"} <= names
    assert scenario_path("baseline").name == "baseline.yaml"


def test_callers_link_to_services_and_the_rest_is_unknown():
    api = Scenario.load(MINIMAL).service("api")
    assert [(c.workload, c.namespace, c.share) for c in api.callers] == [
        ("ui", "web", 0.5),
        ("unknown", "unknown", 0.5),
    ]


def test_events_sorted_and_timeline_applies_them_at_their_time():
    scenario = Scenario.load(MINIMAL)
    assert [e.at for e in scenario.events] == [30.0, 120.0]
    segs = segments(scenario)
    assert [s.start for s in segs] == [0.0, 30.0, 120.0]
    assert [s.nodes["n1"].steal for s in segs] == [3.0, 25.0, 25.0]
    p99s = [s.services["api"].latency.p99 for s in segs]
    assert p99s[0] == pytest.approx(100) and p99s[1] == pytest.approx(100)
    assert p99s[2] == pytest.approx(400)
    assert segs[2].services["api"].latency.p50 == pytest.approx(10)


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        ("    rps: 10\n", "    rps: 10\n    colour: red\n"),
        ("{service: ui, share: 0.5}", "{service: ui, share: 1.5}"),
        ("service: api, p99_factor", "service: nope, p99_factor"),
        ("node: n1, steal: 25", "node: n1, steel: 25"),
        ("{p50_ms: 10, p99_ms: 100}", "{p50_ms: 100, p99_ms: 10}"),
        ("steal: 3}", "steal: 99}"),
    ],
)
def test_mistakes_fail_at_load(mutation, message):
    with pytest.raises(ValueError):
        Scenario.load(MINIMAL.replace(mutation, message))


@pytest.mark.parametrize(
    ("text", "seconds"), [(90, 90.0), ("90s", 90.0), ("1.5m", 90.0), ("2h", 7200.0), ("500ms", 0.5)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds
