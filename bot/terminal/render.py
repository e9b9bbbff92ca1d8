"""Command results → terminal text or JSON, and the exit status that goes with them.

The built-in results (usage errors, help, status…) are rendered here; each capability
adds how its own result types look with `TerminalRenderers.add` from its
bot/<capability>/cli.py, the one way to register one.

Exit statuses follow the usual convention for tools run in pipelines: 0 all well,
1 the command ran and found a problem (something unreachable, a failing check),
2 usage or config errors and denials (nothing ran).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, is_dataclass
from enum import Enum
from typing import Any

from bot.terminal.dialect import Dialect
from bot.terminal.help import render_help
from bot.terminal.style import Style
from commands.core.model import (
    Denied,
    Failure,
    Help,
    Result,
    StatusReport,
    Text,
    UsageError,
)


@dataclass(frozen=True)
class CliRenderer:
    """How one capability's result type looks in a terminal, as JSON, and its exit code.

    `styled`, when given, is used instead of `text` for a terminal whose width and colour
    are known (bot.terminal.style)."""

    text: Callable[[Any], str]
    json: Callable[[Any], str]
    exit_status: Callable[[Any], int]
    styled: Callable[[Any, Style], str] | None = None


class TerminalRenderers:
    """The renderers of one CLI run, by result type (the nearest base class wins)."""

    def __init__(self, dialect: Dialect | None = None) -> None:
        self._by_type: dict[type[Result], CliRenderer] = {}
        self.dialect = dialect or Dialect()

    def add(self, kind: type[Result], renderer: CliRenderer) -> None:
        self._by_type[kind] = renderer

    def _find(self, result: Result) -> CliRenderer | None:
        for kind in type(result).__mro__:
            found = self._by_type.get(kind)
            if found is not None:
                return found
        return None

    def exit_status(self, result: Result) -> int:
        custom = self._find(result)
        return custom.exit_status(result) if custom else exit_status(result)

    def to_json(self, result: Result) -> str:
        custom = self._find(result)
        return custom.json(result) if custom else to_json(result)

    def to_text(self, result: Result, style: Style | None = None) -> str:
        custom = self._find(result)
        if custom is None:
            return to_text(result, style=style, dialect=self.dialect)
        if custom.styled is not None:
            return custom.styled(result, style or Style())
        return custom.text(result)


def exit_status(result: Result) -> int:
    match result:
        case UsageError() | Denied():
            return 2
        case Failure():
            return 1
        case StatusReport():
            return 0 if result.healthy else 1
    return 0


def to_json(result: Result) -> str:
    payload: dict[str, Any] = {"kind": type(result).__name__}
    if isinstance(result, StatusReport):
        payload.update(
            version=result.version,
            healthy=result.healthy,
            parts=[
                {"kind": p.kind, "name": p.name, "state": p.state.value, "detail": p.detail}
                for p in result.parts
            ],
        )
    elif is_dataclass(result):
        payload.update(_plain(asdict(result)))
    return json.dumps(payload, indent=2, sort_keys=False)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.name.lower() if isinstance(value.value, int) else value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def to_text(result: Result, style: Style | None = None, dialect: Dialect | None = None) -> str:
    """Built-in results as text, still worded the Slack way where they name a command
    (the CLI says those its own way with `Dialect.say` on the whole output)."""
    style = style or Style()
    match result:
        case UsageError():
            lines = [f"{style.paint('error:', 'error')} {result.problem}"]
            usages = result.usage.splitlines()
            if usages:
                lines.append(f"usage: {usages[0]}")
                lines += [f"       {usage}" for usage in usages[1:]]
            return "\n".join(lines)
        case Denied():
            return f"{style.paint('denied:', 'error')} {result.reason}"
        case Failure():
            return f"{style.paint('error:', 'error')} {result.message}"
        case Help():
            return render_help(result, dialect or Dialect(), style)
        case StatusReport():
            rows = [(p.kind, p.name, p.state.value, p.detail) for p in result.parts]
            widths = [max(len(r[i]) for r in rows) for i in range(3)]
            lines = [f"meshbot {result.version}"]
            for row in rows:
                cells = [row[i].ljust(widths[i]) for i in range(3)]
                cells[2] = style.paint(cells[2], "ok" if row[2] == "ok" else "unknown")
                if row[2] == "unreachable":
                    cells[2] = style.paint(row[2].ljust(widths[2]), "fail")
                lines.append("  ".join(cells) + ("  " + row[3] if row[3] else ""))
            return "\n".join(lines)
        case Text():
            return "\n".join((result.title, *result.lines))
    return repr(result)
