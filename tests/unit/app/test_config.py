"""Config validation: a bad file is refused with the field and the reason; secrets from env."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app.config import ConfigError, load_settings, missing_slack_secrets

GOOD = """
clusters:
  prod:
    kubeconfig: /etc/kube/config
    context: prod-eu
    oncall_channel: C0ONCALL
    channels: [C0OPS]
    prometheus:
      url: https://prometheus.example:9090
      bearer_token_env: PROM_TOKEN
      tenant: team-a
access:
  approvers: ["@mesh-approvers", U0BOB]
  operators: [U0ALICE]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "meshbot.yaml"
    path.write_text(text)
    return path


def test_a_good_file_and_its_secrets_load(tmp_path: Path) -> None:
    env = {"PROM_TOKEN": "t0ken", "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_API_URL": "http://x/api"}
    settings = load_settings(write(tmp_path, GOOD), env=env)
    prod = settings.file.clusters["prod"]
    assert prod.context == "prod-eu" and prod.prometheus and prod.prometheus.tenant == "team-a"
    assert settings.secrets.prometheus["prod"].get_secret_value() == "t0ken"
    assert settings.secrets.slack_api_url == "http://x/api/"
    assert "t0ken" not in repr(settings)
    assert missing_slack_secrets(settings, http=False) == ["SLACK_APP_TOKEN"]
    assert missing_slack_secrets(settings, http=True) == ["SLACK_SIGNING_SECRET"]


def test_the_file_comes_from_meshbot_config_when_no_path_is_given(tmp_path: Path) -> None:
    path = write(tmp_path, "access: {viewers: [U1]}\n")
    settings = load_settings(env={"MESHBOT_CONFIG": str(path)})
    assert settings.file.access.viewers == ("U1",)
    assert load_settings(env={}).source == "defaults"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "clusters: {prod: {kubeconfg: /x}}",
            "clusters.prod.kubeconfg: Extra inputs are not permitted",
        ),
        (
            "clusters: {prod: {prometheus: {url: ftp://x}}}",
            "clusters.prod.prometheus.url: String should match",
        ),
        (
            "access: {default_role: admin}",
            "access.default_role: Input should be 'none', 'viewer' or 'operator'",
        ),
        (
            "clusters: {p: {in_cluster: true, context: c}}",
            "clusters.p: Value error, in_cluster: true excludes",
        ),
        ("health: {port: 70000}", "health.port: Input should be less than or equal to 65535"),
        ("- just\n- a list", "the top level must be a mapping"),
        ("clusters: [unclosed", "not valid YAML"),
        (
            "clusters: {prod: {}}\nwatchers: {clusters: {prd: {enabled: false}}}",
            "watchers.clusters names clusters that are not configured: prd (configured: prod)",
        ),
    ],
)
def test_a_bad_file_names_the_field_and_the_reason(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), env={})
    assert message in str(caught.value)


def test_a_missing_secret_variable_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PROM_TOKEN is not set"):
        load_settings(write(tmp_path, GOOD), env={})


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_settings(tmp_path / "nope.yaml", env={})


@pytest.mark.parametrize(
    "url", ["notaurl", "http://redis:6379", "redis:///0", "redis://host:port/0", "redis://h/db1"]
)
def test_a_redis_url_that_is_not_one_is_refused_without_repeating_it(url: str) -> None:
    with pytest.raises(ConfigError, match="REDIS_URL is not a Redis URL: use redis://") as error:
        load_settings(env={"REDIS_URL": url})
    assert url not in str(error.value)


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "redis://:pw@redis", "rediss://h:6380/2", "unix:///r.sock"]
)
def test_redis_urls_redis_py_accepts_load(url: str) -> None:
    settings = load_settings(env={"REDIS_URL": url})
    assert settings.secrets.redis_url is not None
