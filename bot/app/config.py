"""Settings: one YAML file for the shape of the deployment, the environment for secrets.

This is the only module that reads `os.environ`. Everything else receives a `Settings`
object, so tests build settings explicitly and two runtimes in one process never share
hidden state. A bad file is refused at start with the field and the reason.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from bot.changes.settings import ChangesConfig
from bot.preflight.settings import PreflightConfig
from bot.timeouts.settings import TimeoutsConfig
from bot.watch.settings import WatchersConfig

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class ConfigError(Exception):
    """The config file or environment is invalid; the message names the field and reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BasicAuth(_Strict):
    username: str
    password_env: str = Field(description="environment variable holding the password")


class PrometheusConfig(_Strict):
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


class ClusterConfig(_Strict):
    kubeconfig: Path | None = None
    context: str | None = None
    in_cluster: bool = False
    prometheus: PrometheusConfig | None = None
    oncall_channel: str | None = None
    channels: tuple[str, ...] = Field(
        default=(), description="channels that may run commands for this cluster; empty: any"
    )
    request_timeout_s: float = Field(default=10.0, gt=0, le=120)

    @model_validator(mode="after")
    def _one_source(self) -> ClusterConfig:
        if self.in_cluster and (self.kubeconfig or self.context):
            raise ValueError("in_cluster: true excludes kubeconfig and context")
        return self


class AccessConfig(_Strict):
    """Slack user ids (U…) and user-group handles (@handle) per role."""

    viewers: tuple[str, ...] = ()
    operators: tuple[str, ...] = ()
    approvers: tuple[str, ...] = ()
    default_role: Literal["none", "viewer", "operator"] = "none"


class RedisConfig(_Strict):
    key_prefix: str = Field(default="meshbot", pattern=r"^[A-Za-z0-9_.-]+$")
    data_dir: Path = Path("~/.local/share/meshbot")


class HealthConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8081, ge=0, le=65535)


class HttpConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=0, le=65535)
    threads: int = Field(default=16, ge=1, le=256)


class FileConfig(_Strict):
    clusters: dict[str, ClusterConfig] = Field(default_factory=dict)
    access: AccessConfig = AccessConfig()
    redis: RedisConfig = RedisConfig()
    health: HealthConfig = HealthConfig()
    http: HttpConfig = HttpConfig()
    changes: ChangesConfig = ChangesConfig()
    watchers: WatchersConfig = WatchersConfig()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    preflight: PreflightConfig = PreflightConfig()
    timeouts: TimeoutsConfig = TimeoutsConfig()

    @model_validator(mode="after")
    def _known_clusters(self) -> FileConfig:
        unknown = sorted(set(self.watchers.clusters) - set(self.clusters))
        if unknown:
            known = ", ".join(sorted(self.clusters)) or "none"
            raise ValueError(
                f"watchers.clusters names clusters that are not configured: "
                f"{', '.join(unknown)} (configured: {known})"
            )
        return self


class Secrets(BaseModel):
    model_config = ConfigDict(frozen=True)

    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    redis_url: SecretStr | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    prometheus: dict[str, SecretStr] = Field(default_factory=dict)


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    file: FileConfig
    secrets: Secrets
    source: str = "defaults"


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the file named by `path` or `MESHBOT_CONFIG` (none: defaults) and the secrets."""
    environ = os.environ if env is None else env
    chosen = path or environ.get("MESHBOT_CONFIG")
    file = _read_file(Path(chosen)) if chosen else FileConfig()
    secrets = _read_secrets(file, environ)
    return Settings(file=file, secrets=secrets, source=str(chosen) if chosen else "defaults")


def _read_file(path: Path) -> FileConfig:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, not {type(raw).__name__}")
    try:
        return FileConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid config:\n{_describe(exc)}") from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"  {field}: {error['msg']}")
    return "\n".join(lines)


def _read_secrets(file: FileConfig, environ: Mapping[str, str]) -> Secrets:
    def secret(name: str) -> SecretStr | None:
        value = environ.get(name, "").strip()
        return SecretStr(value) if value else None

    prometheus: dict[str, SecretStr] = {}
    for name, cluster in file.clusters.items():
        prom = cluster.prometheus
        if prom is None:
            continue
        env_name = prom.bearer_token_env or (
            prom.basic_auth.password_env if prom.basic_auth else None
        )
        if env_name:
            value = secret(env_name)
            if value is None:
                raise ConfigError(
                    f"clusters.{name}.prometheus: environment variable {env_name} is not set"
                )
            prometheus[name] = value
    api_url = environ.get("SLACK_API_URL", "").strip() or DEFAULT_SLACK_API_URL
    if not api_url.endswith("/"):
        api_url += "/"
    return Secrets(
        slack_bot_token=secret("SLACK_BOT_TOKEN"),
        slack_app_token=secret("SLACK_APP_TOKEN"),
        slack_signing_secret=secret("SLACK_SIGNING_SECRET"),
        redis_url=secret("REDIS_URL"),
        slack_api_url=api_url,
        prometheus=prometheus,
    )


def missing_slack_secrets(settings: Settings, http: bool) -> list[str]:
    """The environment variables `serve` needs that are not set."""
    needed = {"SLACK_BOT_TOKEN": settings.secrets.slack_bot_token}
    if http:
        needed["SLACK_SIGNING_SECRET"] = settings.secrets.slack_signing_secret
    else:
        needed["SLACK_APP_TOKEN"] = settings.secrets.slack_app_token
    return [name for name, value in needed.items() if value is None]
