"""Slack's mrkdwn → HTML, as a Slack client shows it.

Why this exists: the browser workspace must show a message the way Slack would, so a
reviewer can judge meshbot's messages: ``*bold*``, ``_italic_``, ``~strike~``,
`` `code` ``, fenced code blocks, ``> quotes``, ``<https://x|links>``, user and channel
mentions (``<@U123>``, ``<#C123|name>``, ``<!here>``) and ``:emoji:`` shortcodes. Text is
escaped first-class: nothing a bot sends becomes markup except through these rules.
Pure: the user names to show come in as a mapping.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from bot.sandbox.slack.web.emoji import emojize

_FENCE = re.compile(r"```(.*?)```", re.S)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_ANGLE = re.compile(r"<([^<>\s][^<>]*)>")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])")
_SAFE_URL = re.compile(r"^(https?://|mailto:)", re.I)


def _unescape(text: str) -> str:
    """Slack's three entities (senders escape &, < and >) back to characters."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _angle(token: str, users: Mapping[str, str]) -> str:
    """One ``<...>`` token: a mention, a special mention or a link."""
    target, _, label = token.partition("|")
    if target.startswith("@"):
        name = users.get(target[1:], label or target[1:])
        return f'<span class="mention">@{html.escape(name)}</span>'
    if target.startswith("#"):
        return f'<span class="mention">#{html.escape(label or target[1:])}</span>'
    if target.startswith("!"):
        word = target[1:].split("^", 1)[0]
        return f'<span class="mention">@{html.escape(label or word)}</span>'
    url = _unescape(target)
    text = html.escape(_unescape(label) if label else url)
    if not _SAFE_URL.match(url):
        return text
    return f'<a href="{html.escape(url)}" target="_blank" rel="noopener noreferrer">{text}</a>'


def _styles(escaped: str) -> str:
    escaped = _BOLD.sub(r"<b>\1</b>", escaped)
    escaped = _ITALIC.sub(r"<i>\1</i>", escaped)
    return _STRIKE.sub(r"<s>\1</s>", escaped)


def _plain(text: str, users: Mapping[str, str]) -> str:
    """A run without code: angle tokens, styles, emoji."""
    out: list[str] = []
    last = 0
    for match in _ANGLE.finditer(text):
        out.append(_styles(emojize(html.escape(_unescape(text[last : match.start()])))))
        out.append(_angle(match.group(1), users))
        last = match.end()
    out.append(_styles(emojize(html.escape(_unescape(text[last:])))))
    return "".join(out)


def _inline(text: str, users: Mapping[str, str]) -> str:
    out: list[str] = []
    last = 0
    for match in _INLINE_CODE.finditer(text):
        out.append(_plain(text[last : match.start()], users))
        out.append(f"<code>{html.escape(_unescape(match.group(1)))}</code>")
        last = match.end()
    out.append(_plain(text[last:], users))
    return "".join(out)


def _lines(text: str, users: Mapping[str, str]) -> str:
    """Quotes (``> ``, sent escaped as ``&gt; ``) become blockquotes; lines join with <br>."""
    parts: list[str] = []
    quote: list[str] = []
    for line in text.split("\n"):
        prefix = next((p for p in ("&gt; ", "> ") if line.startswith(p)), None)
        if prefix is not None:
            quote.append(_inline(line[len(prefix) :], users))
            continue
        if quote:
            parts.append("<blockquote>" + "<br>".join(quote) + "</blockquote>")
            quote = []
        parts.append(_inline(line, users) + "<br>")
    if quote:
        parts.append("<blockquote>" + "<br>".join(quote) + "</blockquote>")
    joined = "".join(parts)
    return joined.removesuffix("<br>")


def mrkdwn_to_html(text: str, users: Mapping[str, str] | None = None) -> str:
    """HTML for a mrkdwn string; ``users`` maps user ids to the names shown for mentions."""
    names = users or {}
    out: list[str] = []
    last = 0
    for match in _FENCE.finditer(text):
        out.append(_lines(text[last : match.start()], names))
        body = match.group(1).strip("\n")
        out.append(f"<pre>{html.escape(_unescape(body))}</pre>")
        last = match.end()
    out.append(_lines(text[last:], names))
    return "".join(out)


def plain_to_html(text: str, emoji: bool = True) -> str:
    """A ``plain_text`` object: escaped, emoji shortcodes shown when ``emoji`` is on."""
    escaped = html.escape(text)
    return emojize(escaped) if emoji else escaped
