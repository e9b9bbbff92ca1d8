"""The `changes:` section of the config file: approval policies, bake windows, mTLS knobs.

Validated with pydantic at start (a typo fails with the field and the reason) and then
turned into the pure core's plain dataclasses (`PipelineSettings`, `MtlsSettings`), so
the core never sees pydantic or the file. Example:

    changes:
      default_policy: {approvers: ["@mesh-approvers"], approvals: 1, expiry_minutes: 60}
      policies:
        - {kind: "mtls-*", cluster: prod, approvals: 2}
      rollback_needs_approver: false
      mtls: {readiness_window_s: 3600, min_requests: 100, bake_window_s: 600}
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from bot.core.settings import Strict
from commands.changes.hooks import PipelineSettings
from commands.changes.machine import PolicyRule
from commands.changes.model import ApprovalPolicy
from commands.mtls.model import MtlsSettings

_APPROVER = re.compile(r"^(U[A-Z0-9_]+|W[A-Z0-9_]+|S[A-Z0-9_]+|@[a-z0-9._-]+)$")


class PolicyConfig(Strict):
    approvers: tuple[str, ...] = Field(
        default=(),
        description="user ids (U…), group handles (@…) or ids (S…); empty: any approver",
    )
    approvals: int = Field(default=1, ge=1, le=10)
    expiry_minutes: float = Field(default=60.0, gt=0, le=7 * 24 * 60)

    @field_validator("approvers")
    @classmethod
    def _names(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        bad = [n for n in names if not _APPROVER.match(n)]
        if bad:
            raise ValueError(f"not a user id, @handle or S-id: {', '.join(bad)}")
        return names


class PolicyRuleConfig(PolicyConfig):
    kind: str = Field(default="*", description="change kind or glob, e.g. mtls-strict, mtls-*")
    cluster: str = Field(default="*", description="cluster name or glob")


class MtlsConfig(Strict):
    root_namespace: str = "istio-system"
    readiness_window_s: float = Field(default=3600.0, gt=0)
    min_requests: float = Field(default=100.0, ge=0)
    bake_window_s: float = Field(default=600.0, gt=0)
    bake_min_requests: float = Field(default=20.0, ge=0)
    error_ratio_factor: float = Field(default=2.0, ge=1)
    error_ratio_margin: float = Field(default=0.01, ge=0, le=1)
    p99_factor: float = Field(default=1.5, ge=1)
    p99_margin_ms: float = Field(default=25.0, ge=0)
    connection_failure_margin: float = Field(default=5.0, ge=0)


class ChangesConfig(Strict):
    default_policy: PolicyConfig = PolicyConfig()
    policies: tuple[PolicyRuleConfig, ...] = ()
    rollback_needs_approver: bool = Field(
        default=False, description="true: a rollback needs an approver, not just an operator"
    )
    retention_days: float = Field(default=30.0, gt=0)
    # floors: the sweep reads Redis, a held bake check queries Prometheus again
    sweep_interval_s: float = Field(default=5.0, ge=0.1, le=300)
    hold_retry_s: float = Field(default=60.0, ge=1)
    max_hold_s: float = Field(default=3600.0, gt=0)
    verify_lease_s: float = Field(
        default=60.0, gt=0, description="a replica's claim on a due bake check; retried after"
    )
    apply_lease_s: float = Field(
        default=30.0,
        ge=3,
        le=600,
        description="a replica's work lease on a change it applies or rolls back (renewed "
        "every third); when it expires, another replica takes the work over",
    )
    mtls: MtlsConfig = MtlsConfig()

    def pipeline_settings(self) -> PipelineSettings:
        return PipelineSettings(
            default_policy=self._policy(self.default_policy),
            rules=tuple(PolicyRule(r.kind, r.cluster, self._policy(r)) for r in self.policies),
            retention_s=self.retention_days * 86400.0,
            hold_retry_s=self.hold_retry_s,
            max_hold_s=self.max_hold_s,
            verify_lease_s=self.verify_lease_s,
            apply_lease_s=self.apply_lease_s,
        )

    def mtls_settings(self) -> MtlsSettings:
        m = self.mtls
        return MtlsSettings(
            root_namespace=m.root_namespace,
            readiness_window_s=m.readiness_window_s,
            min_requests=m.min_requests,
            bake_window_s=m.bake_window_s,
            bake_min_requests=m.bake_min_requests,
            error_ratio_factor=m.error_ratio_factor,
            error_ratio_margin=m.error_ratio_margin,
            p99_factor=m.p99_factor,
            p99_margin_ms=m.p99_margin_ms,
            connection_failure_margin=m.connection_failure_margin,
        )

    def _policy(self, config: PolicyConfig) -> ApprovalPolicy:
        return ApprovalPolicy(
            approvers=config.approvers,
            approvals=config.approvals,
            expiry_s=config.expiry_minutes * 60.0,
            rollback_needs_approver=self.rollback_needs_approver,
        )
