"""A local Slack: Web API emulator, Socket Mode server and signed-request helpers.

Why this exists: no packaged Slack emulator exists, and tests must fail where Slack
would. ``SlackEmulator`` serves the Web API on 127.0.0.1 for
``slack_sdk.WebClient(base_url=emulator.api_url)``, a Socket Mode WebSocket for
``SocketModeHandler``, and response URLs; it records every call and enforces Slack's
message and Block Kit limits (see limits.py). signing.py signs requests into a Bolt app
in HTTP mode. Only tests and the CLI's local demo import this package.
"""

from bot.sandbox.slack.emulator import SlackEmulator, serve_forever
from bot.sandbox.slack.limits import Verdict, validate_message
from bot.sandbox.slack.records import Ack, Call, ResponsePost
from bot.sandbox.slack.signing import (
    SignedClient,
    block_actions_body,
    sign,
    slash_command_body,
    view_submission_body,
)
from bot.sandbox.slack.workspace import (
    Channel,
    Ephemeral,
    Message,
    UploadedFile,
    User,
    Usergroup,
    Workspace,
)

__all__ = [
    "Ack",
    "Call",
    "Channel",
    "Ephemeral",
    "Message",
    "ResponsePost",
    "SignedClient",
    "SlackEmulator",
    "UploadedFile",
    "User",
    "Usergroup",
    "Verdict",
    "Workspace",
    "block_actions_body",
    "serve_forever",
    "sign",
    "slash_command_body",
    "validate_message",
    "view_submission_body",
]
