"""`meshbot watch status` and `meshbot alert …` in a terminal.

Why this exists: the CLI renders by result type (bot.terminal.render.TerminalRenderers);
this adds the watchers' status (the same lines as in Slack, exit 1 when blind), so an
operator on a bastion host sees what on-call sees, and the answer to an alert action
(exit 1 when it was refused).
"""

from __future__ import annotations

import json

from bot.terminal.render import CliRenderer, TerminalRenderers
from bot.watch.render import watch_status_lines
from commands.core.model import ActionOutcome
from commands.watch.actions import AlertActed
from commands.watch.commands import WatchStatus


def _text(result: WatchStatus) -> str:
    return "\n".join(watch_status_lines(result))


def _json(result: WatchStatus) -> str:
    return json.dumps(
        {
            "kind": "WatchStatus",
            "lease_holder": result.lease_holder,
            "this_replica": result.this_replica,
            "skipped_cycles": result.skipped_cycles,
            "clusters": {name: summary for name, summary in result.clusters},
        },
        indent=2,
    )


def _exit(result: WatchStatus) -> int:
    return 1 if any(s and s.get("blind") for _, s in result.clusters) else 0


def _acted_text(result: AlertActed) -> str:
    return f"{result.action} {result.target}: {result.outcome.value} — {result.message}"


def _acted_json(result: AlertActed) -> str:
    shown = result.alert
    return json.dumps(
        {
            "kind": "AlertActed",
            "action": result.action,
            "target": result.target,
            "outcome": result.outcome.value,
            "message": result.message,
            "state": None if shown is None else shown.state.value,
            "alerts": [m.id for m in result.members] if result.group else None,
        },
        indent=2,
    )


def _acted_exit(result: AlertActed) -> int:
    return 1 if result.outcome is ActionOutcome.REFUSED else 0


def register(renderers: TerminalRenderers) -> None:
    renderers.add(WatchStatus, CliRenderer(text=_text, json=_json, exit_status=_exit))
    renderers.add(
        AlertActed, CliRenderer(text=_acted_text, json=_acted_json, exit_status=_acted_exit)
    )
