"""Web API method handlers: one function per Slack method the bot uses.

Why this exists: server.py turns HTTP into ``(method, params, token)`` and back; the
behaviour of each method — its arguments, its Slack error names, its effect on the
workspace — is here, one small function each, so adding a method is adding a function
to ``METHODS``. A handler returns the success body or raises ``SlackError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from bot.sandbox.slack.limits import validate_message
from bot.sandbox.slack.workspace import Channel, Message, UploadedFile, Workspace


class SlackError(Exception):
    """A Slack API error: the body is ``{"ok": false, "error": error, **extra}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.body: dict[str, Any] = {"ok": False, "error": error, **extra}


class Host(Protocol):
    """What handlers need from the emulator around them."""

    workspace: Workspace
    strict_fallback_text: bool

    @property
    def url(self) -> str: ...

    def open_socket_url(self) -> str: ...


Handler = Callable[[Host, dict[str, Any]], dict[str, Any]]

# Methods that take the app-level (xapp-) token; every other method takes the bot token.
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


# ---- argument helpers ----------------------------------------------------------------


def _arg(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        messages = [f"[ERROR] missing required field: {name}"]
        raise SlackError("invalid_arguments", response_metadata={"messages": messages})
    return value


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def _json_field(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError as exc:
            error = "invalid_blocks_format" if name == "blocks" else "invalid_arguments"
            raise SlackError(error) from exc
    return value


def _channel(host: Host, params: dict[str, Any], name: str = "channel") -> Channel:
    channel = host.workspace.resolve_channel(str(_arg(params, name)))
    if channel is None:
        raise SlackError("channel_not_found")
    return channel


def _content(host: Host, params: dict[str, Any]) -> tuple[str, Any, Any, list[str]]:
    """Validated ``(text, blocks, attachments, warnings)`` of a message, or SlackError."""
    blocks = _json_field(params, "blocks")
    attachments = _json_field(params, "attachments")
    text = params.get("text") or ""
    verdict = validate_message(
        text, blocks, attachments, strict_fallback_text=host.strict_fallback_text
    )
    if not verdict.ok:
        body = verdict.to_response()
        raise SlackError(body.pop("error"), **{k: v for k, v in body.items() if k != "ok"})
    return str(text), blocks, attachments, verdict.warnings


def _with_warnings(body: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    if warnings:
        body["warning"] = ",".join(warnings)
        body["response_metadata"] = {"warnings": list(warnings)}
    return body


def _message_api(host: Host, message: Message) -> dict[str, Any]:
    data = message.to_api(host.workspace.bot_id)
    data["team"] = host.workspace.team_id
    return data


# ---- auth and connections --------------------------------------------------------------


def auth_test(host: Host, params: dict[str, Any]) -> dict[str, Any]:
    ws = host.workspace
    return {
        "ok": True,
        "url": f"https://{ws.domain}.slack.com/",
        "team": ws.team_name,
        "user": ws.users[ws.bot_user_id].name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def api_test(host: Host, params: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "args": {k: v for k, v in params.items() if k != "token"}}


def apps_connections_open(host: Host, params: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "url": host.open_socket_url()}


# ---- chat -------------------------------------------------------------------------------


def chat_post_message(host: Host, params: dict[str, Any]) -> dict[str, Any]:
    channel = _channel(host, params)
    text, blocks, attachments, warnings = _content(host, params)
    ws = host.workspace
    thread_ts = params.get("thread_ts") or None
    with ws.lock:
        if thread_ts is not None and ws.find_message(channel.id, str(thread_ts)) is None:
            # Stricter than Slack, which may post a bogus thread_ts as a broken reply.
            raise SlackError("thread_not_found")
        message = ws.post(
            channel.id,
            text=text,
            blocks=blocks,
            attachments=attachments,
            thread_ts=thread_ts,
            reply_broadcast=_bool(params.get("reply_broadcast")),
            metadata=_json_field(params, "metadata"),
        )
    body = {"ok": True, "channel": channel.id, "ts": message.ts}
    body["message"] = _message_api(host, message)
    return _with_warnings(body, warnings)


def chat_update(host: Host, params: dict[str, Any]) -> dict[str, Any]:
    channel = _channel(host, params)
    ts = str(_arg(params, "ts"))
    text, blocks, attachments, warnings = _content(host, params)
    ws = host.workspace
    with ws.lock:
        message = ws.find_message(channel.id, ts)
        if message is None:
            raise SlackError("message_not_found")
        if message.user != ws.bot_user_id:
            raise SlackError("cant_update_message")
        extra: dict[str, Any] = {}
        if attachments is not None:
            extra["attachments"] = attachments
        ws.edit(message, text=text, blocks=blocks, **extra)
    body = {"ok": True, "channel": channel.id, "ts": ts, "text": text}
    body["message"] = _message_api(host, message)
    return _with_warnings(body, warnings)


def chat_delete(host: Host, params: dict[str, Any]) -> dict[str, Any]:
    channel = _channel(host, params)
    ts = str(_arg(params, "ts"))
    ws = host.workspace
    with ws.lock:
        message = ws.find_message(channel.id, ts)
        if message is None:
            raise SlackError("message_not_found")
        if message.user != ws.bot_user_id:
            raise SlackError("cant_delete_message")
        message.deleted = True
    return {"ok": True, "channel": channel.id, "ts": ts}


def chat_post_ephemeral(host: Host, params: dict[str, Any]) -> dict[str, Any]:
    channel = _channel(host, params)
    user = str(_arg(params, "user"))
    text, blocks, _attachments, warnings = _content(host, params)
    ws = host.workspace
    if user not in ws.users:
        raise SlackError("user_not_found")
    if not channel.has_member(user):
        raise SlackError("user_not_in_channel")
    eph = ws.post_ephemeral(
        channel.id, user, text=text, blocks=blocks, thread_ts=params.get("thread_ts") or None
    )
    return _with_warnings({"ok": True, "message_ts": eph.ts}, warnings)


def chat_get_permalink(host: Host, params: dict[str, Any]) -> dict[str, Any]:
    channel = _channel(host, params)
    ts = str(_arg(params, "message_ts"))
    message = host.workspace.find_message(channel.id, ts)
    if message is None:
        raise SlackError("message_not_found")
    link = f"https://{host.workspace.domain}.slack.com/archives/{channel.id}/p{ts.replace('.', '')}"
    if message.is_reply:
        link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
    return {"ok": True, "channel": channel.id, "permalink": link}


def conversations_history(host: Host, params: dict[str, Any]) -> dict[str, Any]:
    channel = _channel(host, params)
    messages = host.workspace.channel_messages(channel.id)
    return {
        "ok": True,
        "messages": [_message_api(host, m) for m in reversed(messages)],
        "has_more": False,
    }


def conversations_replies(host: Host, params: dict[str, Any]) -> dict[str, Any]:
    channel = _channel(host, params)
    ts = str(_arg(params, "ts"))
    ws = host.workspace
    parent = ws.find_message(channel.id, ts)
    if parent is None:
        raise SlackError("thread_not_found")
    root = parent.thread_ts or parent.ts
    head = ws.find_message(channel.id, root) or parent
    thread = [head, *ws.thread_replies(channel.id, root)]
    return {"ok": True, "messages": [_message_api(host, m) for m in thread], "has_more": False}


# ---- users and groups --------------------------------------------------------------------


def users_info(host: Host, params: dict[str, Any]) -> dict[str, Any]:
    user = host.workspace.users.get(str(_arg(params, "user")))
    if user is None:
        raise SlackError("user_not_found")
    return {"ok": True, "user": user.to_api(host.workspace.team_id)}


def usergroups_list(host: Host, params: dict[str, Any]) -> dict[str, Any]:
    ws = host.workspace
    include = _bool(params.get("include_users"))
    groups = [g.to_api(ws.team_id, include) for g in ws.usergroups.values()]
    return {"ok": True, "usergroups": groups}


def usergroups_users_list(host: Host, params: dict[str, Any]) -> dict[str, Any]:
    group = host.workspace.usergroups.get(str(_arg(params, "usergroup")))
    if group is None:
        raise SlackError("no_such_subteam")
    return {"ok": True, "users": list(group.user_ids)}


# ---- files (upload v2) ------------------------------------------------------------------


def files_get_upload_url_external(host: Host, params: dict[str, Any]) -> dict[str, Any]:
    filename = str(_arg(params, "filename"))
    try:
        length = int(_arg(params, "length"))
    except ValueError as exc:
        raise SlackError("invalid_arguments") from exc
    ws = host.workspace
    upload = UploadedFile(ws.new_id("F"), filename, length, alt_txt=params.get("alt_txt"))
    with ws.lock:
        ws.files[upload.id] = upload
    return {"ok": True, "upload_url": f"{host.url}/upload/{upload.id}", "file_id": upload.id}


def files_complete_upload_external(host: Host, params: dict[str, Any]) -> dict[str, Any]:
    entries = _json_field(params, "files")
    if not isinstance(entries, list) or not entries:
        raise SlackError("invalid_arguments")
    ws = host.workspace
    channel_ids: list[str] = []
    for key in ("channel_id", "channels"):
        for ref in str(params.get(key) or "").split(","):
            if ref.strip():
                channel = ws.resolve_channel(ref.strip())
                if channel is None:
                    raise SlackError("channel_not_found")
                channel_ids.append(channel.id)
    thread_ts = params.get("thread_ts") or None
    if thread_ts is not None and len(channel_ids) != 1:
        raise SlackError("invalid_arguments")
    with ws.lock:
        uploads = []
        for entry in entries:
            upload = ws.files.get(str(entry.get("id")))
            if upload is None or upload.data is None:
                raise SlackError("file_not_found")
            uploads.append((upload, entry))
        for channel_id in channel_ids:
            if thread_ts is not None and ws.find_message(channel_id, thread_ts) is None:
                raise SlackError("thread_not_found")
        for upload, entry in uploads:
            upload.title = entry.get("title") or upload.name
            upload.channels = channel_ids
            upload.thread_ts = thread_ts
            upload.initial_comment = params.get("initial_comment")
            upload.completed = True
        for channel_id in channel_ids:
            ws.post(
                channel_id,
                text=str(params.get("initial_comment") or ""),
                thread_ts=thread_ts,
                files=[upload.id for upload, _ in uploads],
                via="files.completeUploadExternal",
            )
    return {"ok": True, "files": [u.to_api(host.url) for u, _ in uploads]}


def files_info(host: Host, params: dict[str, Any]) -> dict[str, Any]:
    upload = host.workspace.files.get(str(_arg(params, "file")))
    if upload is None or not upload.completed:
        raise SlackError("file_not_found")
    return {"ok": True, "file": upload.to_api(host.url)}


def files_upload(host: Host, params: dict[str, Any]) -> dict[str, Any]:
    raise SlackError("method_deprecated")


def views_open(host: Host, params: dict[str, Any]) -> dict[str, Any]:
    """Open a modal: kept in ``workspace.views`` (a test submits it with a signed
    ``view_submission``); Slack refuses a view without a type, title or callback."""
    _arg(params, "trigger_id")
    view = _arg(params, "view")
    if isinstance(view, str):
        try:
            view = json.loads(view)
        except json.JSONDecodeError:
            raise SlackError("invalid_arguments") from None
    if not isinstance(view, dict) or view.get("type") != "modal" or not view.get("title"):
        raise SlackError("invalid_arguments")
    ws = host.workspace
    with ws.lock:
        opened = {**view, "id": ws.new_id("V"), "app_id": ws.app_id, "team_id": ws.team_id}
        ws.views.append(opened)
    return {"ok": True, "view": opened}


METHODS: dict[str, Handler] = {
    "api.test": api_test,
    "auth.test": auth_test,
    "apps.connections.open": apps_connections_open,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.delete": chat_delete,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.getPermalink": chat_get_permalink,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "users.info": users_info,
    "usergroups.list": usergroups_list,
    "usergroups.users.list": usergroups_users_list,
    "files.getUploadURLExternal": files_get_upload_url_external,
    "files.completeUploadExternal": files_complete_upload_external,
    "files.info": files_info,
    "files.upload": files_upload,
    "views.open": views_open,
}


def dispatch(
    host: Host, method: str, params: dict[str, Any], token: str | None, tokens: dict[str, str]
) -> dict[str, Any]:
    """Check the token, run the handler, and return Slack's JSON body (ok or not)."""
    handler = METHODS.get(method)
    if handler is None:
        return {"ok": False, "error": "unknown_method", "req_method": method}
    if method == "api.test":
        return handler(host, params)
    if not token:
        return {"ok": False, "error": "not_authed"}
    kind = tokens.get(token)
    if kind is None:
        return {"ok": False, "error": "invalid_auth"}
    wanted = "app" if method in APP_TOKEN_METHODS else "bot"
    if kind != wanted:
        return {"ok": False, "error": "not_allowed_token_type"}
    try:
        return handler(host, params)
    except SlackError as exc:
        return exc.body
