"""The simulator's numbers: monotone counters, recoverable p99, events at their times."""

from __future__ import annotations

import math
from collections import defaultdict

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.sandbox.metrics import (
    ISTIO_DURATION_BUCKETS_MS,
    MetricsSimulator,
    Scenario,
    bucket_index,
    scenario_path,
)

Key = tuple[str, frozenset[tuple[str, str]]]


def parse(text: str) -> dict[Key, float]:
    """Exposition text → {(sample name, labels): value}, via prometheus_client's parser."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def histogram_quantile(q: float, buckets: dict[float, float]) -> float:
    """Prometheus' histogram_quantile over {upper bound: cumulative count}."""
    bounds = sorted(buckets)
    total = buckets[math.inf]
    rank = q * total
    for i, bound in enumerate(bounds):
        if buckets[bound] >= rank:
            if math.isinf(bound):
                return bounds[i - 1]
            lower = bounds[i - 1] if i else 0.0
            below = buckets[bounds[i - 1]] if i else 0.0
            return lower + (bound - lower) * (rank - below) / (buckets[bound] - below)
    return math.nan


def p99_by_service(sim: MetricsSimulator, t0: float, t1: float) -> dict[str, float]:
    """p99 per destination_service over (t0, t1], like the PromQL the bot runs."""
    before, after = parse(sim.render(t0)), parse(sim.render(t1))
    sums: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    for (name, labels), value in after.items():
        tags = dict(labels)
        if name.endswith("_bucket") and tags.get("reporter") == "destination":
            delta = value - before.get((name, labels), 0.0)
            sums[tags["destination_service"]][float(tags["le"])] += delta
    return {service: histogram_quantile(0.99, b) for service, b in sums.items()}


def steal_percent(sim: MetricsSimulator, t0: float, t1: float) -> dict[str, float]:
    before, after = parse(sim.render(t0)), parse(sim.render(t1))
    per_cpu: dict[str, list[float]] = defaultdict(list)
    for (name, labels), value in after.items():
        tags = dict(labels)
        if name == "node_cpu_seconds_total" and tags["mode"] == "steal":
            per_cpu[tags["instance"]].append((value - before[(name, labels)]) / (t1 - t0))
    return {k: 100 * sum(v) / len(v) for k, v in per_cpu.items()}


@pytest.fixture(scope="module")
def spike() -> MetricsSimulator:
    return MetricsSimulator(Scenario.load(scenario_path("latency-spike")))


def test_counters_never_decrease_across_events(spike: MetricsSimulator):
    previous: dict[Key, float] = {}
    for t in [0, 0.5, 1, 7, 59.9, 60, 60.1, 200, 359, 361, 3600]:
        current = parse(spike.render(t))
        for key, value in current.items():
            if key[0].endswith(("_total", "_bucket", "_count", "_sum")):
                assert value >= previous.get(key, 0.0), (key, t)
        assert previous.keys() <= current.keys()  # series never vanish without no_data
        previous = current


def test_histogram_buckets_are_cumulative_and_consistent(spike: MetricsSimulator):
    series: dict[frozenset, list[tuple[float, float]]] = defaultdict(list)
    counts: dict[frozenset, float] = {}
    for (name, labels), value in parse(spike.render(300)).items():
        tags = dict(labels)
        if name.endswith("_bucket"):
            le = tags.pop("le")
            series[frozenset(tags.items())].append((float(le), value))
        elif name.endswith("_count"):
            counts[labels] = value
    assert series
    for labels, buckets in series.items():
        values = [v for _, v in sorted(buckets)]
        assert values == sorted(values)
        assert len(values) == len(ISTIO_DURATION_BUCKETS_MS) + 1
        assert values[-1] == counts[labels]


def test_same_scrape_time_same_text(spike: MetricsSimulator):
    assert spike.render(123.4) == spike.render(123.4)


def test_p99_recovered_within_one_bucket_before_and_during_spike(spike: MetricsSimulator):
    scenario = spike.scenario
    for (t0, t1), factor in [((10, 55), 1), ((120, 300), 4)]:
        observed = p99_by_service(spike, t0, t1)
        payments = scenario.service("payments")
        expected = payments.latency.p99 * factor
        got = observed[payments.host]
        assert abs(bucket_index(got) - bucket_index(expected)) <= 1, (got, expected)
        assert bucket_index(got) == bucket_index(expected)  # exact CDF: even the same bucket
        frontend = scenario.service("frontend")
        assert bucket_index(observed[frontend.host]) == bucket_index(frontend.latency.p99)


def test_request_rate_and_error_ratio():
    sim = MetricsSimulator(Scenario.load(scenario_path("mtls-migration")))
    before, after = parse(sim.render(330)), parse(sim.render(390))
    total = errors = 0.0
    for (name, labels), value in after.items():
        tags = dict(labels)
        if (
            name == "istio_requests_total"
            and tags["reporter"] == "destination"
            and tags["destination_service_name"] == "orders"
        ):
            delta = value - before.get((name, labels), 0.0)
            total += delta
            errors += delta if tags["response_code"].startswith("5") else 0.0
    assert total / 60 == pytest.approx(60, rel=0.02)
    assert errors / total == pytest.approx(0.08, rel=0.05)


def plaintext_rate(sim: MetricsSimulator, t0: float, t1: float) -> dict[str, float]:
    before, after = parse(sim.render(t0)), parse(sim.render(t1))
    rates: dict[str, float] = defaultdict(float)
    for (name, labels), value in after.items():
        tags = dict(labels)
        if name in ("istio_requests_total", "istio_tcp_connections_opened_total") and (
            tags["reporter"] == "destination" and tags["connection_security_policy"] == "none"
        ):
            rates[tags["source_workload"]] += (value - before.get((name, labels), 0)) / (t1 - t0)
    return dict(rates)


def test_plaintext_drops_to_zero_per_caller_at_event_times():
    sim = MetricsSimulator(Scenario.load(scenario_path("mtls-migration")))
    early = plaintext_rate(sim, 10, 110)
    assert early["legacy-batch"] == pytest.approx(15, rel=0.05)  # 60 rps x 0.25
    assert early["reports"] == pytest.approx(1.5, rel=0.1)  # tcp: 3 conn/s x 0.5
    assert "web" not in early
    assert plaintext_rate(sim, 130, 170) == {
        "legacy-batch": 0.0,
        "reports": pytest.approx(1.5, rel=0.1),
    }
    assert set(plaintext_rate(sim, 190, 290).values()) == {0.0}


def test_steal_follows_the_event():
    sim = MetricsSimulator(Scenario.load(scenario_path("steal-spike")))
    before = steal_percent(sim, 5, 25)
    during = steal_percent(sim, 40, 100)
    assert before["10.0.1.13:9100"] == pytest.approx(2, abs=0.1)
    assert during["10.0.1.13:9100"] == pytest.approx(25, abs=0.1)
    assert during["10.0.1.11:9100"] == pytest.approx(0, abs=0.1)


def test_node_info_and_cpu_flags_only_for_nodes_that_declare_flags():
    text = MetricsSimulator(Scenario.load(scenario_path("baseline"))).render(10)
    samples = parse(text)
    flags = defaultdict(set)
    unames = {}
    for (name, labels), value in samples.items():
        tags = dict(labels)
        if name == "node_cpu_flag_info":
            flags[tags["node"]].add(tags["flag"])
            assert value == 1
        if name == "node_uname_info":
            unames[tags["node"]] = tags["instance"]
    assert unames == {
        "node-a": "10.0.1.11:9100",
        "node-b": "10.0.1.12:9100",
        "node-c": "10.0.1.13:9100",
    }
    assert "hypervisor" in flags["node-b"] and "hypervisor" not in flags["node-a"]
    assert "aes" in flags["node-a"] and "node-c" not in flags


NO_DATA = """
name: gap
services:
  - {name: api, namespace: web, rps: 10}
nodes:
  - {name: n1, cpus: 1}
events:
  - {at: 10s, service: api, no_data: true}
  - {at: 20s, service: api, no_data: false}
"""


def test_no_data_stops_emitting_and_counters_resume_without_reset():
    sim = MetricsSimulator(Scenario.load(NO_DATA))

    def requests(t: float) -> float:
        return sum(
            v for (name, _), v in parse(sim.render(t)).items() if name == "istio_requests_total"
        )

    assert requests(9) > 0
    assert requests(15) == 0  # no series at all
    assert "istio_requests_total" not in sim.render(15)
    assert requests(21) >= requests(9)


def test_live_clock_inject_and_advance():
    now = [1000.0]
    sim = MetricsSimulator(Scenario.load(NO_DATA), clock=lambda: now[0])
    assert sim.now() == 0
    now[0] += 5
    sim.advance(100)
    assert sim.now() == pytest.approx(105)
    with pytest.raises(ValueError):
        sim.set_time_offset(50)
    event = sim.inject({"service": "api", "rps": 1000})
    assert event.at == pytest.approx(105)
    low = parse(sim.render_now())
    now[0] += 1
    high = parse(sim.render_now())
    key = next(k for k in high if k[0] == "istio_requests_total")
    assert high[key] - low[key] == pytest.approx(1000, abs=2)
    with pytest.raises(ValueError):
        sim.inject({"service": "api", "rps": 1}, at=10)
    with pytest.raises(ValueError):
        sim.inject({"service": "nope", "rps": 1})


LOW_RATE = """
name: low-rate
reporters: [destination]
services:
  - name: steady
    namespace: shop
    rps: 2
    error_ratio: 0.02
    latency: {p50_ms: 60, p99_ms: 160}
    callers:
      - {workload: a, namespace: shop, share: 0.5}
      - {workload: b, namespace: shop, share: 0.3}
      - {workload: c, namespace: shop, share: 0.2}
"""


def test_every_bucket_comes_from_one_whole_request_count_at_low_rates():
    """+Inf is the count, buckets never exceed the next one, none ever shrinks, and each
    series' buckets, sum and count describe the same whole requests."""
    sim = MetricsSimulator(Scenario.load(LOW_RATE))
    slow_share = 1 - sim.scenario.service("steady").latency.cdf(250)
    previous: dict[Key, float] = {}
    for t in range(0, 3600, 13):
        samples = parse(sim.render(t))
        buckets: dict[frozenset, list[tuple[float, float]]] = defaultdict(list)
        for (name, labels), value in samples.items():
            assert value >= previous.get((name, labels), 0.0), (name, t)
            if name.endswith("_bucket"):
                tags = dict(labels)
                le = float(tags.pop("le"))
                buckets[frozenset(tags.items())].append((le, value))
        for labels, values in buckets.items():
            ordered = [v for _, v in sorted(values)]
            assert ordered == sorted(ordered), (t, ordered)
            count = samples[("istio_request_duration_milliseconds_count", labels)]
            assert ordered[-1] == count == samples[("istio_requests_total", labels)]
            assert all(v == int(v) for v in ordered)
            # requests slower than 250 ms: the nearest whole number to what the
            # distribution gives (rounding each bucket down made it 1 where 0.01 is due)
            slow = count - dict(values)[250.0]
            assert abs(slow - count * slow_share) <= 0.5 + 1e-9, (t, count, slow)
        previous = samples


def test_a_steady_service_at_100_requests_a_window_reads_its_own_p99_bucket():
    """True p99 160 ms lies in the (100, 250] bucket; no one-minute window (~120 requests
    over six series) may read beyond it. Rounding each bucket down on its own read up to
    1,885 ms here, in 42 of 236 windows. (A genuine slow request — one in ~1,500 — is
    still counted, in its own bucket.)"""
    sim = MetricsSimulator(Scenario.load(LOW_RATE))
    service = sim.scenario.service("steady").host
    readings = [p99_by_service(sim, t - 60, t)[service] for t in range(60, 3600, 30)]
    assert max(readings) <= 250, max(readings)
    assert min(readings) > 100
