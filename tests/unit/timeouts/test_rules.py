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
from commands.timeouts.istio import resolve_host
from commands.timeouts.model import (
    AppTimeout,
    Finding,
    Route,
    Severity,
    Suggestion,
    TimeoutsSettings,
    finding_id,
)
from commands.timeouts.routes import apply_edit, routes_of
from commands.timeouts.rules import check_route
from commands.timeouts.suggest import DestinationFacts, suggest
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
        ("2562047h", 2562047 * 3_600_000),
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
        ("99999999999999h", "longer than any duration Go, Istio and Envoy can hold"),
        ("2562048h", "at most 2562047h47m16.854775807s"),
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
        ("Payments", "shop", "payments.shop.svc.cluster.local"),
        # Istio expands only names without a dot: these stay exactly as written
        ("payments.payments", "shop", "payments.payments"),
        ("payments.payments.svc", "shop", "payments.payments.svc"),
        (PAYMENTS, "shop", PAYMENTS),
        ("wikipedia.org", "shop", "wikipedia.org"),
        ("api.example.com", "shop", "api.example.com"),
        ("*.example.com", "shop", "*.example.com"),
        ("*", "shop", "*"),
        ("10.0.0.1", "shop", "10.0.0.1"),
        ("2001:db8::1", "shop", "2001:db8::1"),
    ],
)
def test_hosts_resolve_like_istio(host: str, namespace: str, expected: str) -> None:
    assert resolve_host(host, namespace) == expected


def _route(timeout: str | None = None, retries: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    return routes_of(vs("payments", "payments", "payments", timeout=timeout, retries=retries))[0]


def _facts(app_ms: int | None = None, p99: float | None = None) -> list[DestinationFacts]:
    app = AppTimeout(app_ms, "annotation on Deployment shop/checkout") if app_ms else None
    return [DestinationFacts(PAYMENTS, app, (), p99)]


def _rules(findings: list[Finding]) -> dict[str, Severity]:
    return {f.rule: f.severity for f in findings}


# (timeout, retries, app timeout ms, p99 ms) → {rule: severity}
RETRY_5XX = "5xx,connect-failure"
CASES = [
    pytest.param(
        "1s",
        {"attempts": 3, "perTryTimeout": "500ms", "retryOn": RETRY_5XX},
        1500,
        150.0,
        {
            "retries-exceed-timeout": Severity.ERROR,
            "mesh-timeout-not-above-app": Severity.WARNING,
        },
        id="seed: 1s timeout, 3 x 500ms retries on 5xx, app 1.5s",
    ),
    pytest.param(
        "5s",
        {"attempts": 3, "perTryTimeout": "1s", "retryOn": "gateway-error"},
        1500,
        None,
        {"retries-outlive-app": Severity.ERROR},
        id="the storm: mesh retries timed-out tries for 4s while the app gave up at 1.5s",
    ),
    pytest.param(
        "5s",
        {"attempts": 3, "perTryTimeout": "1s"},
        1500,
        None,
        {"per-try-timeout-not-retried": Severity.WARNING},
        id="default retryOn: a timed-out try is not retried, so no storm but a 504 at 1s",
    ),
    pytest.param(
        "2s",
        {"attempts": 2, "perTryTimeout": "500ms", "retryOn": "reset"},
        1500,
        150.0,
        {},
        id="seed fixed: 2s, 2 x 500ms: (2+1) x 500ms = 1.5s fits the app",
    ),
    pytest.param(
        "2s",
        {"attempts": 3, "perTryTimeout": "500ms", "retryOn": RETRY_5XX},
        None,
        None,
        {},
        id="(3+1) x 500ms = 2s fits exactly: the enforced form is <=",
    ),
    pytest.param(
        "1s",
        {"attempts": 3, "perTryTimeout": "500ms", "retryOn": "connect-failure,503"},
        None,
        None,
        {"per-try-timeout-not-retried": Severity.WARNING},
        id="fit is moot when timed-out tries are not retried (status codes do not count)",
    ),
    pytest.param(
        "1s",
        {"attempts": 1, "perTryTimeout": "2s", "retryOn": RETRY_5XX},
        None,
        None,
        {"per-try-above-timeout": Severity.WARNING},
        id="per-try above timeout: it never fires (accepted by Istio, useless)",
    ),
    pytest.param(
        None,
        {"attempts": 3},
        None,
        None,
        {"retries-without-timeout": Severity.WARNING},
        id="explicit retries, no timeout, no per-try: can hang",
    ),
    pytest.param(
        None,
        {"attempts": 3, "perTryTimeout": "1s", "retryOn": RETRY_5XX},
        None,
        None,
        {"retries-without-timeout": Severity.INFO},
        id="no timeout but retried per-try timeouts bound it",
    ),
    pytest.param(
        None,
        None,
        None,
        None,
        {"no-timeout": Severity.INFO},
        id="no policy: Istio's default retries, no timeout: info only",
    ),
    pytest.param(
        None,
        None,
        1500,
        None,
        {"no-timeout": Severity.WARNING},
        id="no timeout matters once a caller's app timeout is known",
    ),
    pytest.param(
        None,
        None,
        None,
        2500.0,
        {"no-timeout": Severity.WARNING},
        id="no timeout matters once the observed p99 is slow",
    ),
    pytest.param(
        None,
        {"attempts": 0},
        None,
        None,
        {"no-timeout": Severity.INFO},
        id="retries off and no timeout: info",
    ),
    pytest.param(
        None,
        {},
        None,
        None,
        {"no-timeout": Severity.INFO},
        id="retries: {} is attempts 0: retries off",
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
        {"attempts": 2, "perTryTimeout": "200ms", "retryOn": "5xx"},
        2000,
        250.0,
        {"per-try-below-p99": Severity.WARNING},
        id="retried per-try below p99: retries on every slow request",
    ),
    pytest.param(
        "3s",
        {"attempts": 2, "perTryTimeout": "200ms"},
        2000,
        250.0,
        {"per-try-below-p99": Severity.ERROR, "per-try-timeout-not-retried": Severity.WARNING},
        id="unretried per-try below p99: 504s on normal traffic",
    ),
    pytest.param(
        "2s",
        {"attempts": 1, "perTryTimeout": "1s", "retryOn": "5xx"},
        None,
        None,
        {"app-timeout-unknown": Severity.INFO},
        id="app timeout unknown: the finding says so",
    ),
    pytest.param(
        "0s",
        None,
        None,
        None,
        {"invalid-duration": Severity.WARNING, "no-timeout": Severity.INFO},
        id="timeout 0s slipped past an old CRD: Envoy reads it as no timeout",
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


def _suggest(route: Route, facts: list[DestinationFacts]) -> Suggestion | None:
    return suggest(route, route.policy, facts, SETTINGS)


def _applied(timeout: str | None, retries: dict[str, object] | None, s: Suggestion) -> Route:
    obj = vs("payments", "payments", "payments", timeout=timeout, retries=retries)
    for edit in s.edits:
        assert edit.route is not None
        obj = apply_edit(obj, edit.route.index, edit)
    return routes_of(obj)[0]


def test_seed_suggestion_is_2s_with_two_retries_of_500ms() -> None:
    retries = {"attempts": 3, "perTryTimeout": "500ms", "retryOn": "5xx"}
    suggestion = _suggest(_route("1s", retries), _facts(1500, 150.0))
    assert suggestion is not None
    (edit,) = suggestion.edits
    assert (edit.timeout_ms, edit.attempts, edit.per_try_ms, edit.retry_on) == (2000, 2, 500, "5xx")
    assert edit.describe().startswith(f"{PAYMENTS}: timeout=2s retries=2 per-try=500ms")
    # the suggestion passes the rules it came from
    after = _applied("1s", retries, suggestion)
    assert [f.rule for f in check_route(after, _facts(1500, 150.0), SETTINGS)] == []


def test_suggested_per_try_goes_above_p99_is_made_retryable_and_attempts_shrink() -> None:
    retries: dict[str, object] = {"attempts": 4, "perTryTimeout": "200ms"}
    suggestion = _suggest(_route("3s", retries), _facts(2000, 400.0))
    assert suggestion is not None
    (edit,) = suggestion.edits
    assert edit.timeout_ms == 2500  # 2s + max(500ms, 0.25 x 2s)
    assert edit.per_try_ms == 500  # 400ms x 1.25
    assert edit.attempts == 3  # (3+1) x 500ms = 2s fits the app's 2s
    # the default conditions kept, plus the one that retries a timed-out try
    assert edit.retry_on == "connect-failure,refused-stream,unavailable,cancelled,gateway-error"
    after = _applied("3s", retries, suggestion)
    assert [f.rule for f in check_route(after, _facts(2000, 400.0), SETTINGS)] == []


def test_per_try_above_timeout_is_lowered_so_one_retry_fits() -> None:
    retries = {"attempts": 2, "perTryTimeout": "5s", "retryOn": "5xx"}
    suggestion = _suggest(_route("2s", retries), _facts())
    assert suggestion is not None
    (edit,) = suggestion.edits
    assert (edit.timeout_ms, edit.per_try_ms, edit.attempts) == (None, 1000, 1)
    after = _applied("2s", retries, suggestion)
    assert check_route(after, _facts(), SETTINGS) == []


def test_no_suggestion_without_anything_to_base_it_on() -> None:
    assert _suggest(_route(None, {"attempts": 3}), _facts()) is None


def test_every_finding_has_a_fix_line_and_a_command_when_the_bot_can_do_it() -> None:
    (hang,) = check_route(_route(None, {"attempts": 3}), _facts(), SETTINGS)
    assert hang.rule == "retries-without-timeout" and hang.suggestion is None
    assert "set a timeout above the slowest normal response of payments.payments" in hang.fix
    assert hang.run == "timeouts set service=payments.payments route=payments/#0 timeout=DURATION"
    seed = {"attempts": 3, "perTryTimeout": "500ms", "retryOn": "5xx"}
    for finding in check_route(_route("1s", seed), _facts(1500, 150.0), SETTINGS):
        assert finding.run == f"timeouts fix {finding.id}"
        assert finding.fix.startswith(f"{PAYMENTS}: timeout=2s retries=2 per-try=500ms")


def test_no_findings_for_routes_without_an_upstream() -> None:
    obj = vs(
        "web",
        "shop",
        "web",
        routes=[
            {"match": [{"uri": {"prefix": "/old"}}], "redirect": {"uri": "/new"}, "timeout": "0s"},
            {"match": [{"uri": {"prefix": "/h"}}], "directResponse": {"status": 200}},
            {"retries": {"attempts": 5}, "redirect": {"authority": "x.example.com"}},
        ],
    )
    assert [check_route(r, _facts(1500, 5000.0), SETTINGS) for r in routes_of(obj)] == [[], [], []]


def test_finding_ids_are_stable_and_distinct() -> None:
    route = _route("1s", {"attempts": 3, "perTryTimeout": "500ms", "retryOn": "5xx"})
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
