"""The page shell and sidebar of the browser workspace (server-rendered HTML).

Why this exists: the first paint is plain HTML from the server — channels, the open
channel's messages, the open thread, the composer and the user switcher — so the page
works and reads well before (and without) any script; app.js only keeps it live and
sends what the person does. Pure: everything it shows comes in as arguments.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass

from bot.sandbox.slack.web.messages import Item, View


@dataclass(frozen=True)
class Persona:
    """A workspace member to look through, with the role the app gives them."""

    user_id: str
    name: str
    role: str


@dataclass(frozen=True)
class CommandHint:
    """One line of the composer's command list: usage, summary and the role it needs."""

    name: str
    usage: str
    summary: str
    role: str


@dataclass(frozen=True)
class ChannelLink:
    id: str
    name: str
    unread: int
    topic: str = ""


def items_html(items: Sequence[Item]) -> str:
    return "".join(
        markup.replace("<article ", f'<article data-h="{h}" ', 1) for _, h, markup in items
    )


def sidebar_html(channels: Sequence[ChannelLink], view: View) -> str:
    rows = []
    for channel in channels:
        current = " current" if channel.id == view.channel else ""
        unread = " unread" if channel.unread and not current else ""
        badge = f'<span class="badge">{channel.unread}</span>' if unread else ""
        href = html.escape(view.url(channel=channel.id, thread=None))
        channel_id = html.escape(channel.id)
        rows.append(
            f'<a class="chan{current}{unread}" href="{href}" data-channel="{channel_id}">'
            f'<span class="hash">#</span>{html.escape(channel.name)}{badge}</a>'
        )
    return '<div class="side-title">Channels</div>' + "".join(rows)


def _switcher(personas: Sequence[Persona], view: View) -> str:
    options = "".join(
        f'<option value="{html.escape(p.user_id)}"{" selected" if p.user_id == view.user else ""}>'
        f"{html.escape(p.name)} · {html.escape(p.role)}</option>"
        for p in personas
    )
    return (
        '<label class="switch"><span class="switch-label">Viewing as</span>'
        f'<select id="as" aria-label="Viewing as">{options}</select></label>'
    )


@dataclass(frozen=True)
class PageParts:
    title: str
    view: View
    channel: ChannelLink
    channels: Sequence[ChannelLink]
    personas: Sequence[Persona]
    commands: Sequence[CommandHint]
    slash: str
    messages: Sequence[Item]
    thread: Sequence[Item]


def _script_json(data: object) -> str:
    """JSON safe inside a <script> element (no tag can close it early)."""
    text = json.dumps(data)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page_html(p: PageParts) -> str:
    view = p.view
    config = {
        "as": view.user,
        "channel": view.channel,
        "thread": view.thread,
        "slash": p.slash,
        "commands": [
            {"name": c.name, "usage": c.usage, "summary": c.summary, "role": c.role}
            for c in p.commands
        ],
    }
    thread_hidden = "" if view.thread else " hidden"
    close = html.escape(view.url(thread=None))
    name = html.escape(p.channel.name)
    topic = html.escape(p.channel.topic)
    body_class = "has-thread" if view.thread else ""
    empty = "" if p.thread or not view.thread else '<p class="empty">This thread is gone.</p>'
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>#{name} · {html.escape(p.title)}</title>
<link rel="stylesheet" href="/ui/static/style.css">
</head>
<body class="{body_class}">
<header class="topbar">
  <button type="button" class="menu" id="menu" aria-label="Channels"
    aria-expanded="false">☰</button>
  <span class="workspace">{html.escape(p.title)}</span>
  {_switcher(p.personas, view)}
</header>
<div class="layout">
  <nav class="sidebar" id="sidebar" aria-label="Channels">{sidebar_html(p.channels, view)}</nav>
  <main class="channel" aria-label="#{name}">
    <div class="channel-head"><h1><span class="hash">#</span>{name}</h1>
      <span class="topic">{topic}</span></div>
    <div class="messages" id="messages" aria-live="polite">{items_html(p.messages)}</div>
    <form class="composer" id="composer" autocomplete="off">
      <ul class="hints" id="hints" role="listbox" hidden></ul>
      <input id="compose" name="text" type="text" spellcheck="false" aria-label="Message"
        placeholder="Message #{name} — type {html.escape(p.slash)} for commands">
      <button type="submit" class="send" aria-label="Send">➤</button>
    </form>
  </main>
  <aside class="thread" id="thread" aria-label="Thread"{thread_hidden}>
    <div class="thread-head"><h2>Thread <span class="in">in #{name}</span></h2>
      <a class="close" href="{close}" aria-label="Close thread">✕</a></div>
    <div class="messages" id="thread-messages">{items_html(p.thread)}{empty}</div>
  </aside>
</div>
<dialog id="confirm">
  <form method="dialog">
    <h3 class="title"></h3><p class="text"></p>
    <div class="buttons"><button value="cancel" class="btn btn-default deny">Cancel</button>
    <button value="ok" class="btn btn-primary ok">Confirm</button></div>
  </form>
</dialog>
<script type="application/json" id="config">{_script_json(config)}</script>
<script src="/ui/static/app.js"></script>
</body>
</html>
"""
