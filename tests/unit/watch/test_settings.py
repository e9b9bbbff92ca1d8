"""The `watchers:` config: seconds become cycles, nonsense fails with the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app.config import ConfigError, load_settings
from bot.watch.settings import WatchersConfig, WatchServices


def test_for_seconds_become_whole_cycles_and_per_cluster_blocks_replace() -> None:
    config = WatchersConfig.model_validate(
        {
            "cycle_s": 30,
            "latency": {"default_ms": 400, "for_s": 90},
            "steal": {"for_s": 100},
            "clusters": {"prod": {"latency": {"default_ms": 250, "for_s": 10}}},
        }
    )
    policies = WatchServices(config, {"prod": "C1", "dev": "C2", "nochan": None}).policies()
    assert set(policies) == {"prod", "dev"}  # no on-call channel: not watched
    assert policies["dev"].latency is not None and policies["dev"].latency.spec.for_cycles == 3
    assert policies["dev"].steal is not None and policies["dev"].steal.spec.for_cycles == 4
    assert policies["prod"].latency is not None
    assert policies["prod"].latency.default_ms == 250
    assert policies["prod"].latency.spec.for_cycles == 1
    assert policies["prod"].claim_timeout_s == 30  # 2 x the lease TTL


@pytest.mark.parametrize(
    ("yaml", "field"),
    [
        ("watchers: {steal: {warn_pct: 30, critical_pct: 20}}", "watchers.steal"),
        ("watchers: {latency: {factor: 2}}", "watchers.latency"),
        ("watchers: {steal: {node_label: instance}}", "watchers.steal"),
        ("watchers: {runbooks: {latency: ftp://x}}", "watchers"),
        ("watchers: {cycle_s: 0}", "watchers.cycle_s"),
        ("watchers: {cycle_s: 0.001}", "watchers.cycle_s"),
        ("watchers: {lease_ttl_s: 1}", "watchers.lease_ttl_s"),
        ("watchers: {cycle_s: 5, lease_ttl_s: 120}", "lease_ttl_s 120 s is too long"),
        ("watchers: {renotify_s: 1}", "watchers.renotify_s"),
    ],
)
def test_a_bad_watchers_section_fails_at_start_with_the_field(
    tmp_path: Path, yaml: str, field: str
) -> None:
    path = tmp_path / "meshbot.yaml"
    path.write_text(yaml)
    with pytest.raises(ConfigError) as error:
        load_settings(path, env={})
    assert field in str(error.value)
