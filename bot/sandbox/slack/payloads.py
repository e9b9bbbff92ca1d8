"""The payloads Slack sends to an app: slash commands, block actions, view submissions.

Why this exists: the same payloads travel two ways — form-encoded and signed over HTTP
(signing.py) and inside Socket Mode envelopes (socket_mode.py) — so they are built once
here, with every field Slack sends, as plain dicts. Pure: ids and URLs come in as
arguments.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

DEFAULT_TEAM_ID = "T0MESH"
DEFAULT_TEAM_DOMAIN = "meshbot-test"
DEFAULT_APP_ID = "A0MESH"
VERIFICATION_TOKEN = "verification-token-unused"


def trigger_id() -> str:
    """A trigger id shaped like Slack's (digits.digits.hex)."""
    return f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}"


def slash_command(
    *,
    command: str = "/mesh",
    text: str = "",
    user_id: str = "U_ALICE",
    user_name: str = "alice",
    channel_id: str = "C_OPS",
    channel_name: str = "mesh-ops",
    response_url: str = "",
    team_id: str = DEFAULT_TEAM_ID,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    api_app_id: str = DEFAULT_APP_ID,
    trigger: str | None = None,
) -> dict[str, str]:
    """The fields of a slash command invocation (all strings, as Slack sends them)."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger or trigger_id(),
    }


def block_actions(
    *,
    action_id: str,
    value: str | None = None,
    user_id: str = "U_ALICE",
    user_name: str = "alice",
    channel_id: str = "C_OPS",
    channel_name: str = "mesh-ops",
    message_ts: str = "",
    thread_ts: str | None = None,
    block_id: str = "actions",
    message: dict[str, Any] | None = None,
    response_url: str = "",
    team_id: str = DEFAULT_TEAM_ID,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    api_app_id: str = DEFAULT_APP_ID,
    action_type: str = "button",
    action_text: str = "",
    trigger: str | None = None,
) -> dict[str, Any]:
    """A ``block_actions`` payload for one button click on a message."""
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel_id,
        "is_ephemeral": False,
    }
    if thread_ts is not None:
        container["thread_ts"] = thread_ts
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id,
        "type": action_type,
        "action_ts": f"{time.time():.6f}",
    }
    if value is not None:
        action["value"] = value
    if action_type == "button":
        action["text"] = {"type": "plain_text", "text": action_text or action_id, "emoji": True}
    if message is None:
        message = {"type": "message", "ts": message_ts, "text": ""}
        if thread_ts is not None:
            message["thread_ts"] = thread_ts
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger or trigger_id(),
        "team": {"id": team_id, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name},
        "message": message,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }


def view_submission(
    *,
    callback_id: str,
    values: dict[str, dict[str, Any]] | None = None,
    private_metadata: str = "",
    user_id: str = "U_ALICE",
    user_name: str = "alice",
    team_id: str = DEFAULT_TEAM_ID,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    api_app_id: str = DEFAULT_APP_ID,
    view_id: str = "V0MESH",
) -> dict[str, Any]:
    """A ``view_submission`` payload; ``values`` is ``{block_id: {action_id: value}}``."""
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": team_domain},
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id(),
        "view": {
            "id": view_id,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "team_id": team_id,
            "app_id": api_app_id,
            "blocks": [],
            "state": {"values": values or {}},
            "hash": uuid.uuid4().hex[:16],
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
