"""One message (or ephemeral message) of the emulated workspace → its HTML, and the
ordered lists of them that make a channel and a thread as one user sees them.

Why this exists: the first page load and every live update render messages the same
way, so the page never shows two versions of one message. A message's DOM id is
stable across edits (``m-<ts>``), which is what lets an edit replace it in place; its
hash changes with anything visible (an edit, a new reply, a shared file). Pure apart
from reading the workspace under its lock.
"""

from __future__ import annotations

import hashlib
import html
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from bot.sandbox.slack.web.blocks import Users, blocks_html
from bot.sandbox.slack.web.mrkdwn import mrkdwn_to_html
from bot.sandbox.slack.workspace import Ephemeral, Message, UploadedFile, Workspace

_COLOURS = ("#2d6a4f", "#7b2cbf", "#bc4749", "#1d4e89", "#b5651d", "#3a5a40", "#6d597a")
Item = tuple[str, str, str]  # (dom id, hash, html)


@dataclass(frozen=True)
class View:
    """Who looks at what: the user, the channel, and the open thread (its parent ts)."""

    user: str
    channel: str
    thread: str | None = None

    def url(self, **changes: str | None) -> str:
        fields = {"as": self.user, "channel": self.channel, "thread": self.thread}
        fields.update(changes)
        return "/?" + urlencode({k: v for k, v in fields.items() if v})


def dom_id(ts: str, ephemeral: bool = False, thread: bool = False) -> str:
    """``m-<ts>`` (``e-`` for ephemerals; ``t`` in front inside the thread pane)."""
    return ("t" if thread else "") + ("e-" if ephemeral else "m-") + ts.replace(".", "-")


def clock(ts: str) -> str:
    return time.strftime("%H:%M", time.localtime(float(ts)))


def user_names(ws: Workspace) -> dict[str, str]:
    return {u.id: u.real_name or u.name for u in ws.users.values()}


def _avatar(name: str, user_id: str, bot: bool) -> str:
    colour = _COLOURS[sum(map(ord, user_id)) % len(_COLOURS)]
    shape = " bot" if bot else ""
    initial = html.escape(name[:1].upper() or "?")
    return (
        f'<div class="avatar{shape}" style="background:{colour}" aria-hidden="true">{initial}</div>'
    )


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB"


def file_html(upload: UploadedFile) -> str:
    href = html.escape(f"/files/{upload.id}/{upload.name}")
    title = html.escape(upload.title or upload.name)
    if upload.name.lower().endswith((".png", ".jpg", ".jpeg", ".gif", ".svg")):
        alt = html.escape(upload.alt_txt or upload.title or upload.name)
        return (
            f'<figure class="file image"><figcaption>{title}</figcaption>'
            f'<a href="{href}" target="_blank" rel="noopener"><img src="{href}" alt="{alt}" '
            f'title="{alt}"></a></figure>'
        )
    kind = upload.name.rsplit(".", 1)[-1].upper() if "." in upload.name else "FILE"
    return (
        f'<a class="file card" href="{href}" target="_blank" rel="noopener">'
        f'<span class="file-kind">{html.escape(kind[:4])}</span>'
        f'<span class="file-meta"><span class="file-title">{title}</span>'
        f'<span class="file-name">{html.escape(upload.name)} · {_size(len(upload.data or b""))}'
        f"</span></span></a>"
    )


def _content(text: str, blocks: list[object] | None, users: Users) -> str:
    if blocks:
        return blocks_html(list(blocks), users)
    return f'<div class="b b-section">{mrkdwn_to_html(text, users)}</div>' if text else ""


def message_html(ws: Workspace, item: Message | Ephemeral, view: View, in_thread: bool) -> str:
    """One message as `view.user` sees it (the caller holds ``ws.lock``)."""
    users = user_names(ws)
    ephemeral = isinstance(item, Ephemeral)
    author_id = ws.bot_user_id if ephemeral else item.user
    if ephemeral and item.via == "slackbot":
        author_id = "USLACKBOT"
    author = ws.users.get(author_id)
    name = (author.real_name or author.name) if author else author_id
    bot = bool(author and author.is_bot)
    badge = '<span class="app-badge">APP</span>' if bot and author_id == ws.bot_user_id else ""
    edited = ' <span class="edited">(edited)</span>' if getattr(item, "edited", False) else ""
    parts = [
        f'<div class="meta"><span class="name">{html.escape(name)}</span>{badge}'
        f'<time title="{html.escape(item.ts)}">{clock(item.ts)}</time>{edited}</div>',
        f'<div class="content">{_content(item.text, item.blocks, users)}</div>',
    ]
    if isinstance(item, Message):
        files = [ws.files[f] for f in item.files if f in ws.files and ws.files[f].completed]
        if files:
            parts.append('<div class="files">' + "".join(map(file_html, files)) + "</div>")
        if not in_thread and item.thread_ts == item.ts:
            replies = ws.thread_replies(item.channel, item.ts)
            if replies:
                word = "reply" if len(replies) == 1 else "replies"
                link = html.escape(view.url(thread=item.ts))
                parts.append(
                    f'<a class="replies" href="{link}" data-thread="{html.escape(item.ts)}">'
                    f"{len(replies)} {word}</a>"
                    f'<span class="last-reply">Last reply {clock(replies[-1].ts)}</span>'
                )
    else:
        parts.append('<div class="only-you">👁 Only visible to you</div>')
    css = "msg ephemeral" if ephemeral else "msg"
    ts = html.escape(item.ts)
    channel = html.escape(item.channel)
    return (
        f'<article class="{css}" id="{dom_id(item.ts, ephemeral, in_thread)}" data-ts="{ts}" '
        f'data-channel="{channel}">{_avatar(name, author_id, bot)}'
        f'<div class="body">{"".join(parts)}</div></article>'
    )


def _items(
    ws: Workspace, entries: list[Message | Ephemeral], view: View, thread: bool
) -> list[Item]:
    out = []
    for entry in sorted(entries, key=lambda e: float(e.ts)):
        markup = message_html(ws, entry, view, thread)
        digest = hashlib.sha1(markup.encode()).hexdigest()[:12]
        out.append((dom_id(entry.ts, isinstance(entry, Ephemeral), thread), digest, markup))
    return out


def channel_items(ws: Workspace, view: View) -> list[Item]:
    """The channel's history plus the user's own ephemerals outside threads."""
    with ws.lock:
        entries: list[Message | Ephemeral] = list(ws.channel_messages(view.channel))
        entries += [
            e
            for e in ws.ephemerals
            if e.channel == view.channel and e.user == view.user and e.thread_ts is None
        ]
        return _items(ws, entries, view, thread=False)


def thread_items(ws: Workspace, view: View) -> list[Item]:
    """The open thread: its parent, the replies, the user's ephemerals in it."""
    if view.thread is None:
        return []
    with ws.lock:
        parent = ws.find_message(view.channel, view.thread)
        if parent is None:
            return []
        entries: list[Message | Ephemeral] = [parent, *ws.thread_replies(view.channel, parent.ts)]
        entries += [
            e
            for e in ws.ephemerals
            if e.channel == view.channel and e.user == view.user and e.thread_ts == parent.ts
        ]
        return _items(ws, entries, view, thread=True)
