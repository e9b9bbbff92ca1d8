"""Help pages in a terminal: usage, what it does, options, role and examples.

The registry's commands describe themselves once (`HelpEntry`, also shown in Slack by
`/mesh help X`); the command-line-only commands (`serve`, `sandbox …`) describe
themselves in the app. Both become a `HelpPage` here so every `meshbot X --help`
reads the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.terminal.dialect import Dialect
from bot.terminal.style import Style
from commands.core.model import Help, HelpEntry

GLOBAL_HINT = (
    "Every command also takes --config FILE, --output text|json, and --kubeconfig FILE "
    "[--context NAME] [--prometheus URL] for a cluster without a config file "
    "(see `meshbot --help`)."
)


@dataclass(frozen=True)
class HelpPage:
    usage: str
    summary: str
    details: str = ""
    options: tuple[tuple[str, str], ...] = ()
    examples: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def page_of(entry: HelpEntry, dialect: Dialect) -> HelpPage:
    """A registry command's help (written the Slack way) in command-line words."""
    options = tuple(
        (dialect.option(o.usage) or o.usage, dialect.say(o.help)) for o in entry.options
    )
    return HelpPage(
        usage=dialect.command(entry.usage),
        summary=dialect.say(entry.summary),
        details=dialect.say(entry.details),
        options=options,
        examples=tuple(dialect.command(e) for e in entry.examples),
        notes=(
            f"Role: {entry.role.label} (on the command line you have every role: you hold "
            "the cluster credentials).",
            GLOBAL_HINT,
        ),
    )


def render_page(page: HelpPage, style: Style) -> str:
    lines = [f"{style.paint('Usage:', 'bold')} {page.usage}", ""]
    lines += style.wrap(_sentence(page.summary))
    if page.details:
        lines += ["", *style.wrap(page.details)]
    if page.options:
        lines += ["", style.paint("Options:", "bold")]
        lines += two_columns(page.options, style)
    if page.examples:
        lines += ["", style.paint("Examples:", "bold")]
        lines += [f"  {example}" for example in page.examples]
    for note in page.notes:
        lines += ["", *style.wrap(note)]
    return "\n".join(lines)


def two_columns(rows: Sequence[tuple[str, str]], style: Style, indent: int = 2) -> list[str]:
    """`name  text` rows, the text column aligned and wrapped under itself."""
    if not rows:
        return []
    left = min(max(len(name) for name, _ in rows), 28)
    column = indent + left + 2
    lines: list[str] = []
    for name, text in rows:
        head = " " * indent + name
        if len(name) > left:
            lines.append(head)
            lines += style.wrap(text, " " * column)
            continue
        lines += style.wrap(text, " " * column, first=head.ljust(column))
    return lines


def render_help(result: Help, dialect: Dialect, style: Style) -> str:
    """`help` as the registry answers it (`help X` detailed, else one line per command)."""
    if result.detailed:
        pages = [render_page(page_of(e, dialect), style) for e in result.entries]
        return "\n\n".join(pages)
    rows = [(e.name, dialect.say(e.summary)) for e in result.entries]
    return "\n".join(two_columns(rows, style))


def _sentence(text: str) -> str:
    return text if not text or text.endswith((".", "?", "!")) else text + "."
