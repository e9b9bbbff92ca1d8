"""The shipped example config is valid, and the Slack manifest asks for what we use."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.app.config import load_settings

ROOT = Path(__file__).resolve().parents[3]


def test_the_example_config_validates() -> None:
    settings = load_settings(
        ROOT / "manifests/meshbot.example.yaml", env={"PROM_PROD_EU_TOKEN": "t"}
    )
    assert "prod-eu" in settings.file.clusters


def test_the_slack_manifest_declares_the_command_interactivity_and_scopes() -> None:
    manifest = yaml.safe_load((ROOT / "manifests/slack-app.yaml").read_text())
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/mesh"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == [
        "chat:write",
        "commands",
        "files:write",
        "usergroups:read",
    ]
