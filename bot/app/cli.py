"""`meshbot`: serve Slack, run any registered command locally, or start a sandbox part.

Local commands go through the same registry as Slack: `meshbot status --output json`
is `/mesh status` rendered for a terminal. Flags `--key value` become `key=value`
options, so the CLI needs no second description of each command. A local caller has
the approver role: whoever runs the CLI already holds the cluster credentials it uses.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.app.adhoc import ADHOC_FLAGS, with_adhoc_cluster
from bot.app.config import ConfigError, load_settings
from bot.app.runtime import build_runtime
from bot.changes import cli as cli_changes
from bot.core.dispatch import run_command
from bot.mtls import cli as cli_mtls
from bot.preflight import cli as cli_preflight
from bot.terminal.render import TerminalRenderers, to_text
from bot.timeouts import cli as cli_timeouts
from bot.watch import cli as cli_watch
from commands.core.errors import PortError
from commands.core.model import Caller, Role, UsageError

log = logging.getLogger("meshbot")
GLOBAL_FLAGS = {"--config", "--output", *ADHOC_FLAGS}


def terminal_renderers() -> TerminalRenderers:
    """How each capability's results look in a terminal."""
    renderers = TerminalRenderers()
    for capability in (cli_changes, cli_mtls, cli_preflight, cli_timeouts, cli_watch):
        capability.register(renderers)
    return renderers


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["serve"]:
            from bot.app.serve import serve

            return serve(args[1:])
        if args[:1] == ["sandbox"]:
            return sandbox(args[1:])
        if args[:1] == ["demo"]:
            from bot.app.demo import demo

            return demo(args[1:])
        return local_command(args)
    except ConfigError as exc:
        print(f"meshbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def split_flags(args: list[str]) -> tuple[dict[str, str], list[str]] | UsageError:
    """Pull out global flags; turn `--key value` and `--key=value` into `key=value`."""
    globals_: dict[str, str] = {}
    words: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--") and len(arg) > 2:
            key, eq, value = arg[2:].partition("=")
            if not eq:
                if i + 1 >= len(args) or args[i + 1].startswith("--"):
                    return UsageError(f"`--{key}` needs a value")
                value = args[i + 1]
                i += 1
            if f"--{key}" in GLOBAL_FLAGS:
                globals_[key] = value
            else:
                words.append(f"{key}={value}")
        else:
            words.append(arg)
        i += 1
    return globals_, words


def local_command(args: list[str]) -> int:
    split = split_flags(args or ["help"])
    if isinstance(split, UsageError):
        print(to_text(split), file=sys.stderr)
        return 2
    flags, words = split
    output = flags.get("output", "text")
    if output not in {"text", "json"}:
        print("error: --output must be text or json", file=sys.stderr)
        return 2
    settings = with_adhoc_cluster(load_settings(flags.get("config")), flags, words)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        runtime = build_runtime(settings)
    except PortError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    with runtime:
        caller = Caller("local", Role.APPROVER, front_end="cli")
        result = run_command(runtime, shlex.join(words), caller)
    renderers = terminal_renderers()
    code = renderers.exit_status(result)
    text = renderers.to_json(result) if output == "json" else renderers.to_text(result)
    print(text, file=sys.stderr if code == 2 and output == "text" else sys.stdout)
    return code


def sandbox(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="meshbot sandbox", description="Local stand-ins.")
    sub = parser.add_subparsers(dest="part", required=True)
    cluster = sub.add_parser("cluster", help="serve a Kubernetes API test server")
    cluster.add_argument("--seed", help="seed YAML file, or healthy | problems | large")
    cluster.add_argument("--port", type=int, default=0)
    cluster.add_argument("--kubeconfig-out", help="write a kubeconfig for the server here")
    cluster.add_argument("--version", default="v1.33.2", help="Kubernetes version to report")
    cluster.add_argument("--state", help="restore objects from FILE at start, save them at stop")
    cluster.add_argument(
        "--controllers", action="store_true", help="run workload controllers; pods get Ready"
    )
    metrics = sub.add_parser("metrics", help="serve the Istio/node metrics simulator")
    metrics.add_argument(
        "--scenario", required=True, help="scenario YAML file, or a shipped one: baseline, …"
    )
    metrics.add_argument("--port", type=int, default=0)
    slack = sub.add_parser("slack", help="serve the Slack Web API emulator")
    slack.add_argument("--port", type=int, default=0)
    options = parser.parse_args(args)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if options.part == "cluster":
            from bot.sandbox import kube

            kube.serve_forever(
                options.seed,
                options.port,
                options.kubeconfig_out,
                options.version,
                state_file=options.state,
                controllers=options.controllers,
            )
        elif options.part == "metrics":
            from bot.sandbox import metrics as simulator

            scenario = options.scenario
            if not Path(scenario).exists():
                scenario = str(simulator.scenario_path(scenario))
            simulator.serve_forever(scenario, options.port)
        else:
            from bot.sandbox import slack as emulator

            emulator.serve_forever(options.port)
    except (OSError, ValueError) as exc:
        print(f"meshbot sandbox {options.part}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
