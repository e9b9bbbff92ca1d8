"""What a user reads: the audit in Slack (within Block Kit limits however many findings)
and in a terminal (table, JSON, exit code), and the `timeouts:` config section."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from bot.timeouts.cli import exit_status, to_json, to_text
from bot.timeouts.render import details, summary
from bot.timeouts.settings import TimeoutsConfig
from commands.timeouts.model import Finding, Severity, TimeoutAudit, finding_id


def _audit(n: int, severity: Severity = Severity.ERROR) -> TimeoutAudit:
    findings = tuple(
        Finding(
            finding_id("retries-exceed-timeout", str(i)),
            "retries-exceed-timeout",
            severity,
            f"ns{i}/vs{i} route #0",
            "(attempts + 1) x perTryTimeout = 4 x 500ms = 2s is beyond the timeout 1s " * 3,
            ("evidence " * 40,),
        )
        for i in range(n)
    )
    return TimeoutAudit("prod", "all namespaces", "2026-05-20T10:00:00Z", "v1", n, n, findings)


@pytest.mark.parametrize("n", [0, 1, 30, 400])
def test_slack_messages_stay_within_limits(n: int) -> None:
    messages = [summary(_audit(n)), *details(_audit(n))]
    for message in messages:
        assert len(message.blocks) <= 50 and len(message.text) <= 3000
        for block in message.blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= 3000
    head = summary(_audit(n))
    assert head.blocks[0]["text"]["text"] == "Timeouts audit prod (all namespaces)"
    if n == 0:
        assert "No findings" in str(head.blocks)
    if n == 400:
        assert "_… and 375 more in the thread_" in str(head.blocks)
        assert "320 more findings" in str(messages[-1].blocks)


def test_cli_text_json_and_exit_status() -> None:
    report = _audit(2)
    text = to_text(report)
    assert "SEVERITY  ID" in text and "ERROR" in text
    data = json.loads(to_json(report))
    assert data["counts"] == {"error": 2, "warning": 0, "info": 0}
    assert exit_status(report) == 1
    assert exit_status(_audit(2, Severity.WARNING)) == 0
    assert "No findings." in to_text(_audit(0))


def test_config_section_becomes_core_settings() -> None:
    core = TimeoutsConfig.model_validate(
        {
            "app_timeouts": {"checkout": "1.5s"},
            "margin": {"ratio": 0.5, "min": "250ms"},
            "findings_ttl": "2h",
            "slow_p99": "2s",
            "max_timeout": "1h",
        }
    ).to_core()
    assert core.app_timeouts_ms == {"checkout": 1500}
    assert (core.slow_p99_ms, core.max_timeout_ms) == (2000, 3_600_000)
    assert (core.margin_ratio, core.margin_min_ms, core.findings_ttl_s) == (0.5, 250, 7200.0)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"app_timeouts": {"checkout": "1.5"}}, "checkout: `1.5` is not a duration"),
        ({"amplification_threshold": 1}, "greater than 1"),
        ({"margin": {"min": "0s"}}, "below 1ms"),
        ({"bogus": 1}, "Extra inputs"),
        ({"max_timeout": "99999999999999h"}, "longer than any duration Go, Istio and Envoy"),
    ],
)
def test_bad_config_names_the_field(raw: dict[str, object], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        TimeoutsConfig.model_validate(raw)


def test_every_finding_shows_its_fix_and_command_in_slack_and_the_terminal() -> None:
    from commands.timeouts.model import RouteEdit, RouteRef, Suggestion

    ref = RouteRef("networking.istio.io/v1", "shop", "reviews", 0, "canary")
    manual = Finding(
        "to-aaaaaaaa",
        "retries-without-timeout",
        Severity.WARNING,
        ref.label,
        "no timeout: a request to reviews.shop can hang as long as it holds it " * 4,
        fix="set a timeout above the slowest normal response of reviews.shop",
        run="timeouts set service=reviews.shop route=reviews/canary timeout=DURATION",
    )
    edit = RouteEdit("reviews.shop.svc.cluster.local", ref, 2000)
    suggested = Finding(
        "to-bbbbbbbb",
        "mesh-timeout-not-above-app",
        Severity.WARNING,
        ref.label,
        "mesh timeout 1s is not above the app timeout 1.5s",
        suggestion=Suggestion((edit,), ("timeout 2s: app timeout 1.5s + max(500ms, …)",)),
        fix=edit.describe(),
        run="timeouts fix to-bbbbbbbb",
    )
    report = TimeoutAudit("prod", "all namespaces", "now", "v1", 1, 1, (manual, suggested))
    text = to_text(report)
    assert manual.message in text  # never clipped in a terminal
    assert "  fix: set a timeout above the slowest normal response of reviews.shop" in text
    assert "  run: meshbot timeouts set service=reviews.shop route=reviews/canary" in text
    assert "  fix: reviews.shop.svc.cluster.local: timeout=2s (shop/reviews route canary)" in text
    assert "  run: meshbot timeouts fix to-bbbbbbbb" in text
    thread = str([m.blocks for m in details(report)])
    assert "_fix:_ set a timeout above the slowest normal response" in thread
    assert "_run:_ `/mesh timeouts set service=reviews.shop route=reviews/canary" in thread
    assert "_run:_ `/mesh timeouts fix to-bbbbbbbb`" in thread
    data = json.loads(to_json(report))
    assert [f["run"] for f in data["findings"]] == [manual.run, suggested.run]
