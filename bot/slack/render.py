"""Command results → Slack messages (Block Kit), with no I/O.

Rendering is kept apart from sending so it can be tested as plain data and so every
message is built within Slack's limits in one place: at most 50 blocks, section text
at most 3,000 characters, and always a plain `text` fallback for notifications and
screen readers. Blocks are built with slack_sdk's typed block models.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from commands.core.model import (
    Denied,
    Failure,
    Help,
    PartState,
    Result,
    StatusReport,
    Text,
    UsageError,
)

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
_STATE_ICON = {
    PartState.OK: ":large_green_circle:",
    PartState.UNREACHABLE: ":red_circle:",
    PartState.NOT_CONFIGURED: ":white_circle:",
}


@dataclass(frozen=True)
class SlackMessage:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    ephemeral: bool = True


def render(result: Result) -> SlackMessage:
    match result:
        case UsageError():
            return _usage(result)
        case Denied():
            return message(f":no_entry: {result.reason}", [f":no_entry: {result.reason}"])
        case Failure():
            return message(f":warning: {result.message}", [f":warning: {result.message}"])
        case Help():
            return _help(result)
        case StatusReport():
            return _status(result)
        case Text():
            return message(result.title, list(result.lines), header=result.title)
    raise TypeError(f"no Slack rendering for {type(result).__name__}")


def render_error(error_id: str) -> SlackMessage:
    text = (
        f":warning: Something went wrong on our side; nothing was changed. "
        f"Error id `{error_id}` (give it to whoever runs meshbot)."
    )
    return message(text, [text])


def _usage(error: UsageError) -> SlackMessage:
    lines = [f":warning: {error.problem}"]
    usages = [u for u in error.usage.splitlines() if u.strip()]
    fallback = error.problem
    if usages:
        lines.append("Usage:\n" + "\n".join(f"`{u}`" for u in usages))
        fallback += " — usage: " + "; ".join(usages)
    return message(fallback, lines)


def _help(result: Help) -> SlackMessage:
    """Every command in one line each, or `help X`: usage, options, role, examples —
    the same entries `meshbot X --help` shows on the command line."""
    lines = []
    for entry in result.entries:
        if not result.detailed:
            lines.append(f"`{entry.usage}` — {entry.summary}")
            continue
        lines.append(f"*{entry.name}* — {entry.summary} _(role: {entry.role.label})_")
        lines.append(f"`{entry.usage}`")
        if entry.details:
            lines.append(entry.details)
        if entry.options:
            lines.append("\n".join(f"• `{o.usage}` {o.help}" for o in entry.options))
        if entry.examples:
            lines.append("Examples:\n" + "\n".join(f"`{e}`" for e in entry.examples))
    title = "meshbot commands" if not result.detailed else "meshbot help"
    fallback = title
    if result.detailed:
        fallback = "; ".join(f"{e.usage} — {e.summary}" for e in result.entries)
    return message(fallback, lines, header=title)


def _status(report: StatusReport) -> SlackMessage:
    lines = [
        f"{_STATE_ICON[p.state]} *{p.kind}* {p.name}: {p.state.value}"
        + (f" — {p.detail}" if p.detail else "")
        for p in report.parts
    ]
    verdict = "all reachable" if report.healthy else "something is unreachable"
    title = f"meshbot {report.version} status: {verdict}"
    return message(title, lines, header="meshbot status", context=f"meshbot {report.version}")


def message(
    fallback: str,
    lines: Sequence[str],
    *,
    header: str | None = None,
    context: str | None = None,
    ephemeral: bool = True,
    overflow: str = "_… and {n} more parts not shown_",
) -> SlackMessage:
    """A message of a header, sections of `lines` and a context line, within Slack's
    limits: sections cut to 3,000 characters, at most 50 blocks (the last one then says
    what was left out, `overflow` with `{n}` for the count)."""
    blocks: list[Block] = []
    if header:
        blocks.append(HeaderBlock(text=header[:150]))
    sections = [SectionBlock(text=MarkdownTextObject(text=chunk)) for chunk in chunk_lines(lines)]
    room = MAX_BLOCKS - len(blocks) - (1 if context else 0)
    if len(sections) > room:
        dropped = len(sections) - room + 1
        sections = sections[: room - 1]
        note = overflow.format(n=dropped)
        sections.append(SectionBlock(text=MarkdownTextObject(text=note)))
    blocks.extend(sections)
    if context:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=context[:2000])]))
    return SlackMessage(
        text=fallback[:3000], blocks=[b.to_dict() for b in blocks], ephemeral=ephemeral
    )


def channel_message(
    fallback: str,
    lines: Sequence[str],
    header: str | None = None,
    context: str | None = None,
    *,
    overflow: str,
) -> SlackMessage:
    """A `message` posted for the whole channel (or a thread) rather than as an ephemeral
    answer; `overflow` says where to find what did not fit."""
    return message(
        fallback,
        lines,
        header=header,
        context=context,
        ephemeral=False,
        overflow=overflow,
    )


def chunk_lines(lines: Iterable[str], limit: int = MAX_SECTION_TEXT) -> list[str]:
    """Join lines into texts of at most `limit` characters, cutting overlong lines."""
    chunks: list[str] = []
    current = ""
    for raw in lines:
        line = raw if len(raw) <= limit else raw[: limit - 1] + "…"
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks
