"""Settings: one YAML file for the shape of the deployment, the environment for secrets.

This is the only module that reads `os.environ`. Everything else receives a `Settings`
object, so tests build settings explicitly and two runtimes in one process never share
hidden state. A bad file is refused at start with the field and the reason.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, model_validator

from bot.changes.settings import ChangesConfig
from bot.core.settings import (
    DEFAULT_SLACK_API_URL,
    ClusterConfig,
    ConfigError,
    CoreConfig,
    Secrets,
)
from bot.install.settings import InstallConfig
from bot.preflight.settings import PreflightConfig
from bot.timeouts.settings import TimeoutsConfig
from bot.watch.settings import WatchersConfig

__all__ = ["ClusterConfig", "ConfigError", "FileConfig", "Settings", "load_settings"]


class FileConfig(CoreConfig):
    """The whole file: the shared sections and each capability's."""

    changes: ChangesConfig = ChangesConfig()
    watchers: WatchersConfig = WatchersConfig()
    preflight: PreflightConfig = PreflightConfig()
    timeouts: TimeoutsConfig = TimeoutsConfig()
    install: InstallConfig = InstallConfig()

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


# pydantic's wording for the errors people make most, said for a YAML file instead.
_PLAIN = {
    "path_type": "must be a file path (text, e.g. ~/.kube/config), not {input}",
    "extra_forbidden": "unknown key (a typo? see manifests/meshbot.example.yaml)",
    "int_parsing": "must be a whole number, not {input}",
    "bool_parsing": "must be true or false, not {input}",
    "dict_type": "must be a mapping of `key: value` lines, not {input}",
    "string_type": "must be text, not {input}",
}


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "(top level)"
        plain = _PLAIN.get(error["type"])
        message = plain.format(input=_shown(error.get("input"))) if plain else error["msg"]
        if error["type"] == "extra_forbidden":
            message = _unknown_key(error["loc"]) or message
        lines.append(f"  {field}: {message}")
    return "\n".join(lines)


def _unknown_key(loc: tuple[int | str, ...]) -> str | None:
    """`unknown key; did you mean `context`? (keys here: …)` for a typo in the file."""
    model: Any = FileConfig
    for part in loc[:-1]:
        model = _inner(model, part)
        if model is None:
            return None
    keys = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), keys, n=1)
    hint = f"; did you mean `{close[0]}`?" if close else ""
    return f"unknown key{hint} (keys here: {', '.join(keys)})"


def _inner(model: Any, part: int | str) -> Any:
    """The model one step down `loc`: a field's model, or a mapping's / list's item."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        field = model.model_fields.get(str(part))
        return None if field is None else _unwrap(field.annotation)
    args = [a for a in get_args(model) if a is not Ellipsis]
    return _unwrap(args[-1]) if args else None


def _unwrap(annotation: Any) -> Any:
    """`X | None` → X; containers are left for the next step."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, UnionType) and len(args) == 1:
        return args[0]
    return annotation


def _shown(value: object) -> str:
    text = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
    return f"`{text[:60]}`"


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
        redis_url=_redis_url(secret("REDIS_URL")),
        slack_api_url=api_url,
        prometheus=prometheus,
    )


def _redis_url(value: SecretStr | None) -> SecretStr | None:
    """REDIS_URL must be a URL redis-py accepts; the message never repeats it (passwords)."""
    if value is None:
        return None
    try:
        parts = urlsplit(value.get_secret_value())
        ok = parts.scheme == "unix" and bool(parts.path)
        if parts.scheme in {"redis", "rediss", "redis+cluster", "rediss+cluster"}:
            _ = parts.port  # a port that is not a number raises here
            database = parts.path.strip("/")
            ok = bool(parts.hostname) and (database == "" or database.isdigit())
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(
            "REDIS_URL is not a Redis URL: use redis://[:PASSWORD@]HOST[:6379][/DB], "
            "rediss://… for TLS or unix:///path/to/redis.sock, or unset it to use the "
            "embedded server"
        )
    return value


def missing_slack_secrets(settings: Settings, http: bool) -> list[str]:
    """The environment variables `serve` needs that are not set."""
    needed = {"SLACK_BOT_TOKEN": settings.secrets.slack_bot_token}
    if http:
        needed["SLACK_SIGNING_SECRET"] = settings.secrets.slack_signing_secret
    else:
        needed["SLACK_APP_TOKEN"] = settings.secrets.slack_app_token
    return [name for name, value in needed.items() if value is None]
