"""The emulated workspace: team, users, usergroups, channels, messages, threads, files.

Why a separate module: the HTTP layer (server.py) and the method handlers (methods.py)
only translate requests; the state they act on, and the rules Slack applies to it
(``ts`` strings that are unique and increasing, replies that attach to the thread's
parent, ephemeral messages that belong to one user), live here, behind one lock, so
tests can read it while the app writes it from other threads.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class User:
    """A workspace member as ``users.info`` describes it."""

    id: str
    name: str
    is_admin: bool = False
    real_name: str = ""
    is_bot: bool = False
    tz: str = "UTC"

    def to_api(self, team_id: str) -> dict[str, Any]:
        real_name = self.real_name or self.name
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": False,
            "real_name": real_name,
            "tz": self.tz,
            "is_admin": self.is_admin,
            "is_owner": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "profile": {"real_name": real_name, "display_name": self.name, "team": team_id},
        }


@dataclass
class Usergroup:
    """A user group (``@handle``) with its Slack id (``S…``) and members."""

    id: str
    handle: str
    user_ids: list[str]
    name: str = ""

    def to_api(self, team_id: str, include_users: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "team_id": team_id,
            "handle": self.handle,
            "name": self.name or self.handle,
            "is_usergroup": True,
            "user_count": len(self.user_ids),
        }
        if include_users:
            data["users"] = list(self.user_ids)
        return data


@dataclass
class Channel:
    """A channel; ``members is None`` means every workspace user is a member."""

    id: str
    name: str
    members: set[str] | None = None
    is_im: bool = False

    def has_member(self, user_id: str) -> bool:
        return self.members is None or user_id in self.members


@dataclass
class Message:
    """A message in a channel. ``history`` keeps earlier versions replaced by edits."""

    channel: str
    ts: str
    text: str
    user: str
    blocks: list[Any] | None = None
    attachments: list[Any] | None = None
    thread_ts: str | None = None
    reply_broadcast: bool = False
    metadata: dict[str, Any] | None = None
    files: list[str] = field(default_factory=list)
    via: str = "chat.postMessage"
    edited: bool = False
    deleted: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_api(self, bot_id: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text}
        data["user"] = self.user
        if bot_id is not None:
            data["bot_id"] = bot_id
        if self.blocks is not None:
            data["blocks"] = self.blocks
        if self.attachments is not None:
            data["attachments"] = self.attachments
        if self.thread_ts is not None:
            data["thread_ts"] = self.thread_ts
        if self.metadata is not None:
            data["metadata"] = self.metadata
        if self.files:
            data["files"] = [{"id": file_id} for file_id in self.files]
        if self.edited:
            data["edited"] = {"user": self.user, "ts": self.history[-1]["edited_ts"]}
        return data


@dataclass
class Ephemeral:
    """An ephemeral message: seen by ``user`` only, never part of channel history."""

    channel: str
    user: str
    ts: str
    text: str
    blocks: list[Any] | None = None
    thread_ts: str | None = None
    via: str = "chat.postEphemeral"


@dataclass
class UploadedFile:
    """A file from the upload v2 flow: bytes arrive first, sharing completes it."""

    id: str
    name: str
    length: int
    data: bytes | None = None
    title: str | None = None
    alt_txt: str | None = None
    channels: list[str] = field(default_factory=list)
    thread_ts: str | None = None
    initial_comment: str | None = None
    completed: bool = False

    def to_api(self, base_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "title": self.title or self.name,
            "size": len(self.data or b""),
            "channels": list(self.channels),
            "url_private": f"{base_url}/files/{self.id}/{self.name}",
            "permalink": f"{base_url}/files/{self.id}",
        }


class TsClock:
    """Message timestamps like Slack's: ``"1732560000.000100"``, unique and increasing."""

    def __init__(self) -> None:
        self._last_us = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            now_us = int(time.time() * 1_000_000)
            self._last_us = max(now_us, self._last_us + 1)
            seconds, micros = divmod(self._last_us, 1_000_000)
            return f"{seconds}.{micros:06d}"


class Workspace:
    """All mutable workspace state. Every public method takes the lock."""

    def __init__(
        self,
        team_id: str = "T0MESH",
        team_name: str = "meshbot-test",
        domain: str = "meshbot-test",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        app_id: str = "A0MESH",
    ) -> None:
        self.team_id = team_id
        self.team_name = team_name
        self.domain = domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.lock = threading.RLock()
        self.clock = TsClock()
        self.users: dict[str, User] = {}
        self.usergroups: dict[str, Usergroup] = {}
        self.channels: dict[str, Channel] = {}
        self.messages: dict[str, list[Message]] = {}
        self.ephemerals: list[Ephemeral] = []
        self.files: dict[str, UploadedFile] = {}
        self.views: list[dict[str, Any]] = []  # modals opened with views.open, in order
        self._ids = 0
        self.add_user(bot_user_id, "meshbot", is_bot=True)

    def new_id(self, prefix: str) -> str:
        with self.lock:
            self._ids += 1
            return f"{prefix}{self._ids:08X}"

    # ---- set-up -----------------------------------------------------------------

    def add_user(
        self, user_id: str, name: str, *, is_admin: bool = False, real_name: str = "", **kw: Any
    ) -> User:
        with self.lock:
            user = User(user_id, name, is_admin=is_admin, real_name=real_name, **kw)
            self.users[user_id] = user
            return user

    def add_channel(self, channel_id: str, name: str, members: list[str] | None = None) -> Channel:
        with self.lock:
            channel = Channel(channel_id, name, None if members is None else set(members))
            self.channels[channel_id] = channel
            self.messages.setdefault(channel_id, [])
            return channel

    def add_usergroup(
        self, handle: str, user_ids: list[str], *, usergroup_id: str | None = None, name: str = ""
    ) -> Usergroup:
        with self.lock:
            group = Usergroup(usergroup_id or self.new_id("S"), handle.lstrip("@"), list(user_ids))
            group.name = name
            self.usergroups[group.id] = group
            return group

    # ---- look-ups ---------------------------------------------------------------

    def resolve_channel(self, ref: str) -> Channel | None:
        """A channel by id, by name or ``#name``, or a user id (opens the bot's DM)."""
        with self.lock:
            if ref in self.channels:
                return self.channels[ref]
            name = ref.lstrip("#")
            for channel in self.channels.values():
                if channel.name == name and not channel.is_im:
                    return channel
            if ref in self.users:
                dm_id = "D" + ref[1:]
                if dm_id not in self.channels:
                    self.add_channel(dm_id, ref, members=[ref, self.bot_user_id])
                    self.channels[dm_id].is_im = True
                return self.channels[dm_id]
            return None

    def find_message(self, channel_id: str, ts: str) -> Message | None:
        with self.lock:
            for message in self.messages.get(channel_id, []):
                if message.ts == ts and not message.deleted:
                    return message
            return None

    def channel_messages(self, channel_id: str) -> list[Message]:
        """Channel history: top-level messages and broadcast replies, oldest first."""
        with self.lock:
            return [
                m
                for m in self.messages.get(channel_id, [])
                if not m.deleted and (not m.is_reply or m.reply_broadcast)
            ]

    def thread_replies(self, channel_id: str, thread_ts: str) -> list[Message]:
        with self.lock:
            return [
                m
                for m in self.messages.get(channel_id, [])
                if not m.deleted and m.is_reply and m.thread_ts == thread_ts
            ]

    # ---- mutations --------------------------------------------------------------

    def post(
        self, channel_id: str, *, text: str, user: str | None = None, **fields: Any
    ) -> Message:
        """Append a message; a ``thread_ts`` naming a reply is moved to its parent."""
        with self.lock:
            thread_ts = fields.pop("thread_ts", None)
            if thread_ts is not None:
                parent = self.find_message(channel_id, thread_ts)
                if parent is not None and parent.is_reply:
                    thread_ts = parent.thread_ts
                if parent is not None and parent.thread_ts is None:
                    parent.thread_ts = parent.ts
            message = Message(
                channel=channel_id,
                ts=self.clock.next(),
                text=text,
                user=user or self.bot_user_id,
                thread_ts=thread_ts,
                **fields,
            )
            self.messages.setdefault(channel_id, []).append(message)
            return message

    def edit(self, message: Message, *, text: str, blocks: list[Any] | None, **extra: Any) -> None:
        with self.lock:
            message.history.append(
                {
                    "text": message.text,
                    "blocks": message.blocks,
                    "attachments": message.attachments,
                    "edited_ts": self.clock.next(),
                }
            )
            message.text = text
            message.blocks = blocks
            for key, value in extra.items():
                setattr(message, key, value)
            message.edited = True

    def post_ephemeral(self, channel_id: str, user: str, *, text: str, **fields: Any) -> Ephemeral:
        with self.lock:
            eph = Ephemeral(channel_id, user, self.clock.next(), text, **fields)
            self.ephemerals.append(eph)
            return eph
