"""How each capability's results look in a terminal, gathered for one CLI run.

Imported only once a command has run: the renderers pull in YAML and the capabilities'
edges, which `meshbot --help` and usage errors never need.
"""

from __future__ import annotations

from bot.changes import cli as cli_changes
from bot.install import cli as cli_install
from bot.mtls import cli as cli_mtls
from bot.preflight import cli as cli_preflight
from bot.terminal.dialect import Dialect
from bot.terminal.render import TerminalRenderers
from bot.timeouts import cli as cli_timeouts
from bot.watch import cli as cli_watch


def terminal_renderers(dialect: Dialect | None = None) -> TerminalRenderers:
    renderers = TerminalRenderers(dialect)
    for capability in (
        cli_changes,
        cli_mtls,
        cli_preflight,
        cli_timeouts,
        cli_watch,
        cli_install,
    ):
        capability.register(renderers)
    return renderers
