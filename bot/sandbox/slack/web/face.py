"""The browser workspace served by the Slack emulator: page, live updates, input.

Why this exists: `meshbot demo` shows meshbot in something that looks and behaves like
Slack without a Slack workspace. This object plugs extra routes into the emulator's
HTTP server (see ``SlackEmulator.web``):

    GET  /                    the workspace (?as=USER&channel=C&thread=TS)
    GET  /ui/events           server-sent events: what changed in that view
    GET  /ui/static/<file>    app.js and style.css (package data, no build step)
    GET  /files/<id>/<name>   an uploaded file (report JSON, chart PNG)
    POST /ui/command          {"as", "channel", "text"}: a message or a slash command
    POST /ui/action           {"as", "channel", "ts", "block", "element"}: a click

Live updates wait on the emulator's recorder (every Web API call, response_url post
and upload notifies it), so an idle page costs nothing but a keep-alive comment every
15 s. The emulator keeps enforcing Slack's limits and signing; this is only a face.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from bot.sandbox.slack.web.messages import Item, View, channel_items, thread_items
from bot.sandbox.slack.web.page import (
    ChannelLink,
    CommandHint,
    PageParts,
    Persona,
    page_html,
    sidebar_html,
)
from bot.sandbox.slack.web.relay import AppRelay, Refused

if TYPE_CHECKING:
    from bot.sandbox.slack.emulator import SlackEmulator

log = logging.getLogger(__name__)
KEEPALIVE_S = 15.0
BURST_S = 0.05
STATIC = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
FILE_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "json": "application/json; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
}


class WebFace:
    """Routes for the browser workspace on one emulator (set as ``emulator.web``)."""

    def __init__(
        self,
        emulator: SlackEmulator,
        personas: Sequence[Persona],
        commands: Sequence[CommandHint] = (),
        *,
        title: str = "Slack emulator",
        topics: dict[str, str] | None = None,
        slash: str = "/mesh",
    ) -> None:
        if not personas:
            raise ValueError("the workspace needs at least one person to look through")
        self.emulator = emulator
        self.personas = list(personas)
        self.commands = list(commands)
        self.title = title
        self.topics = dict(topics or {})
        self.slash = slash
        self.relay = AppRelay(emulator, (slash,))
        self._closing = threading.Event()
        self._seen: dict[tuple[str, str], float] = {}
        self._seen_lock = threading.Lock()

    def close(self) -> None:
        self._closing.set()
        self.emulator.recorder.notify()  # wake every event stream so it ends
        self.relay.close()

    # ---- routing ------------------------------------------------------------------------

    def handle(self, handler: BaseHTTPRequestHandler, path: str, query: str, raw: bytes) -> bool:
        method = handler.command
        if method == "GET" and path == "/":
            view = self._view(parse_qs(query))
            _send(handler, 200, self._page(view).encode(), "text/html; charset=utf-8")
        elif method == "GET" and path == "/ui/events":
            self._events(handler, self._view(parse_qs(query)))
        elif method == "GET" and path.startswith("/ui/static/"):
            self._static(handler, path.rsplit("/", 1)[-1])
        elif method == "GET" and path.startswith("/files/"):
            self._file(handler, path)
        elif method == "POST" and path in ("/ui/command", "/ui/action"):
            self._input(handler, path, raw)
        elif method == "GET" and path == "/favicon.ico":
            _send(handler, 204, b"", "image/x-icon")
        else:
            return False
        return True

    # ---- views --------------------------------------------------------------------------

    def _view(self, params: dict[str, list[str]]) -> View:
        ws = self.emulator.workspace
        user = (params.get("as") or [""])[-1]
        if user not in {p.user_id for p in self.personas}:
            user = self.personas[0].user_id
        channels = self._channels(user)
        channel = (params.get("channel") or [""])[-1]
        if channel not in {c.id for c in channels}:
            channel = channels[0].id if channels else ""
        thread = (params.get("thread") or [""])[-1] or None
        if thread is not None and ws.find_message(channel, thread) is None:
            thread = None
        return View(user, channel, thread)

    def _channels(self, user: str) -> list[ChannelLink]:
        ws = self.emulator.workspace
        links = []
        with ws.lock:
            for channel in ws.channels.values():
                if channel.is_im or not channel.has_member(user):
                    continue
                seen = self._seen.get((user, channel.id), 0.0)
                unread = sum(
                    1
                    for m in ws.channel_messages(channel.id)
                    if float(m.ts) > seen and m.user != user
                )
                links.append(
                    ChannelLink(channel.id, channel.name, unread, self.topics.get(channel.id, ""))
                )
        return links

    def _mark_seen(self, view: View) -> None:
        messages = self.emulator.workspace.channel_messages(view.channel)
        if messages:
            with self._seen_lock:
                self._seen[(view.user, view.channel)] = float(messages[-1].ts)

    def _page(self, view: View) -> str:
        ws = self.emulator.workspace
        self._mark_seen(view)
        channels = self._channels(view.user)
        current = next((c for c in channels if c.id == view.channel), ChannelLink("", "", 0))
        return page_html(
            PageParts(
                title=self.title,
                view=view,
                channel=current,
                channels=channels,
                personas=self.personas,
                commands=self.commands,
                slash=self.slash,
                messages=channel_items(ws, view),
                thread=thread_items(ws, view),
            )
        )

    # ---- live updates -------------------------------------------------------------------

    def _events(self, handler: BaseHTTPRequestHandler, view: View) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream; charset=utf-8")
        handler.send_header("Cache-Control", "no-cache")
        handler.end_headers()
        recorder = self.emulator.recorder
        sent: dict[str, dict[str, str]] = {"messages": {}, "thread": {}}
        sidebar = ""
        version = -1
        try:
            while not self._closing.is_set():
                with recorder.cond:
                    if recorder.version == version:
                        recorder.cond.wait(KEEPALIVE_S)
                    changed = recorder.version != version
                if self._closing.is_set():
                    return
                if not changed:
                    handler.wfile.write(b": keep-alive\n\n")
                    handler.wfile.flush()
                    continue
                time.sleep(BURST_S)  # a report and its thread land as one update
                with recorder.cond:
                    version = recorder.version
                update, sidebar = self._sync(view, sent, sidebar)
                handler.wfile.write(f"event: sync\ndata: {json.dumps(update)}\n\n".encode())
                handler.wfile.flush()
        except OSError:  # the page went away (closed, reloaded, navigated)
            return

    def _sync(
        self, view: View, sent: dict[str, dict[str, str]], sidebar: str
    ) -> tuple[dict[str, Any], str]:
        ws = self.emulator.workspace
        self._mark_seen(view)
        update: dict[str, Any] = {
            "messages": _delta(channel_items(ws, view), sent["messages"]),
            "thread": _delta(thread_items(ws, view), sent["thread"]) if view.thread else None,
        }
        side = sidebar_html(self._channels(view.user), view)
        if side != sidebar:
            update["sidebar"] = side
        return update, side

    # ---- input --------------------------------------------------------------------------

    def _input(self, handler: BaseHTTPRequestHandler, path: str, raw: bytes) -> None:
        origin = handler.headers.get("Origin")
        host = handler.headers.get("Host", "")
        if handler.headers.get("Content-Type", "").split(";")[0] != "application/json" or (
            origin is not None and origin != f"http://{host}"
        ):
            _send_json(handler, 403, {"ok": False, "error": "cross_origin"})
            return
        try:
            data = json.loads(raw.decode("utf-8"))
            user, channel = str(data["as"]), str(data["channel"])
        except (ValueError, KeyError, TypeError):
            _send_json(handler, 400, {"ok": False, "error": "invalid_payload"})
            return
        if user not in {p.user_id for p in self.personas} or channel not in {
            c.id for c in self._channels(user)
        }:
            _send_json(handler, 400, {"ok": False, "error": "unknown_user_or_channel"})
            return
        try:
            if path == "/ui/command":
                self._command(user, channel, str(data.get("text") or ""))
            else:
                self.relay.click(
                    user, channel, str(data["ts"]), int(data["block"]), int(data["element"])
                )
        except (Refused, KeyError, ValueError, TypeError) as exc:
            _send_json(handler, 400, {"ok": False, "error": str(exc) or "invalid_payload"})
            return
        _send_json(handler, 200, {"ok": True})

    def _command(self, user: str, channel: str, text: str) -> None:
        text = text.strip()
        if not text:
            raise Refused("no_text")
        if text.startswith("/"):
            self.relay.slash_command(user, channel, text)
            return
        self.emulator.post_as_user(channel, user, text)
        self.emulator.recorder.notify()

    # ---- files --------------------------------------------------------------------------

    def _static(self, handler: BaseHTTPRequestHandler, name: str) -> None:
        if name not in STATIC:
            _send(handler, 404, b"not found", "text/plain")
            return
        data = resources.files("bot.sandbox.slack.web").joinpath("static", name).read_bytes()
        _send(handler, 200, data, STATIC[name], {"Cache-Control": "no-cache"})

    def _file(self, handler: BaseHTTPRequestHandler, path: str) -> None:
        parts = [unquote(p) for p in path.split("/") if p]
        ws = self.emulator.workspace
        with ws.lock:
            upload = ws.files.get(parts[1]) if len(parts) >= 2 else None
            data = upload.data if upload is not None and upload.completed else None
        if upload is None or data is None:
            _send(handler, 404, b"file_not_found", "text/plain")
            return
        kind = upload.name.rsplit(".", 1)[-1].lower()
        ctype = FILE_TYPES.get(kind, "application/octet-stream")
        headers = {"Content-Disposition": f'inline; filename="{upload.name}"'}
        _send(handler, 200, data, ctype, headers)


def _delta(items: list[Item], sent: dict[str, str]) -> list[list[str | None]]:
    """Every item in order; its HTML only when this stream has not sent that version."""
    out: list[list[str | None]] = []
    for dom_id, digest, markup in items:
        out.append([dom_id, digest, None if sent.get(dom_id) == digest else markup])
    sent.clear()
    sent.update({dom_id: digest for dom_id, digest, _ in items})
    return out


def _send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    ctype: str,
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("X-Content-Type-Options", "nosniff")
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(body)


def _send_json(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    _send(handler, status, json.dumps(body).encode(), "application/json; charset=utf-8")
