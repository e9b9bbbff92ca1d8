"""Run one registry command on this machine: `meshbot preflight --namespace shop`.

Flags `--key value` become the `key=value` options Slack takes, so the command line
needs no second description of each command. Everything that can be refused without
the store or a cluster is refused first (unknown command, bad option, no cluster to act
on, a missing kubeconfig): a usage error starts nothing. Only then are the config read
and the runtime built, with a progress sign on a terminal while the command works.
A local caller has the approver role: whoever runs it holds the credentials it uses.
"""

from __future__ import annotations

import logging
import shlex
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from bot.app import cli_commands
from bot.app.cli_help import dialect_of
from bot.app.registry import build_registry
from bot.terminal.dialect import Dialect
from bot.terminal.progress import Progress
from bot.terminal.render import to_json, to_text
from bot.terminal.style import Style
from commands.core.model import Caller, Result, Role, UsageError
from commands.core.registry import CommandSpec, Registry

if TYPE_CHECKING:
    from bot.app.config import Settings

GLOBAL_FLAGS = ("config", "output", "kubeconfig", "context", "prometheus")
SWITCH_VALUES = ("true", "false")
LOCAL_CALLER = Caller("local", Role.APPROVER, front_end="cli")


@dataclass
class CommandLine:
    globals: dict[str, str] = field(default_factory=dict)
    words: list[str] = field(default_factory=list)
    bare: list[str] = field(default_factory=list)  # `--force` given without a value


def split_flags(args: list[str]) -> CommandLine:
    """Pull out global flags; `--key value` and `--key=value` become `key=value` words."""
    line = CommandLine()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--") and len(arg) > 2:
            key, eq, value = arg[2:].partition("=")
            if not eq:
                if i + 1 >= len(args) or args[i + 1].startswith("--"):
                    line.bare.append(key)
                    i += 1
                    continue
                value = args[i + 1]
                i += 1
            if key in GLOBAL_FLAGS:
                line.globals[key] = value
            else:
                line.words.append(f"{key}={value}")
        else:
            line.words.append(arg)
        i += 1
    return line


def run(args: list[str]) -> int:
    registry = build_registry()
    dialect = dialect_of(registry)
    line = split_flags(args)
    output = line.globals.get("output", "text")
    if output not in ("text", "json"):
        return _refuse(
            UsageError(f"`--output` must be text or json, not `{output}`"), dialect, output="text"
        )
    words = tuple(w for w in line.words if "=" not in w)
    if words and registry.resolve(words)[0] is None and not registry.family(words[0]):
        others = {c.name: c.usage for c in cli_commands.CLI_COMMANDS}
        return _refuse(registry.unknown(words, others), dialect, output)
    prepared = registry.prepare(shlex.join(line.words), LOCAL_CALLER)
    if not isinstance(prepared, tuple):
        return _refuse(prepared, dialect, output)
    spec, _ = prepared
    switched = _switches(spec, line)
    if isinstance(switched, UsageError):
        return _refuse(registry.with_usage(switched, spec), dialect, output)
    return _execute(registry, spec, line, dialect, output)


def _switches(spec: CommandSpec, line: CommandLine) -> UsageError | None:
    """`--force` alone means `force=true` for a true/false option; others need a value."""
    for key in line.bare:
        param = next((p for p in spec.options if p.name == key), None)
        if key in GLOBAL_FLAGS or param is None or param.choices != SWITCH_VALUES:
            return UsageError(f"`--{key}` needs a value")
        line.words.append(f"{key}=true")
    return None


def _execute(
    registry: Registry, spec: CommandSpec, line: CommandLine, dialect: Dialect, output: str
) -> int:
    from bot.app.adhoc import with_adhoc_cluster
    from bot.app.config import load_settings
    from bot.app.kubeconfigs import check_clusters

    settings = load_settings(line.globals.get("config"))
    adhoc = with_adhoc_cluster(settings, line.globals, line.words)
    if adhoc is settings:
        check_clusters(settings.file.clusters)
    takes_cluster = any(p.name == "cluster" for p in spec.options)
    if takes_cluster and not adhoc.file.clusters:
        return _refuse(
            registry.with_usage(
                UsageError(
                    "no cluster to act on: give one with `--kubeconfig FILE [--context NAME]`, "
                    "or add it under `clusters:` in a config file (`--config FILE`)"
                ),
                spec,
            ),
            dialect,
            output,
        )
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with Progress(f"{spec.name}…"):
        result = _dispatch(adhoc, line.words)
    return _print(result, dialect, output)


def _dispatch(settings: Settings, words: list[str]) -> Result:
    from bot.app.runtime import build_runtime
    from bot.core.dispatch import run_command
    from commands.core.errors import PortError
    from commands.core.model import Failure

    try:
        runtime = build_runtime(settings)
    except PortError as exc:
        return Failure(str(exc))
    with runtime:
        return run_command(runtime, shlex.join(words), LOCAL_CALLER)


def _print(result: Result, dialect: Dialect, output: str) -> int:
    from bot.app.cli_renderers import terminal_renderers

    renderers = terminal_renderers(dialect)
    code = renderers.exit_status(result)
    stream = sys.stderr if code == 2 and output == "text" else sys.stdout
    if output == "json":
        # Indented for a person at a terminal; compact (same content, fast) for programs.
        text = dialect.json(renderers.to_json(result), indent=2 if _is_terminal(stream) else None)
    else:
        text = dialect.say(renderers.to_text(result, Style.for_stream(stream)))
    stream.write(text + "\n")
    stream.flush()
    return code


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except ValueError:  # closed
        return False


def _refuse(result: Result, dialect: Dialect, output: str) -> int:
    """A usage error or denial before anything started: exit 2, nothing built."""
    if output == "json":
        sys.stdout.write(dialect.json(to_json(result)) + "\n")
    else:
        sys.stderr.write(dialect.say(to_text(result, Style.for_stream(sys.stderr))) + "\n")
    return 2
