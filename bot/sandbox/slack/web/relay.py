"""What a person does in the browser workspace, delivered to the app as Slack delivers it.

Why this exists: the page is only a face. A typed ``/mesh …`` becomes the slash command
form body Slack sends, a click becomes a ``block_actions`` payload built from the
message as stored in the emulator (the button's value never comes from the page), each
with a fresh ``response_url`` on the emulator, signed with the app's signing secret
and POSTed to its request URL within Slack's 3 s — or pushed over Socket Mode when the
app is connected that way. What Slack shows when the app fails (``dispatch_failed``,
``operation_timeout``) is shown the same way: an ephemeral note from Slackbot.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx

from bot.sandbox.slack import payloads
from bot.sandbox.slack.signing import FORM, sign

if TYPE_CHECKING:
    from bot.sandbox.slack.emulator import SlackEmulator

log = logging.getLogger(__name__)
SLACKBOT = "USLACKBOT"
ACK_TIMEOUT_S = 3.0
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


class Refused(Exception):
    """The page asked for something Slack would not send (unknown message, not a button)."""


class AppRelay:
    """Signs and delivers slash commands and clicks to the app behind the emulator."""

    def __init__(self, emulator: SlackEmulator, commands: tuple[str, ...] = ("/mesh",)) -> None:
        self.emulator = emulator
        self.commands = commands
        self.request_url: str | None = None  # HTTP mode: the app's /slack/events
        self._http = httpx.Client(timeout=ACK_TIMEOUT_S, headers={"User-Agent": USER_AGENT})
        if SLACKBOT not in emulator.workspace.users:
            emulator.workspace.add_user(SLACKBOT, "slackbot", is_bot=True, real_name="Slackbot")

    def close(self) -> None:
        self._http.close()

    # ---- slash commands -----------------------------------------------------------------

    def slash_command(self, user_id: str, channel_id: str, line: str) -> None:
        command, _, text = line.strip().partition(" ")
        if command not in self.commands:
            self._slackbot(
                channel_id,
                user_id,
                f"`{command}` is not a valid command. In Slack, all messages that start "
                'with the "/" character are interpreted as commands.',
            )
            return
        ws = self.emulator.workspace
        user = ws.users[user_id]
        channel = ws.channels[channel_id]
        url = self.emulator.new_response_url(channel_id, user_id)
        fields = payloads.slash_command(
            command=command,
            text=text.strip(),
            user_id=user_id,
            user_name=user.name,
            channel_id=channel_id,
            channel_name=channel.name,
            response_url=url,
            team_id=ws.team_id,
            team_domain=ws.domain,
            api_app_id=ws.app_id,
        )
        if self.request_url is None:
            self._over_socket("slash_commands", fields, channel_id, user_id, command)
            return
        answer = self._post(urlencode(fields).encode(), channel_id, user_id, command)
        if answer is not None and answer.content.strip():
            self._show_ack_body(answer, channel_id, user_id)

    # ---- clicks ---------------------------------------------------------------------------

    def click(self, user_id: str, channel_id: str, ts: str, block: int, element: int) -> None:
        ws = self.emulator.workspace
        with ws.lock:
            message = ws.find_message(channel_id, ts)
            if message is None:
                raise Refused("message_not_found")
            found = _element(message.blocks, block, element)
            api_message = message.to_api(ws.bot_id)
            thread_ts = message.thread_ts if message.is_reply else None
        block_dict, button = found
        user = ws.users[user_id]
        payload = payloads.block_actions(
            action_id=str(button.get("action_id") or ""),
            value=button.get("value"),
            user_id=user_id,
            user_name=user.name,
            channel_id=channel_id,
            channel_name=ws.channels[channel_id].name,
            message_ts=ts,
            thread_ts=thread_ts,
            block_id=str(block_dict.get("block_id") or f"b{block}"),
            message=api_message,
            response_url=self.emulator.new_response_url(channel_id, user_id, ts),
            team_id=ws.team_id,
            team_domain=ws.domain,
            api_app_id=ws.app_id,
            action_text=str((button.get("text") or {}).get("text") or ""),
        )
        if self.request_url is None:
            self._over_socket("interactive", payload, channel_id, user_id, "the app")
            return
        body = urlencode({"payload": json.dumps(payload)}).encode()
        self._post(body, channel_id, user_id, "the app")

    # ---- delivery -------------------------------------------------------------------------

    def _post(self, body: bytes, channel_id: str, user_id: str, what: str) -> httpx.Response | None:
        assert self.request_url is not None
        headers = {"Content-Type": FORM, **sign(self.emulator.signing_secret, body)}
        started = time.monotonic()
        try:
            answer = self._http.post(self.request_url, content=body, headers=headers)
        except httpx.TimeoutException:
            self._failed(channel_id, user_id, what, "operation_timeout")
            return None
        except httpx.HTTPError as exc:
            log.warning("could not reach the app at %s: %s", self.request_url, exc)
            self._failed(channel_id, user_id, what, "dispatch_failed")
            return None
        if answer.status_code != 200:
            log.warning("the app answered HTTP %s to %s", answer.status_code, what)
            self._failed(channel_id, user_id, what, f"http_{answer.status_code}")
            return None
        log.debug("%s acked in %.0f ms", what, (time.monotonic() - started) * 1000)
        return answer

    def _over_socket(
        self, kind: str, payload: dict[str, Any], channel_id: str, user_id: str, what: str
    ) -> None:
        socket = self.emulator.socket
        if socket.connection_count == 0:
            self._failed(channel_id, user_id, what, "dispatch_failed")
            return
        socket.send_envelope(kind, payload, accepts_response_payload=kind == "slash_commands")

    def _show_ack_body(self, answer: httpx.Response, channel_id: str, user_id: str) -> None:
        """An ack with a body answers the command at once (ephemeral unless in_channel)."""
        ws = self.emulator.workspace
        try:
            data = answer.json()
        except ValueError:
            data = {"text": answer.text}
        if not isinstance(data, dict):
            data = {"text": str(data)}
        text, blocks = str(data.get("text") or ""), data.get("blocks")
        if data.get("response_type") == "in_channel":
            ws.post(channel_id, text=text, blocks=blocks, via="slash_ack")
        else:
            ws.post_ephemeral(channel_id, user_id, text=text, blocks=blocks, via="slash_ack")
        self.emulator.recorder.notify()

    def _failed(self, channel_id: str, user_id: str, what: str, error: str) -> None:
        self._slackbot(channel_id, user_id, f'{what} failed with the error "{error}"')

    def _slackbot(self, channel_id: str, user_id: str, text: str) -> None:
        self.emulator.workspace.post_ephemeral(channel_id, user_id, text=text, via="slackbot")
        self.emulator.recorder.notify()


def _element(
    blocks: list[Any] | None, block: int, element: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The block and button the page pointed at (element -1: a section's accessory)."""
    if not blocks or not 0 <= block < len(blocks) or not isinstance(blocks[block], dict):
        raise Refused("no_such_block")
    found = blocks[block]
    if element == -1:
        candidate = found.get("accessory")
    else:
        elements = found.get("elements") or []
        candidate = elements[element] if 0 <= element < len(elements) else None
    if not isinstance(candidate, dict) or candidate.get("type") != "button":
        raise Refused("not_a_button")
    return found, candidate
