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
    heads = [line for line in text.splitlines() if line.startswith("ERROR ")]
    assert len(heads) == 2 and all(" on " in line for line in heads)
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 100
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
        }
    ).to_core()
    assert core.app_timeouts_ms == {"checkout": 1500}
    assert (core.margin_ratio, core.margin_min_ms, core.findings_ttl_s) == (0.5, 250, 7200.0)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"app_timeouts": {"checkout": "1.5"}}, "checkout: `1.5` is not a duration"),
        ({"amplification_threshold": 1}, "greater than 1"),
        ({"margin": {"min": "0s"}}, "below 1ms"),
        ({"bogus": 1}, "Extra inputs"),
    ],
)
def test_bad_config_names_the_field(raw: dict[str, object], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        TimeoutsConfig.model_validate(raw)
