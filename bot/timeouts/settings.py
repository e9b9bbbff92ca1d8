"""The `timeouts:` section of the config file, validated, and turned into core settings.

The apps' own timeouts are facts only the team knows (they live in application code),
so they are config — per calling service — or a `meshbot.io/app-timeout` annotation on
the workload. The margin rule and the amplification threshold are policy a team may
tune. A bad duration fails at start with the key and the reason.

    timeouts:
      app_timeouts:                # the client timeout each calling service's app uses
        checkout: 1.5s             # name, namespace/name or FQDN host
        shop/frontend: 3s
      amplification_threshold: 8   # report call paths whose stacked retries exceed 8x
      margin: {ratio: 0.25, min: 500ms, round_to: 100ms}  # mesh = app + max(min, app x ratio)
      per_try_p99_factor: 1.25     # suggested per-try timeouts sit this far above p99
      window: 5m                   # traffic window for the call graph and p99
      findings_ttl: 24h            # how long `timeouts fix ID` can use an audit's finding
      bake_window: 5m              # after apply: p99 and 5xx of the service vs before
      slow_p99: 1s                 # a route with no timeout is a warning once its p99 is this slow
      max_timeout: 24h             # `timeouts set` refuses longer timeouts and per-try timeouts
"""

from __future__ import annotations

from pydantic import Field, field_validator

from bot.core.settings import Strict
from commands.timeouts.durations import DurationError, parse_duration
from commands.timeouts.model import TimeoutsSettings


def _ms(value: str) -> int:
    try:
        return parse_duration(str(value))
    except DurationError as exc:
        raise ValueError(str(exc)) from None


class MarginConfig(Strict):
    ratio: float = Field(default=0.25, ge=0, le=10)
    min: str = "500ms"
    round_to: str = "100ms"

    @field_validator("min", "round_to")
    @classmethod
    def _duration(cls, value: str) -> str:
        _ms(value)
        return value


class TimeoutsConfig(Strict):
    app_timeouts: dict[str, str] = Field(
        default_factory=dict, description="calling service → its app's client timeout"
    )
    amplification_threshold: float = Field(default=8.0, gt=1)
    margin: MarginConfig = MarginConfig()
    per_try_p99_factor: float = Field(default=1.25, ge=1)
    window: str = Field(default="5m", pattern=r"^\d+(s|m|h)$")
    findings_ttl: str = "24h"
    bake_window: str = "5m"
    bake_min_requests: float = Field(default=50.0, ge=0)
    max_paths: int = Field(default=20, ge=1, le=200)
    annotation: str = "meshbot.io/app-timeout"
    slow_p99: str = "1s"
    max_timeout: str = "24h"

    @field_validator("app_timeouts")
    @classmethod
    def _app_durations(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            try:
                parse_duration(str(text))
            except DurationError as exc:
                raise ValueError(f"{key}: {exc}") from None
        return value

    @field_validator("findings_ttl", "bake_window", "slow_p99", "max_timeout")
    @classmethod
    def _duration(cls, value: str) -> str:
        _ms(value)
        return value

    def to_core(self) -> TimeoutsSettings:
        return TimeoutsSettings(
            app_timeouts_ms={k: _ms(v) for k, v in self.app_timeouts.items()},
            amplification_threshold=self.amplification_threshold,
            margin_ratio=self.margin.ratio,
            margin_min_ms=_ms(self.margin.min),
            round_to_ms=_ms(self.margin.round_to),
            per_try_p99_factor=self.per_try_p99_factor,
            window=self.window,
            findings_ttl_s=_ms(self.findings_ttl) / 1000,
            bake_window_s=_ms(self.bake_window) / 1000,
            bake_min_requests=self.bake_min_requests,
            max_paths=self.max_paths,
            annotation=self.annotation,
            slow_p99_ms=_ms(self.slow_p99),
            max_timeout_ms=_ms(self.max_timeout),
        )
