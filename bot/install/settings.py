"""The `install:` section of the config file, validated, turned into core settings.

Where the charts come from is per cluster (`clusters.<name>.install`, next to the
kubeconfig it goes with); how an install is paced is here. Who approves each stage is
the change pipeline's policy per kind (`changes.policies` with `kind: install-wave`,
…); the requester never approves their own. Example:

    install:
      wave_size: 3                 # namespaces per default wave
      waves:                       # explicit waves per cluster (else label or risk order)
        prod: [[billing-sandbox], [shop, cart]]
      control_plane_wait_s: 300    # istiod Available and its webhook, or the stage fails
      rollout_wait_s: 600          # every pod of a wave on the new proxy and Ready, or fails
      bake_window_s: 600           # after the rollout: 5xx, p99, connection failures
      retire_wait_s: 86400         # after promote, before the old revision may be removed
      auto_advance: low-risk       # propose the next low-risk wave after a verified bake
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from bot.core.settings import Strict
from commands.install.model import InstallSettings
from commands.install.planning import REVISION


class InstallConfig(Strict):
    wave_size: int = Field(default=3, ge=1, le=100)
    waves: dict[str, tuple[tuple[str, ...], ...]] = Field(
        default_factory=dict, description="cluster → explicit namespace waves"
    )
    # floors: each wait is read again by the sweep, a wait below a second means nothing
    control_plane_wait_s: float = Field(default=300.0, ge=1, le=7200)
    rollout_wait_s: float = Field(default=600.0, ge=1, le=86400)
    bake_window_s: float = Field(default=600.0, ge=1, le=86400)
    bake_min_requests: float = Field(default=20.0, ge=0)
    error_ratio_factor: float = Field(default=2.0, ge=1)
    error_ratio_margin: float = Field(default=0.01, ge=0, le=1)
    p99_factor: float = Field(default=1.5, ge=1)
    p99_margin_ms: float = Field(default=25.0, ge=0)
    connection_failure_margin: float = Field(default=5.0, ge=0)
    retire_wait_s: float = Field(default=86400.0, ge=0)
    auto_advance: Literal["never", "low-risk"] = "never"
    low_risk_pods: int = Field(default=10, ge=0)
    low_risk_rps: float = Field(default=1.0, ge=0)
    helm_timeout_s: float = Field(default=300.0, ge=10, le=3600)

    @field_validator("waves")
    @classmethod
    def _namespaces(
        cls, value: dict[str, tuple[tuple[str, ...], ...]]
    ) -> dict[str, tuple[tuple[str, ...], ...]]:
        for cluster, waves in value.items():
            names = [n for wave in waves for n in wave]
            bad = [n for n in names if not REVISION.match(n)]
            if bad:
                raise ValueError(f"{cluster}: `{bad[0]}` is not a namespace name")
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"{cluster}: {', '.join(twice)} in more than one wave")
        return value

    def to_core(self) -> InstallSettings:
        return InstallSettings(
            wave_size=self.wave_size,
            waves=dict(self.waves),
            control_plane_wait_s=self.control_plane_wait_s,
            rollout_wait_s=self.rollout_wait_s,
            bake_window_s=self.bake_window_s,
            bake_min_requests=self.bake_min_requests,
            error_ratio_factor=self.error_ratio_factor,
            error_ratio_margin=self.error_ratio_margin,
            p99_factor=self.p99_factor,
            p99_margin_ms=self.p99_margin_ms,
            connection_failure_margin=self.connection_failure_margin,
            retire_wait_s=self.retire_wait_s,
            auto_advance=self.auto_advance,
            low_risk_pods=self.low_risk_pods,
            low_risk_rps=self.low_risk_rps,
            helm_timeout_s=self.helm_timeout_s,
        )
