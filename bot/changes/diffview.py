"""A change's diff in Slack, whole: what an approver approves must never be cut silently.

A proposal message has room for about 2,600 characters of diff in its code block. A
longer diff shows its first lines there and says how many more there are and where
they are: the proposal's thread, in a few code-block replies, or — when that would be
more than a handful of messages — as a `.diff` file in the thread. `/mesh change ID`
shows as much as one message holds and then says where the rest is. The terminal
(`meshbot change ID`) always prints every line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.slack.render import MAX_SECTION_TEXT, SlackMessage, message
from commands.changes.model import Change

DIFF_CHARS = 2600  # of the proposal message's section (3,000) after the title and markers
THREAD_MESSAGES = 5  # more than this many replies: a file instead
VIEW_SECTIONS = 20  # `/mesh change ID` (ephemeral): this many code blocks at most
_FENCE = "```"
_ROOM = MAX_SECTION_TEXT - 2 * len(_FENCE) - 40


def _fit(lines: Sequence[str], limit: int) -> int:
    """How many of `lines`, one per line, fit in `limit` characters."""
    used = 0
    for count, line in enumerate(lines):
        used += len(line) + (1 if count else 0)
        if used > limit:
            return count
    return len(lines)


def chunks(lines: Sequence[str], limit: int = _ROOM) -> list[list[str]]:
    """`lines` in groups that each fit one code block of a section."""
    found: list[list[str]] = []
    rest = [piece for line in lines for piece in _pieces(line, limit)]
    while rest:
        take = max(1, _fit(rest, limit))
        found.append(rest[:take])
        rest = rest[take:]
    return found


def _pieces(line: str, limit: int) -> list[str]:
    """A line too long for one block, as continued pieces (never cut)."""
    if len(line) <= limit:
        return [line]
    step = limit - 2
    return [line[:step], *("↪ " + line[i : i + step - 2] for i in range(step, len(line), step - 2))]


def code(lines: Sequence[str]) -> str:
    return f"{_FENCE}{chr(10).join(lines)}{_FENCE}" if lines else "_(no changes)_"


@dataclass(frozen=True)
class DiffHead:
    text: str  # the section text: the diff, or its first lines and where the rest is
    complete: bool


def proposal_diff(change: Change) -> DiffHead:
    """The diff section of the proposal message (posted in a channel, whose thread gets
    the whole diff: bot/changes/diffpost.py)."""
    lines = list(change.diff)
    shown = _fit(lines, DIFF_CHARS)
    if shown == len(lines):
        return DiffHead(f"*Diff*\n{code(lines)}", True)
    more = (
        f"_… {len(lines) - shown} more lines ({shown} of {len(lines)} shown): the whole diff "
        f"is in this message's thread, and printed by `meshbot change {change.id}`_"
    )
    return DiffHead(f"*Diff*\n{code(lines[:shown])}\n{more}", False)


def view_diff(change: Change) -> list[str]:
    """Sections for `/mesh change ID`: the whole diff when it fits one message."""
    groups = chunks(change.diff)
    if len(groups) <= VIEW_SECTIONS:
        return [f"*Diff*\n{code(c)}" if i == 0 else code(c) for i, c in enumerate(groups)]
    kept = groups[: VIEW_SECTIONS - 1]
    shown = sum(len(c) for c in kept)
    rest = len(change.diff) - shown
    where = "in the proposal's thread" if change.message is not None else _terminal(change)
    return [
        *(f"*Diff*\n{code(c)}" if i == 0 else code(c) for i, c in enumerate(kept)),
        f"_… {rest} more lines ({shown} of {len(change.diff)} shown): the whole diff is {where}_",
    ]


def _terminal(change: Change) -> str:
    return f"printed by `meshbot change {change.id}`"


def thread_messages(change: Change) -> list[SlackMessage]:
    """The whole diff as thread replies, a code block each."""
    groups = chunks(change.diff)
    total = len(groups)
    return [
        message(
            f"{change.id} diff, part {i + 1} of {total}",
            [f"*Diff of {change.id}*, part {i + 1} of {total}", code(group)],
            ephemeral=False,
        )
        for i, group in enumerate(groups)
    ]


def diff_file(change: Change) -> tuple[str, bytes]:
    """The whole diff as a file: its name and content."""
    body = "\n".join(change.diff) + "\n"
    return f"{change.id}.diff", body.encode()


def unposted_note(change: Change, posted: int, reason: str) -> SlackMessage:
    """Said in the thread when the whole diff could not be attached."""
    rest = len(change.diff) - posted
    text = (
        f":warning: {rest} more lines of the diff could not be attached here ({reason}); "
        f"`meshbot change {change.id}` prints the whole diff. The app needs the `files:write` "
        "scope to attach long diffs."
    )
    return message(text, [text], ephemeral=False)
