"""The `preflight:` config section: defaults, thresholds and refusals at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[3]


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "meshbot.yaml"
    path.write_text(text)
    return load_settings(path, env={})


def test_defaults_and_overrides_reach_the_core_settings(tmp_path: Path) -> None:
    overlay = ROOT / "manifests/istio/ambient.yaml"
    settings = load(
        tmp_path,
        "preflight:\n  steal_warn_pct: 3\n  steal_fail_pct: 8\n"
        f"  instance_to_node: {{'10.0.0.1:9100': node-a}}\n  base_overlay: {overlay}\n",
    )
    core = settings.file.preflight.to_core()  # type: ignore[attr-defined]
    assert (core.steal_warn_pct, core.steal_fail_pct) == (3, 8)
    assert core.instance_to_node == {"10.0.0.1:9100": "node-a"}
    assert core.base_overlay["spec"]["profile"] == "ambient"
    default = load(tmp_path, "").file.preflight.to_core()  # type: ignore[attr-defined]
    assert (default.steal_warn_pct, default.steal_fail_pct, default.node_label) == (5, 10, "node")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("preflight: {steal_warn_pct: 20, steal_fail_pct: 10}", "steal_warn_pct"),
        ("preflight: {default_istio: '1.99'}", "1.99"),
        ("preflight: {base_overlay: /nonexistent.yaml}", "base_overlay"),
        ("preflight: {stael_warn_pct: 3}", "preflight.stael_warn_pct"),
    ],
)
def test_bad_preflight_config_is_refused_naming_the_field(
    tmp_path: Path, text: str, named: str
) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load(tmp_path, text)
