"""`meshbot`: run any registered command locally, serve Slack, or start a sandbox part.

Local commands go through the same registry as Slack: `meshbot status --output json`
is `/mesh status` rendered for a terminal (bot.app.cli_local). The commands only the
command line has live in bot.app.cli_commands; help in bot.app.cli_help. This module
only routes, and imports nothing heavy: `meshbot --help`, `meshbot version` and usage
errors start no store and no adapter, and return in a fraction of a second.
"""

from __future__ import annotations

import gc
import itertools
import os
import sys
from collections.abc import Sequence

HELP_FLAGS = ("-h", "--help")
VERSION_FLAGS = ("--version", "-V")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # A one-shot command builds tens of thousands of short-lived, acyclic objects (a
    # 2,000-node preflight: 30,000 pods' JSON); reference counting frees them, and the
    # cyclic collector scanning them again and again cost a third of the run. The
    # long-running commands (serve, demo, sandbox) turn it back on: see route.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return route(args)
    except BrokenPipeError:
        # `meshbot preflight | head`: the reader has what it wanted; say nothing more.
        _silence_stdout()
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if not _is_config_error(exc):
            raise
        sys.stderr.write(f"meshbot: {exc}\n")
        return 2
    finally:
        if collecting:
            gc.enable()


def route(args: list[str]) -> int:
    from bot.app import cli_commands, cli_help
    from bot.terminal.style import Style

    out = Style.for_stream(sys.stdout)
    if not args or args[0] in ("help", *HELP_FLAGS):
        words = _words(args[1:])
        if not words and args[:1] == ["help"] and any(a in HELP_FLAGS for a in args[1:]):
            return _help_topic(["help"])
        if not words:
            cli_help.print_out(cli_help.overview(out))
            return 0
        return _help_topic(words)
    if args[0] in (*VERSION_FLAGS, "version") and not any(a in HELP_FLAGS for a in args):
        if _wants_json(args):
            from bot.terminal.render import to_json
            from commands.core.model import Text

            cli_help.print_out(to_json(Text(cli_help.version())))
        else:
            cli_help.print_out(cli_help.version())
        return 0
    command, rest = cli_commands.find(args)
    if command is not None:
        if any(a in HELP_FLAGS for a in rest):
            from bot.terminal.help import render_page

            cli_help.print_out(render_page(command.page(), out))
            return 0
        values = command.parse(rest)
        if not isinstance(values, dict):
            return _usage_error(values)
        gc.enable()  # serve, demo, sandbox: processes that run for days
        return command.start(values)
    if cli_commands.group(args[0]):
        return _group(args)
    if any(a in HELP_FLAGS for a in args):
        return _help_topic(_words(args))
    from bot.app import cli_local

    return cli_local.run(args)


def _words(args: list[str]) -> list[str]:
    """The command words among `args`: no flags, flag values or `key=value` options."""
    words: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = arg.startswith("--") and "=" not in arg and arg not in HELP_FLAGS
        elif "=" not in arg:
            words.append(arg)
    return words


def _help_topic(words: list[str]) -> int:
    from bot.app import cli_help
    from bot.terminal.style import Style

    stream = sys.stdout
    text, code = cli_help.topic(words, Style.for_stream(stream))
    if code:
        sys.stderr.write(text + "\n")
    else:
        cli_help.print_out(text)
    return code


def _group(args: list[str]) -> int:
    """`meshbot sandbox` or `meshbot sandbox nosuch`: say which ones there are."""
    from bot.app import cli_commands, cli_help
    from bot.terminal.style import Style

    family = cli_commands.group(args[0])
    if len(args) == 1 or args[1] in HELP_FLAGS:
        cli_help.print_out(cli_help.group_overview(family, Style.for_stream(sys.stdout)))
        return 0
    names = [c.name for c in family]
    import difflib

    close = difflib.get_close_matches(" ".join(args[:2]), names, n=1)
    hint = f"; did you mean `{close[0]}`?" if close else ""
    from commands.core.model import UsageError

    return _usage_error(
        UsageError(
            f"unknown command `{' '.join(args[:2])}`{hint}",
            usage="\n".join(c.usage for c in family),
        )
    )


def _usage_error(error: object) -> int:
    from bot.terminal.render import to_text
    from bot.terminal.style import Style
    from commands.core.model import UsageError

    assert isinstance(error, UsageError)
    sys.stderr.write(to_text(error, Style.for_stream(sys.stderr)) + "\n")
    return 2


def _is_config_error(exc: Exception) -> bool:
    # Only code that imported the settings can raise their ConfigError; importing them
    # here just to catch it would load pydantic for `meshbot --help` too.
    settings = sys.modules.get("bot.core.settings")
    return settings is not None and isinstance(exc, settings.ConfigError)


def _wants_json(args: list[str]) -> bool:
    return "--output=json" in args or any(
        pair == ("--output", "json") for pair in itertools.pairwise(args)
    )


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    raise SystemExit(main())
