"""The commands only the command line has (`serve`, `sandbox …`), described as data.

The registry's commands describe themselves in `CommandSpec`; these run processes
rather than answer in Slack, so they live here: name, group, flags, examples. The same
description parses their flags, writes their `--help` and feeds the top-level help and
"did you mean", so a new one (say, `demo`) is one more entry in `CLI_COMMANDS`. Each
names the function that runs it as "module:function", imported only when it runs:
`meshbot --help` must not load Bolt, the kubernetes client or the sandbox.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.terminal.help import HelpPage
from commands.core.model import UsageError

RUNNING = "Running the bot"
SANDBOX = "Local sandbox (stand-ins to try every command without a cluster)"


@dataclass(frozen=True)
class Flag:
    name: str  # "--port"
    help: str
    metavar: str = ""  # "" → a switch without a value
    convert: Callable[[str], Any] = str
    required: bool = False
    default: Any = None

    @property
    def key(self) -> str:
        return self.name.lstrip("-").replace("-", "_")

    @property
    def usage(self) -> str:
        text = f"{self.name} {self.metavar}" if self.metavar else self.name
        return text if self.required else f"[{text}]"


@dataclass(frozen=True)
class CliCommand:
    name: str
    group: str
    summary: str
    run: str  # "module:function", called with the parsed flags as a dict
    flags: tuple[Flag, ...] = ()
    details: str = ""
    examples: tuple[str, ...] = ()

    @property
    def usage(self) -> str:
        return " ".join(["meshbot", self.name, *(f.usage for f in self.flags)])

    def page(self) -> HelpPage:
        options = tuple((f"{f.name} {f.metavar}".strip(), f.help) for f in self.flags)
        return HelpPage(self.usage, self.summary, self.details, options, self.examples)

    def parse(self, args: Sequence[str]) -> dict[str, Any] | UsageError:
        """`--flag value`, `--flag=value` and switches → values by key, or what was wrong."""
        by_name = {f.name: f for f in self.flags}
        values: dict[str, Any] = {f.key: f.default for f in self.flags}
        seen: set[str] = set()
        i = 0
        while i < len(args):
            arg = args[i]
            name, eq, inline = arg.partition("=")
            flag = by_name.get(name)
            if flag is None:
                return self._error(self._unknown(arg))
            if not flag.metavar:
                if eq:
                    return self._error(f"`{flag.name}` is a switch; it takes no value")
                values[flag.key] = True
            else:
                if eq:
                    raw = inline
                elif i + 1 < len(args) and not args[i + 1].startswith("--"):
                    raw = args[i + 1]
                    i += 1
                else:
                    return self._error(f"`{flag.name}` needs a value: {flag.name} {flag.metavar}")
                try:
                    values[flag.key] = flag.convert(raw)
                except ValueError as exc:
                    return self._error(f"`{flag.name}`: {exc}")
            seen.add(flag.name)
            i += 1
        missing = [f.name for f in self.flags if f.required and f.name not in seen]
        if missing:
            return self._error(f"`{missing[0]}` is required")
        return values

    def _unknown(self, arg: str) -> str:
        if not arg.startswith("-"):
            return f"unexpected `{arg}`: `meshbot {self.name}` takes only flags"
        close = difflib.get_close_matches(arg.partition("=")[0], [f.name for f in self.flags], 1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        return f"unknown flag `{arg}` for `meshbot {self.name}`{hint}"

    def _error(self, problem: str) -> UsageError:
        return UsageError(problem, usage=self.usage, command=self.name)

    def start(self, values: Mapping[str, Any]) -> int:
        module, _, function = self.run.partition(":")
        runner = getattr(importlib.import_module(module), function)
        return int(runner(dict(values)))


def port(raw: str) -> int:
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        raise ValueError(f"a port number from 0 to 65535 (0: any free port), not `{raw}`")
    return int(raw)


PORT_HELP = "port on 127.0.0.1 (default {default}; 0: any free port)"

CLI_COMMANDS: tuple[CliCommand, ...] = (
    CliCommand(
        "demo",
        RUNNING,
        "Try meshbot locally: a Slack workspace in your browser, a demo cluster, its traffic",
        "bot.app.demo:demo_command",
        (
            Flag("--port", PORT_HELP.format(default=3300), "N", port, default=3300),
            Flag("--open", "open the page in a browser"),
            Flag(
                "--no-prometheus",
                "run as where Prometheus is not installed (no watchers, no traffic data)",
            ),
        ),
        details=(
            "Everything on 127.0.0.1, nothing to configure: the embedded store, the Kubernetes "
            "API test server with a demo cluster, the metrics simulator and real Prometheus "
            "(when installed) with an hour of history, the Slack emulator with a workspace "
            "page, and meshbot itself in HTTP mode. Prints one URL; Ctrl-C stops it all."
        ),
        examples=("meshbot demo", "meshbot demo --port 8080 --open"),
    ),
    CliCommand(
        "serve",
        RUNNING,
        "Run the Slack bot: Socket Mode by default, or HTTP with --http",
        "bot.app.serve:serve_command",
        (
            Flag("--config", "config file (default: $MESHBOT_CONFIG, else defaults)", "FILE"),
            Flag("--http", "serve Slack's HTTP requests instead of connecting over Socket Mode"),
            Flag("--host", "HTTP mode listen address (default: http.host in the config)", "HOST"),
            Flag("--port", "HTTP mode port (default: http.port in the config)", "N", port),
        ),
        details=(
            "Needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET "
            "(HTTP) in the environment; without REDIS_URL it starts an embedded Valkey. "
            "Health, readiness and metrics are served on health.host:health.port."
        ),
        examples=(
            "meshbot serve --config meshbot.yaml",
            "meshbot serve --http --port 3000",
        ),
    ),
    CliCommand(
        "sandbox cluster",
        SANDBOX,
        "Serve a Kubernetes API test server with a seeded cluster (Istio's kinds built in)",
        "bot.app.cli_sandbox:cluster",
        (
            Flag("--seed", "a shipped seed (see below) or a seed YAML file", "NAME|FILE"),
            Flag("--port", "port on 127.0.0.1 (default: any free port)", "N", port, default=0),
            Flag("--kubeconfig-out", "write a kubeconfig (context `sandbox`) here", "FILE"),
            Flag("--version", "Kubernetes version to report", "VERSION", default="v1.33.2"),
            Flag(
                "--state",
                "restore objects from FILE at start (instead of the seed), save at stop",
                "FILE",
            ),
            Flag("--controllers", "run the workload controllers and a kubelet: pods get Ready"),
        ),
        details=(
            "Seeds: healthy (3 ready nodes), problems (what preflight should catch), mtls "
            "(a mesh mid-migration: shop ready for STRICT, billing not), timeouts "
            "(VirtualServices fighting the apps), demo (what `meshbot demo` serves), large "
            "(2,000 nodes, 30,000 pods, generated). kubectl and meshbot use it through the "
            "kubeconfig it writes."
        ),
        examples=(
            "meshbot sandbox cluster --seed mtls --port 18080 --kubeconfig-out mesh/kubeconfig",
        ),
    ),
    CliCommand(
        "sandbox metrics",
        SANDBOX,
        "Serve Istio and node_exporter metrics from a scenario, for Prometheus to scrape",
        "bot.app.cli_sandbox:metrics",
        (
            Flag(
                "--scenario",
                "a shipped scenario (see below) or a scenario YAML file",
                "NAME|FILE",
                required=True,
            ),
            Flag("--port", "port on 127.0.0.1 (default: any free port)", "N", port, default=0),
            Flag(
                "--history",
                "also write this much of the scenario's past (e.g. 2h) to --out",
                "DURATION",
            ),
            Flag(
                "--out",
                "OpenMetrics file for `promtool tsdb create-blocks-from openmetrics`",
                "FILE",
            ),
        ),
        details=(
            "Scenarios: baseline, demo, latency-spike, steal-spike, mtls-migration, mtls-shop, "
            "mtls-mid-migration, three-hop, timeouts-three-hop, watch-low-traffic, "
            "watch-no-data. With --history, the file ends now and the live counters continue "
            "from it, so Prometheus has hours of baseline at once."
        ),
        examples=(
            "meshbot sandbox metrics --scenario mtls-mid-migration --port 19464",
            "meshbot sandbox metrics --scenario baseline --history 2h --out mesh/history.om",
        ),
    ),
    CliCommand(
        "sandbox slack",
        SANDBOX,
        "Serve a Slack Web API and Socket Mode emulator; prints the tokens it accepts",
        "bot.app.cli_sandbox:slack",
        (Flag("--port", "port on 127.0.0.1 (default: any free port)", "N", port, default=0),),
        details=(
            "Prints the bot token, app token and signing secret it accepts and the "
            "environment to export for `meshbot serve`."
        ),
        examples=("meshbot sandbox slack --port 18090",),
    ),
)


def find(words: Sequence[str]) -> tuple[CliCommand | None, list[str]]:
    """The CLI-only command the leading words name (longest first), and the rest."""
    for length in (2, 1):
        name = " ".join(words[:length])
        for command in CLI_COMMANDS:
            if command.name == name:
                return command, list(words[length:])
    return None, list(words)


def group(word: str) -> list[CliCommand]:
    """`sandbox` → every `sandbox …` command."""
    return [c for c in CLI_COMMANDS if c.name.split(" ")[0] == word]


def names() -> list[str]:
    return [c.name for c in CLI_COMMANDS]
