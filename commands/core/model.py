"""The results commands return, as frozen plain data.

Front ends (Slack, CLI, local workspace) render these; nothing here knows how. Keeping
results as data is what lets one registry serve every front end and lets tests assert
on what a user would see without parsing Block Kit or terminal text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Result:
    """Base of everything a command returns; front ends render by concrete type."""

    __slots__ = ()


class Role(Enum):
    """Access roles, ordered: each role includes the ones below it."""

    VIEWER = 1
    OPERATOR = 2
    APPROVER = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        return cls[text.strip().upper()]


@dataclass(frozen=True)
class Caller:
    """Who runs a command, where, and with which role (resolved by the front end)."""

    user_id: str
    role: Role | None
    channel_id: str | None = None
    front_end: str = "cli"


@dataclass(frozen=True)
class UsageError(Result):
    """Bad input: what was wrong and the right usage. Nothing ran."""

    problem: str
    usage: str = ""
    command: str | None = None


@dataclass(frozen=True)
class Denied(Result):
    """The caller may not run this command here. Nothing ran."""

    reason: str
    needed_role: Role | None = None
    by: str = ""  # which rule refused: "role", "channel" (audited; see commands.core.refusals)


@dataclass(frozen=True)
class Text(Result):
    """A plain answer: a title and lines of text."""

    title: str
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class HelpEntry:
    name: str
    usage: str
    summary: str
    role: Role
    details: str = ""


@dataclass(frozen=True)
class Help(Result):
    """The registered commands, or one of them in detail."""

    entries: tuple[HelpEntry, ...]
    detailed: bool = False


class PartState(Enum):
    OK = "ok"
    UNREACHABLE = "unreachable"
    NOT_CONFIGURED = "not configured"


@dataclass(frozen=True)
class PartStatus:
    """The state of one thing this replica depends on."""

    kind: str
    name: str
    state: PartState
    detail: str = ""


@dataclass(frozen=True)
class StatusReport(Result):
    """What this replica is connected to."""

    parts: tuple[PartStatus, ...]
    version: str

    @property
    def healthy(self) -> bool:
        return all(p.state is not PartState.UNREACHABLE for p in self.parts)


class ActionOutcome(Enum):
    """What an action on a stored thing (a change, an alert) came to."""

    DONE = "done"  # the action moved it
    NOOP = "noop"  # a repeat (double click, Slack retry): nothing happened, nothing to say loudly
    REFUSED = "refused"  # not allowed now: expired, self-approval, drift, not an approver…


@dataclass(frozen=True)
class Refusal:
    """Why an action did not happen, said to whoever asked; NOOP when it is a harmless
    repeat. Pure transitions (of changes and alerts) return one instead of a new record."""

    message: str
    outcome: ActionOutcome = ActionOutcome.REFUSED


@dataclass(frozen=True)
class Failure(Result):
    """An expected fault (a dependency down, a conflict), said plainly to the user."""

    message: str
    details: dict[str, Any] = field(default_factory=dict)
