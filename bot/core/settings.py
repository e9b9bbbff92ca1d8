"""The config every edge shares: clusters, access, Redis, health, HTTP, and the secrets.

Capability sections (`changes:`, `preflight:`, …) live with their capability
(bot/<capability>/settings.py) and the root that joins them is bot.app.config; the
shared parts live here so the Slack edge and the capabilities can read them without
knowing the root. `Strict` is the one base of every config model: unknown keys are
errors, values are frozen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class ConfigError(Exception):
    """The config file or environment is invalid; the message names the field and reason."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BasicAuth(Strict):
    username: str
    password_env: str = Field(description="environment variable holding the password")


class PrometheusConfig(Strict):
    url: str = Field(pattern=r"^https?://")
    bearer_token_env: str | None = None
    basic_auth: BasicAuth | None = None
    ca_file: Path | None = None
    tenant: str | None = Field(default=None, description="sent as X-Scope-OrgID")
    timeout_s: float = Field(default=10.0, gt=0, le=120)

    @model_validator(mode="after")
    def _one_auth(self) -> PrometheusConfig:
        if self.bearer_token_env and self.basic_auth:
            raise ValueError("use bearer_token_env or basic_auth, not both")
        return self


ISTIO_CHARTS = "https://istio-release.storage.googleapis.com/charts"


class ClusterInstallConfig(Strict):
    """Where `/mesh install` takes Istio's Helm charts from, for this cluster."""

    charts: str = Field(
        default=ISTIO_CHARTS,
        description=(
            "Istio's charts: a Helm repository (https://…), an OCI location (oci://…) or a "
            "local directory laid out <dir>/<version>/<chart>"
        ),
    )

    hub: str = Field(
        default="docker.io/istio",
        min_length=1,
        description="image registry for charts that name none (Istio's source-tree charts)",
    )

    @field_validator("charts")
    @classmethod
    def _a_chart_source(cls, value: str) -> str:
        value = value.strip()
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme in ("https", "http", "oci"):
            if not value.split("://", 1)[1].strip("/"):
                raise ValueError(f"{value!r} names no host")
            return value.rstrip("/")
        if scheme:
            raise ValueError(
                f"{value!r}: use an https:// Helm repository, an oci:// location or a directory"
            )
        if not Path(value).expanduser().is_dir():
            raise ValueError(f"{value!r} is not a directory (nor an https:// or oci:// URL)")
        return value


class ClusterConfig(Strict):
    kubeconfig: Path | None = None
    context: str | None = None
    in_cluster: bool = False
    prometheus: PrometheusConfig | None = None
    oncall_channel: str | None = None
    channels: tuple[str, ...] = Field(
        default=(), description="channels that may run commands for this cluster; empty: any"
    )
    request_timeout_s: float = Field(default=10.0, gt=0, le=120)
    command_deadline_s: float = Field(
        default=30.0, gt=0, le=600, description="all of one command's reads of this API server"
    )
    install: ClusterInstallConfig = ClusterInstallConfig()

    @model_validator(mode="after")
    def _one_source(self) -> ClusterConfig:
        if self.in_cluster and (self.kubeconfig or self.context):
            raise ValueError("in_cluster: true excludes kubeconfig and context")
        if self.command_deadline_s < self.request_timeout_s:
            raise ValueError(
                f"command_deadline_s ({self.command_deadline_s:g}) is shorter than "
                f"request_timeout_s ({self.request_timeout_s:g})"
            )
        return self


class AccessConfig(Strict):
    """Slack user ids (U…) and user-group handles (@handle) per role."""

    viewers: tuple[str, ...] = ()
    operators: tuple[str, ...] = ()
    approvers: tuple[str, ...] = ()
    default_role: Literal["none", "viewer", "operator"] = "none"


class RedisConfig(Strict):
    key_prefix: str = Field(default="meshbot", pattern=r"^[A-Za-z0-9_.-]+$")
    data_dir: Path = Path("~/.local/share/meshbot")


class HealthConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8081, ge=0, le=65535)


class HttpConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=0, le=65535)
    threads: int = Field(default=16, ge=1, le=256)


class CoreConfig(Strict):
    """The sections every edge reads; bot.app.config.FileConfig adds the capabilities'."""

    clusters: dict[str, ClusterConfig] = Field(default_factory=dict)
    access: AccessConfig = AccessConfig()
    redis: RedisConfig = RedisConfig()
    health: HealthConfig = HealthConfig()
    http: HttpConfig = HttpConfig()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Secrets(BaseModel):
    model_config = ConfigDict(frozen=True)

    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    redis_url: SecretStr | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    prometheus: dict[str, SecretStr] = Field(default_factory=dict)


class RuntimeSettings(Protocol):
    """What the edges read of the settings (bot.app.config.Settings provides it)."""

    @property
    def file(self) -> CoreConfig: ...

    @property
    def secrets(self) -> Secrets: ...
