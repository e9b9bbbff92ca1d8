"""Block Kit → HTML, close enough to Slack's own rendering to judge a message by.

Why this exists: meshbot's messages are Block Kit; the browser workspace shows them as a
Slack client would — header, section (text, fields, accessory), context, divider,
image, actions with buttons (primary/danger styles, confirm dialogs, URL buttons) and a
readable stand-in for the rest — so a reviewer sees what a user would. Interactive
elements carry only where they sit (block and element index); what a click sends is
built by the emulator from the stored message, never from the page. Pure.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

from bot.sandbox.slack.web.mrkdwn import mrkdwn_to_html, plain_to_html

Users = Mapping[str, str]


def text_html(obj: Any, users: Users) -> str:
    """A text object (``mrkdwn`` or ``plain_text``), or a bare string."""
    if isinstance(obj, str):
        return plain_to_html(obj)
    if not isinstance(obj, dict):
        return ""
    text = str(obj.get("text") or "")
    if obj.get("type") == "mrkdwn":
        return mrkdwn_to_html(text, users)
    return plain_to_html(text, bool(obj.get("emoji", True)))


def _plain(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text") or "")
    return str(obj or "")


def _image(element: dict[str, Any], css: str) -> str:
    url = str(element.get("image_url") or "")
    alt = html.escape(str(element.get("alt_text") or ""))
    if not url.startswith(("http://", "https://", "/")):
        return f'<span class="{css} missing">[image: {alt}]</span>'
    return f'<img class="{css}" src="{html.escape(url)}" alt="{alt}" title="{alt}" loading="lazy">'


def _confirm_attr(confirm: Any) -> str:
    if not isinstance(confirm, dict):
        return ""
    data = {
        "title": _plain(confirm.get("title")) or "Are you sure?",
        "text": _plain(confirm.get("text")),
        "confirm": _plain(confirm.get("confirm")) or "Yes",
        "deny": _plain(confirm.get("deny")) or "Cancel",
        "style": str(confirm.get("style") or ""),
    }
    return f' data-confirm="{html.escape(json.dumps(data))}"'


def element_html(element: Any, block: int, index: int, users: Users) -> str:
    """One interactive (or image/text) element of an actions, section or context block."""
    if not isinstance(element, dict):
        return ""
    kind = element.get("type")
    if kind == "button":
        style = str(element.get("style") or "default")
        url = element.get("url")
        attrs = f' data-block="{block}" data-element="{index}"'
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            attrs += f' data-url="{html.escape(url)}"'
        attrs += _confirm_attr(element.get("confirm"))
        label = text_html(element.get("text"), users)
        return f'<button type="button" class="btn btn-{html.escape(style)}"{attrs}>{label}</button>'
    if kind == "image":
        return _image(element, "ctx-img")
    if kind in ("mrkdwn", "plain_text"):
        return f"<span>{text_html(element, users)}</span>"
    placeholder = _plain(element.get("placeholder")) or str(kind)
    return (
        f'<span class="unsupported" title="not clickable in this workspace">'
        f"{html.escape(placeholder)} ▾</span>"
    )


def _section(block: dict[str, Any], i: int, users: Users) -> str:
    parts = []
    if block.get("text") is not None:
        parts.append(f'<div class="s-text">{text_html(block["text"], users)}</div>')
    fields = block.get("fields") or []
    if fields:
        cells = "".join(f'<div class="s-field">{text_html(f, users)}</div>' for f in fields)
        parts.append(f'<div class="s-fields">{cells}</div>')
    body = f'<div class="s-body">{"".join(parts)}</div>'
    accessory = block.get("accessory")
    side = ""
    if isinstance(accessory, dict):
        if accessory.get("type") == "image":
            side = _image(accessory, "s-accessory-img")
        else:
            side = element_html(accessory, i, -1, users)
        side = f'<div class="s-accessory">{side}</div>'
    return f'<div class="b b-section">{body}{side}</div>'


def _rich_text(block: dict[str, Any], users: Users) -> str:
    """rich_text as text runs; lists, quotes and preformatted sections kept readable."""
    out = []
    for section in block.get("elements") or []:
        runs = []
        for el in section.get("elements") or []:
            if el.get("type") == "text":
                runs.append(html.escape(str(el.get("text", ""))).replace("\n", "<br>"))
            elif el.get("type") == "link":
                runs.append(mrkdwn_to_html(f"<{el.get('url')}|{el.get('text') or el.get('url')}>"))
            elif el.get("type") == "user":
                runs.append(mrkdwn_to_html(f"<@{el.get('user_id')}>", users))
            elif el.get("type") == "emoji":
                runs.append(mrkdwn_to_html(f":{el.get('name')}:"))
        tag = {"rich_text_preformatted": "pre", "rich_text_quote": "blockquote"}.get(
            str(section.get("type")), "div"
        )
        out.append(f"<{tag}>{''.join(runs)}</{tag}>")
    return f'<div class="b b-rich">{"".join(out)}</div>'


def block_html(block: Any, i: int, users: Users) -> str:
    if not isinstance(block, dict):
        return ""
    kind = block.get("type")
    if kind == "header":
        return f'<div class="b b-header">{text_html(block.get("text"), users)}</div>'
    if kind == "section":
        return _section(block, i, users)
    if kind == "divider":
        return '<hr class="b b-divider">'
    if kind == "context":
        items = "".join(element_html(e, i, j, users) for j, e in enumerate(block["elements"]))
        return f'<div class="b b-context">{items}</div>'
    if kind == "image":
        title = block.get("title")
        head = f'<div class="img-title">{text_html(title, users)}</div>' if title else ""
        return f'<div class="b b-image">{head}{_image(block, "b-img")}</div>'
    if kind == "actions":
        items = "".join(element_html(e, i, j, users) for j, e in enumerate(block["elements"]))
        return f'<div class="b b-actions">{items}</div>'
    if kind == "rich_text":
        return _rich_text(block, users)
    if kind == "markdown":
        return f'<div class="b b-section">{mrkdwn_to_html(str(block.get("text", "")), users)}</div>'
    return f'<div class="b unsupported">[{html.escape(str(kind))} block]</div>'


def blocks_html(blocks: list[Any], users: Users) -> str:
    return "".join(block_html(b, i, users) for i, b in enumerate(blocks))
