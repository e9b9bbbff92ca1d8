"""`meshbot`, `meshbot help [COMMAND]`, `meshbot COMMAND --help` and `--version`.

Help starts nothing: no config is read, no store or adapter is built. It lists every
command the command line has, grouped the way people look for them — the commands
Slack and the command line share, running the bot, the local sandbox — and shows one
in detail from the same description Slack's `/mesh help X` uses.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.app import cli_commands
from bot.app.version import meshbot_version
from bot.terminal.dialect import Dialect
from bot.terminal.help import page_of, render_page, two_columns
from bot.terminal.style import Style
from commands.core.model import UsageError

if TYPE_CHECKING:
    from commands.core.registry import Registry

SHARED = "Slack & CLI commands (in Slack: /mesh COMMAND key=value)"
GLOBAL_FLAGS = (
    ("--config FILE", "config file (default: $MESHBOT_CONFIG, else built-in defaults)"),
    ("--output text|json", "text for people (default), json for scripts"),
    ("--kubeconfig FILE", "use this kubeconfig's cluster without a config file"),
    ("--context NAME", "the kubeconfig context (default: its current-context)"),
    ("--prometheus URL", "that cluster's Prometheus (for steal time, traffic, p99)"),
    ("-h, --help", "help for meshbot, or for a command: meshbot COMMAND --help"),
    ("--version", "meshbot's version"),
)


def dialect_of(registry: Registry) -> Dialect:
    return Dialect(p.name for spec in registry.specs() for p in spec.options)


def overview(style: Style) -> str:
    """Every command, grouped, with the global flags and the exit statuses."""
    from bot.app.registry import build_registry

    registry = build_registry()
    dialect = dialect_of(registry)
    lines = [
        f"meshbot {meshbot_version()}: Slack chat-ops for rolling out an Istio service mesh",
        "",
        f"{style.paint('Usage:', 'bold')} meshbot COMMAND [OPTIONS]",
        "       meshbot COMMAND --help      (or: meshbot help COMMAND)",
        "",
        style.paint(SHARED + ":", "bold"),
        *two_columns([(s.name, dialect.say(s.summary)) for s in registry.ordered()], style),
    ]
    groups: dict[str, list[tuple[str, str]]] = {}
    for command in cli_commands.CLI_COMMANDS:
        groups.setdefault(command.group, []).append((command.name, command.summary))
    for title, rows in groups.items():
        lines += ["", style.paint(title + ":", "bold"), *two_columns(rows, style)]
    lines += ["", style.paint("Options of every Slack & CLI command:", "bold")]
    lines += two_columns(GLOBAL_FLAGS, style)
    lines += [
        "",
        *style.wrap(
            "Options are --key value (or --key=value, or key=value as in Slack). Exit status: "
            "0 all well, 1 the command ran and found a problem, 2 a usage, config or "
            "permission error (nothing ran)."
        ),
    ]
    return "\n".join(lines)


def topic(words: Sequence[str], style: Style) -> tuple[str, int]:
    """Help on `words` (a command, a family like `mtls`, or `sandbox`), and the exit code."""
    from bot.app.registry import build_registry
    from bot.terminal.render import to_text
    from commands.core.builtin import help_topic

    registry = build_registry()
    dialect = dialect_of(registry)
    command, rest = cli_commands.find(words)
    if command is not None and not rest:
        return render_page(command.page(), style), 0
    family = cli_commands.group(words[0]) if len(words) == 1 else []
    if family:
        return "\n\n".join(render_page(c.page(), style) for c in family), 0
    found = help_topic(registry, tuple(words), tuple(cli_commands.names()))
    if isinstance(found, UsageError):
        return dialect.say(to_text(found, style=style)), 2
    pages = [render_page(page_of(registry.help_entry(s), dialect), style) for s in found]
    return "\n\n".join(pages), 0


def group_overview(family: Sequence[cli_commands.CliCommand], style: Style) -> str:
    """`meshbot sandbox`: its commands, one line each."""
    lines = [
        f"{style.paint('Usage:', 'bold')} {family[0].usage}",
        *(f"       {c.usage}" for c in family[1:]),
        "",
    ]
    lines += two_columns([(c.name, c.summary) for c in family], style)
    lines += [
        "",
        f"Run `meshbot {family[0].name} --help` (or any of them) for options and examples.",
    ]
    return "\n".join(lines)


def version() -> str:
    return f"meshbot {meshbot_version()}"


def print_out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
