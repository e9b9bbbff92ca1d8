"""`meshbot sandbox cluster|metrics|slack`: the local stand-ins, started from the command line.

Each part runs in the foreground until Ctrl-C (or SIGTERM) and says on start what it
serves and how to point meshbot, kubectl or Prometheus at it. A seed or scenario that
does not exist is refused with the names that do.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.core.settings import ConfigError
from bot.terminal.progress import Progress

GENERATED_SEEDS = ("large",)
HISTORY_JOB = "meshbot-sandbox"  # the scrape job name the README's Prometheus config uses


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


@contextmanager
def until_stopped() -> Iterator[threading.Event]:
    """An event set by SIGINT/SIGTERM; the previous handlers come back afterwards."""
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _wait(stop: threading.Event) -> None:
    while not stop.wait(0.5):
        pass


# ---- sandbox cluster ---------------------------------------------------------------------


def shipped_seeds() -> list[str]:
    from bot.sandbox.kube.seeds import SEEDS_DIR

    return sorted([p.stem for p in SEEDS_DIR.glob("*.yaml")] + list(GENERATED_SEEDS))


def _seed_documents(seed: str) -> list[dict[str, Any]]:
    from bot.sandbox.kube.seeds import SEEDS_DIR, generate_large_cluster, parse_yaml

    if seed == "large":
        return generate_large_cluster()
    shipped = SEEDS_DIR / f"{seed}.yaml"
    path = shipped if shipped.is_file() else Path(seed).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"--seed: no seed `{seed}`: give a shipped seed ({', '.join(shipped_seeds())}) "
            "or the path of a seed YAML file"
        )
    return parse_yaml(path)


def cluster(options: dict[str, Any]) -> int:
    from bot.sandbox.kube import KubeTestServer

    server = KubeTestServer(
        version=options["version"],
        port=options["port"],
        controllers=bool(options.get("controllers")),
    )
    state = Path(options["state"]).expanduser() if options.get("state") else None
    with Progress(f"loading seed {options.get('seed')}…"):
        if state is not None and state.is_file():
            loaded = server.restore_state(str(state))
        else:
            docs = _seed_documents(options["seed"]) if options.get("seed") else []
            try:
                loaded = server.load_objects(docs) if docs else 0
            except ValueError as exc:
                raise ConfigError(f"--seed {options['seed']}: {exc}") from None
    with until_stopped() as stop:
        try:
            server.start()
        except OSError as exc:
            raise ConfigError(f"--port {options['port']}: {exc.strerror}") from None
        try:
            say(f"Kubernetes API test server at {server.url} ({loaded} objects loaded)")
            out = options.get("kubeconfig_out")
            if out:
                path = server.write_kubeconfig(Path(out).expanduser())
                say(f"kubeconfig (context sandbox): {path}")
                say(f"  kubectl --kubeconfig {path} get nodes")
                say(f"  meshbot preflight --kubeconfig {path}")
            say("Ctrl-C stops it.")
            _wait(stop)
        finally:
            server.stop()
            if state is not None:
                server.save_state(str(state))
    return 0


# ---- sandbox metrics ---------------------------------------------------------------------


def shipped_scenarios() -> list[str]:
    from bot.sandbox.metrics import SCENARIOS_DIR

    return sorted(p.stem for p in SCENARIOS_DIR.glob("*.yaml"))


def _scenario(name: str) -> Any:
    from bot.sandbox.metrics import SCENARIOS_DIR, Scenario

    shipped = SCENARIOS_DIR / f"{name.removesuffix('.yaml')}.yaml"
    path = shipped if shipped.is_file() else Path(name).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"--scenario: no scenario `{name}`: give a shipped scenario "
            f"({', '.join(shipped_scenarios())}) or the path of a scenario YAML file"
        )
    try:
        return Scenario.load(path)
    except ValueError as exc:
        raise ConfigError(f"--scenario {name}: {exc}") from None


def _history_seconds(raw: str | None) -> float:
    from bot.sandbox.metrics import parse_duration

    if raw is None:
        return 0.0
    try:
        seconds = parse_duration(raw)
    except ValueError:
        raise ConfigError(f"--history: `{raw}` is not a duration (e.g. 90m, 2h)") from None
    if not 0 < seconds <= 7 * 86400:
        raise ConfigError(f"--history: {raw} must be more than 0 and at most 7 days")
    return seconds


def metrics(options: dict[str, Any]) -> int:
    scenario = _scenario(options["scenario"])
    history = _history_seconds(options.get("history"))
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(seconds=history)
    if options.get("out"):
        if not history:
            raise ConfigError("--out writes the scenario's past: say how much with --history 2h")
        return _write_history(scenario, start, now, Path(options["out"]).expanduser())
    from bot.sandbox.metrics import MetricsExporter, MetricsSimulator

    simulator = MetricsSimulator(scenario, clock=start)
    with until_stopped() as stop:
        try:
            exporter = MetricsExporter(simulator, port=options["port"]).start()
        except OSError as exc:
            raise ConfigError(f"--port {options['port']}: {exc.strerror}") from None
        try:
            past = f", {options['history']} into the scenario" if history else ""
            say(f"scenario {scenario.name}: metrics at {exporter.url}{past}")
            say("Ctrl-C stops it.")
            _wait(stop)
        finally:
            exporter.stop()
    return 0


def _write_history(scenario: Any, start: datetime, end: datetime, out: Path) -> int:
    from bot.sandbox.metrics import write_openmetrics

    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with Progress(f"writing {_short(end - start)} of {scenario.name}…"):
        write_openmetrics(scenario, start, end, path=partial, extra_labels={"job": HISTORY_JOB})
    partial.replace(out)
    say(f"wrote {scenario.name} from {start:%Y-%m-%d %H:%M:%SZ} to {end:%H:%M:%SZ} to {out}")
    say(f"  promtool tsdb create-blocks-from openmetrics {out} DATA_DIR")
    say(
        f"then scrape `meshbot sandbox metrics --scenario {scenario.name} --history "
        f"{_short(end - start)}` with job_name {HISTORY_JOB} and honor_labels: true, so the "
        "live counters continue the history"
    )
    return 0


def _short(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


# ---- sandbox slack -----------------------------------------------------------------------


def slack(options: dict[str, Any]) -> int:
    from bot.sandbox.slack import SlackEmulator

    emulator = SlackEmulator(port=options["port"])
    emulator.add_channel("C_OPS", "mesh-ops")
    with until_stopped() as stop:
        try:
            emulator.start()
        except OSError as exc:
            raise ConfigError(f"--port {options['port']}: {exc.strerror}") from None
        try:
            for line in slack_banner(emulator):
                say(line)
            _wait(stop)
        finally:
            emulator.stop()
    return 0


def slack_banner(emulator: Any) -> list[str]:
    """What the emulator accepts, and the environment that points `meshbot serve` at it."""
    return [
        f"Slack emulator: Web API {emulator.api_url}  Socket Mode {emulator.socket.url}",
        "It accepts:",
        f"  bot token       {emulator.bot_token}",
        f"  app token       {emulator.app_token}",
        f"  signing secret  {emulator.signing_secret}",
        "  channel         C_OPS (#mesh-ops)",
        "To run meshbot against it, in another shell:",
        f"  export SLACK_API_URL={emulator.api_url}",
        f"  export SLACK_BOT_TOKEN={emulator.bot_token}",
        f"  export SLACK_APP_TOKEN={emulator.app_token}",
        f"  export SLACK_SIGNING_SECRET={emulator.signing_secret}",
        "  meshbot serve                     # Socket Mode",
        "  meshbot serve --http --port 3000  # or HTTP mode",
        "Ctrl-C stops it.",
    ]
