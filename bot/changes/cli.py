"""The change pipeline's and mTLS results in a terminal and as JSON.

A change proposed from the command line is stored like one proposed in Slack; it is
approved in Slack (or with `meshbot change approve ID` by another person), so the text
says where to go next. JSON output is the change record itself, as stored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.terminal.render import CliRenderer, TerminalRenderers
from bot.terminal.style import Style
from commands.changes.machine import replica_of
from commands.changes.model import (
    Change,
    ChangeActed,
    ChangeProposed,
    ChangeState,
    ChangeView,
    History,
)
from commands.core.model import ActionOutcome


def _when(at: float | None) -> str:
    if at is None:
        return "-"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def change_text(change: Change, *, timeline: bool, style: Style | None = None) -> str:
    """The change, one fact per line; long lines wrap under themselves (diffs are kept)."""
    style = style or Style()
    lines = [
        f"{change.id}  {change.title}",
        f"  state {change.state.value}, kind {change.kind}, cluster {change.cluster}, "
        f"by {change.requester}, expires {_when(change.expires_at)}",
    ]
    if change.reason and change.state in (ChangeState.FAILED, ChangeState.INTERRUPTED):
        lines.append(f"  {change.state.value}: {change.reason}")
    if change.state in (ChangeState.APPLYING, ChangeState.ROLLING_BACK):
        lines.append(f"  in progress on {replica_of(change.applier)}")
    lines += [f"  {line}" for line in change.summary]
    if change.diff:
        lines.append("  diff:")
        lines += [f"    {line}" for line in change.diff]
    for gate in change.gates:
        status = style.paint(f"{gate.status.value:<7}", gate.status.value)
        lines += style.wrap(f"{gate.name}: {gate.detail}", " " * 15, first=f"  gate {status} ")
    for risk in change.risks:
        lines += style.wrap(risk.text, "    ", first=f"  risk ({risk.severity}) ")
    if timeline:
        for entry in change.timeline:
            detail = f" — {entry.detail}" if entry.detail else ""
            lines += style.wrap(
                f"{_when(entry.at)}  {entry.event} by {entry.actor}{detail}", "    ", first="  "
            )
    return "\n".join(lines)


def _proposed_text(result: ChangeProposed, style: Style | None = None) -> str:
    return (
        change_text(result.change, timeline=False, style=style)
        + f"\nproposed: approve in Slack or with `meshbot change approve {result.change.id}`"
        " (by someone else)"
    )


def _acted_text(result: ChangeActed) -> str:
    return f"{result.action} {result.change_id}: {result.outcome.value} — {result.message}"


def _history_text(result: History) -> str:
    """One row per change under a header, columns as wide as their widest value."""
    if not result.rows:
        return "no changes yet"
    header = ("ID", "CREATED", "CLUSTER", "STATE", "KIND", "BY", "TITLE")
    rows = [
        (r.id, _when(r.created_at), r.cluster, r.state.value, r.kind, r.requester, r.title)
        for r in result.rows
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[-1]
        for row in (header, *rows)
    )


def dump(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)


def _acted_exit(result: ChangeActed) -> int:
    return 1 if result.outcome is ActionOutcome.REFUSED else 0


def register(renderers: TerminalRenderers) -> None:
    renderers.add(
        ChangeProposed,
        CliRenderer(
            text=_proposed_text,
            json=lambda r: dump(r.change.to_json()),
            exit_status=lambda r: 0,
            styled=_proposed_text,
        ),
    )
    renderers.add(
        ChangeView,
        CliRenderer(
            text=lambda r: change_text(r.change, timeline=True),
            json=lambda r: dump(r.change.to_json()),
            exit_status=lambda r: 0,
            styled=lambda r, style: change_text(r.change, timeline=True, style=style),
        ),
    )
    renderers.add(
        ChangeActed,
        CliRenderer(
            text=_acted_text,
            json=lambda r: dump(
                {
                    "change_id": r.change_id,
                    "action": r.action,
                    "outcome": r.outcome.value,
                    "message": r.message,
                    "state": r.change.state.value if r.change else None,
                }
            ),
            exit_status=_acted_exit,
        ),
    )
    renderers.add(
        History,
        CliRenderer(
            text=_history_text,
            json=lambda r: dump(
                [
                    {
                        "id": row.id,
                        "kind": row.kind,
                        "cluster": row.cluster,
                        "state": row.state.value,
                        "title": row.title,
                        "requester": row.requester,
                        "created_at": _when(row.created_at),
                    }
                    for row in r.rows
                ]
            ),
            exit_status=lambda r: 0,
        ),
    )
