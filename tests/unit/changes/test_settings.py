"""The `changes:` config section: defaults, policy rules, and refusals naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app.config import ConfigError, load_settings
from commands.changes.machine import policy_for


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "meshbot.yaml"
    path.write_text(text)
    return load_settings(path, env={})


def test_defaults_are_one_approval_an_hour_and_ten_minute_bake(tmp_path: Path) -> None:
    changes = load(tmp_path, "").file.changes
    pipeline = changes.pipeline_settings()
    assert pipeline.default_policy.approvals == 1
    assert pipeline.default_policy.expiry_s == 3600
    assert not pipeline.default_policy.rollback_needs_approver
    mtls = changes.mtls_settings()
    assert (mtls.readiness_window_s, mtls.bake_window_s) == (3600, 600)


def test_policies_per_kind_and_cluster(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        """
changes:
  default_policy: {approvers: ["@mesh-approvers"], expiry_minutes: 30}
  policies:
    - {kind: "mtls-*", cluster: prod, approvers: [U_BOB, S_SRE], approvals: 2}
  rollback_needs_approver: true
""",
    )
    pipeline = settings.file.changes.pipeline_settings()
    prod = policy_for(pipeline.rules, pipeline.default_policy, "mtls-strict", "prod")
    assert (prod.approvers, prod.approvals, prod.rollback_needs_approver) == (
        ("U_BOB", "S_SRE"),
        2,
        True,
    )
    other = policy_for(pipeline.rules, pipeline.default_policy, "mtls-strict", "staging")
    assert (other.approvers, other.expiry_s) == (("@mesh-approvers",), 1800)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("changes: {default_policy: {approvers: [bob]}}", "changes.default_policy.approvers"),
        ("changes: {hold_retry_s: 0.01}", "changes.hold_retry_s"),
        ("changes: {sweep_interval_s: 0.001}", "changes.sweep_interval_s"),
        ("changes: {default_policy: {approvals: 0}}", "changes.default_policy.approvals"),
        ("changes: {mtls: {bake_window_s: 0}}", "changes.mtls.bake_window_s"),
        ("changes: {policies: [{kind: x, colour: red}]}", "changes.policies.0.colour"),
    ],
)
def test_bad_values_fail_at_start_naming_the_field(tmp_path: Path, text: str, field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load(tmp_path, text)
