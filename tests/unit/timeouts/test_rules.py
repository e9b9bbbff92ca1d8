"""The timeout rules, table-driven: durations as Istio reads them, each route check,
and the suggestion rule with the seed's numbers (app 1.5 s → mesh 2 s, 2 x 500 ms)."""

from __future__ import annotations

import pytest

from commands.core.model import Result
from commands.timeouts.durations import (
    DurationError,
    format_duration,
    parse_duration,
    parse_retry_on,
)
from commands.timeouts.model import AppTimeout, Finding, Severity, TimeoutsSettings, finding_id
from commands.timeouts.routes import apply_edit, fqdn, routes_of
from commands.timeouts.rules import DestinationFacts, check_route, suggest
from tests.unit.timeouts.fakes import PAYMENTS, vs

SETTINGS = TimeoutsSettings()


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2s", 2000),
        ("500ms", 500),
        ("1.5s", 1500),
        ("1m", 60_000),
        ("1h", 3_600_000),
        ("1h30m", 5_400_000),
        ("1ms", 1),
        ("0.25s", 250),
        ("1000000ns", 1),
        ("2000us", 2),
    ],
)
def test_durations_istio_accepts(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("0", "below 1ms"),
        ("0s", "below 1ms"),
        ("500us", "below 1ms"),
        ("-2s", "negative"),
        ("2", "not a duration"),
        ("two seconds", "not a duration"),
        ("1.5", "not a duration"),
        ("1.0005s", "finer than a millisecond"),
        ("", "empty"),
        ("2d", "not a duration"),
    ],
)
def test_durations_istio_refuses(text: str, why: str) -> None:
    with pytest.raises(DurationError, match=why):
        parse_duration(text)


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (2000, "2s"),
        (500, "500ms"),
        (1500, "1.5s"),
        (60_000, "1m"),
        (3_600_000, "1h"),
        (1250, "1250ms"),
    ],
)
def test_durations_written_back_round_trip(ms: int, text: str) -> None:
    assert format_duration(ms) == text
    assert parse_duration(text) == ms


def test_retry_on_accepts_policies_and_codes_refuses_others() -> None:
    assert parse_retry_on("5xx, connect-failure,503") == "5xx,connect-failure,503"
    with pytest.raises(ValueError, match="`sometimes` is not a retry policy"):
        parse_retry_on("5xx,sometimes")


@pytest.mark.parametrize(
    ("host", "namespace", "expected"),
    [
        ("payments", "payments", PAYMENTS),
        ("payments.payments", "shop", PAYMENTS),
        ("payments.payments.svc", "shop", PAYMENTS),
        (PAYMENTS, "shop", PAYMENTS),
        ("api.example.com", "shop", "api.example.com"),
    ],
)
def test_short_hosts_resolve_like_istio(host: str, namespace: str, expected: str) -> None:
    assert fqdn(host, namespace) == expected


def _route(timeout: str | None = None, retries: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    return routes_of(vs("payments", "payments", "payments", timeout=timeout, retries=retries))[0]


def _facts(app_ms: int | None = None, p99: float | None = None) -> list[DestinationFacts]:
    app = AppTimeout(app_ms, "annotation on Deployment shop/checkout") if app_ms else None
    return [DestinationFacts(PAYMENTS, app, (), p99)]


def _rules(findings: list[Finding]) -> dict[str, Severity]:
    return {f.rule: f.severity for f in findings}


# (timeout, retries, app timeout ms, p99 ms) → {rule: severity}
CASES = [
    pytest.param(
        "1s",
        {"attempts": 3, "perTryTimeout": "500ms"},
        1500,
        150.0,
        {
            "retries-exceed-timeout": Severity.ERROR,
            "mesh-timeout-not-above-app": Severity.WARNING,
        },
        id="seed: 1s timeout, 3 x 500ms retries, app 1.5s",
    ),
    pytest.param(
        "5s",
        {"attempts": 3, "perTryTimeout": "1s"},
        1500,
        None,
        {"retries-outlive-app": Severity.ERROR},
        id="the storm: mesh tries for 4s while the app gave up at 1.5s",
    ),
    pytest.param(
        "2s",
        {"attempts": 2, "perTryTimeout": "500ms"},
        1500,
        150.0,
        {},
        id="seed fixed: 2s, 2 x 500ms: (2+1) x 500ms = 1.5s fits the app",
    ),
    pytest.param(
        "2s",
        {"attempts": 3, "perTryTimeout": "500ms"},
        None,
        None,
        {},
        id="(3+1) x 500ms = 2s fits exactly: the enforced form is <=",
    ),
    pytest.param(
        "1s",
        {"attempts": 1, "perTryTimeout": "2s"},
        None,
        None,
        {"per-try-above-timeout": Severity.ERROR},
        id="per-try above timeout",
    ),
    pytest.param(
        None,
        {"attempts": 3},
        None,
        None,
        {"retries-without-timeout": Severity.ERROR},
        id="explicit retries, no timeout, no per-try: can hang",
    ),
    pytest.param(
        None,
        {"attempts": 3, "perTryTimeout": "1s"},
        None,
        None,
        {"retries-without-timeout": Severity.WARNING},
        id="no timeout but per-try bounds it",
    ),
    pytest.param(
        None,
        None,
        None,
        None,
        {"retries-without-timeout": Severity.WARNING},
        id="no policy: Istio's default retries, no timeout",
    ),
    pytest.param(
        None,
        {"attempts": 0},
        None,
        None,
        {},
        id="retries off and no timeout: nothing to flag",
    ),
    pytest.param(
        "100ms",
        {"attempts": 0},
        None,
        250.0,
        {"timeout-below-p99": Severity.ERROR},
        id="timeout below p99 cuts off normal traffic",
    ),
    pytest.param(
        "3s",
        {"attempts": 2, "perTryTimeout": "200ms"},
        2000,
        250.0,
        {"per-try-below-p99": Severity.WARNING},
        id="per-try below p99: retries on every slow request",
    ),
    pytest.param(
        "2s",
        {"attempts": 1, "perTryTimeout": "1s"},
        None,
        None,
        {"app-timeout-unknown": Severity.INFO},
        id="app timeout unknown: the finding says so",
    ),
]


@pytest.mark.parametrize(("timeout", "retries", "app_ms", "p99", "expected"), CASES)
def test_route_rules(
    timeout: str | None,
    retries: dict[str, object] | None,
    app_ms: int | None,
    p99: float | None,
    expected: dict[str, Severity],
) -> None:
    route = _route(timeout, retries)
    facts = _facts(app_ms, p99)
    if app_ms is None:
        facts = [DestinationFacts(PAYMENTS, None, ("shop/batch",), p99)]
    found = _rules(check_route(route, facts, SETTINGS))
    if "app-timeout-unknown" not in expected:
        found.pop("app-timeout-unknown", None)
    assert found == expected


def test_seed_suggestion_is_2s_with_two_retries_of_500ms() -> None:
    route = _route("1s", {"attempts": 3, "perTryTimeout": "500ms", "retryOn": "5xx"})
    suggestion = suggest(route, _facts(1500, 150.0), SETTINGS)
    assert suggestion is not None
    (edit,) = suggestion.edits
    assert (edit.timeout_ms, edit.attempts, edit.per_try_ms, edit.retry_on) == (2000, 2, 500, "5xx")
    assert edit.describe().startswith(f"{PAYMENTS}: timeout=2s retries=2 per-try=500ms")
    # the suggestion passes the rules it came from
    from commands.timeouts.routes import route_with

    after = route_with(route, edit)
    assert [f.rule for f in check_route(after, _facts(1500, 150.0), SETTINGS)] == []


def test_suggested_per_try_goes_above_p99_and_attempts_shrink_to_fit() -> None:
    route = _route("3s", {"attempts": 4, "perTryTimeout": "200ms"})
    suggestion = suggest(route, _facts(2000, 400.0), SETTINGS)
    assert suggestion is not None
    (edit,) = suggestion.edits
    assert edit.timeout_ms == 2500  # 2s + max(500ms, 0.25 x 2s)
    assert edit.per_try_ms == 500  # 400ms x 1.25
    assert edit.attempts == 3  # (3+1) x 500ms = 2s fits the app's 2s


def test_no_suggestion_without_anything_to_base_it_on() -> None:
    assert suggest(_route(None, {"attempts": 3}), _facts(), SETTINGS) is None


def test_finding_ids_are_stable_and_distinct() -> None:
    route = _route("1s", {"attempts": 3, "perTryTimeout": "500ms"})
    first = check_route(route, _facts(1500, 150.0), SETTINGS)
    again = check_route(route, _facts(1500, 150.0), SETTINGS)
    assert [f.id for f in first] == [f.id for f in again]
    assert len({f.id for f in first}) == len(first)
    assert first[0].rule == "retries-exceed-timeout"  # about the route, not one destination
    assert first[0].id == finding_id(first[0].rule, "payments", "payments", "0", "")


def test_edit_changes_only_timeout_and_retries_of_that_route() -> None:
    obj = vs(
        "reviews",
        "shop",
        "reviews",
        routes=[
            {"name": "canary", "match": [{"headers": {"x": {"exact": "1"}}}], "route": []},
            {"name": "default", "route": [{"destination": {"host": "reviews"}}], "timeout": "9s"},
        ],
    )
    from commands.timeouts.model import RouteEdit

    edited = apply_edit(obj, 1, RouteEdit("h", None, 2000, 2, 500, "5xx"))
    assert edited["spec"]["http"][0] == obj["spec"]["http"][0]
    assert edited["spec"]["http"][1] == {
        "name": "default",
        "route": [{"destination": {"host": "reviews"}}],
        "timeout": "2s",
        "retries": {"attempts": 2, "perTryTimeout": "500ms", "retryOn": "5xx"},
    }
    off = apply_edit(edited, 1, RouteEdit("h", None, None, 0))
    assert off["spec"]["http"][1]["retries"] == {"attempts": 0}


def test_result_type_is_a_result() -> None:
    from commands.timeouts.model import TimeoutAudit

    assert issubclass(TimeoutAudit, Result)
