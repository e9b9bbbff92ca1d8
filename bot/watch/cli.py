"""`meshbot watch status` in a terminal: the same lines as in Slack, exit 1 when blind.

Why this exists: the CLI renders by result type (bot.terminal.render.TerminalRenderers); this adds
the watchers' status, so an operator on a bastion host sees what on-call sees.
"""

from __future__ import annotations

import json

from bot.terminal.render import CliRenderer, TerminalRenderers
from bot.watch.render import watch_status_lines
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


def register(renderers: TerminalRenderers) -> None:
    renderers.add(WatchStatus, CliRenderer(text=_text, json=_json, exit_status=_exit))
