"""The world `meshbot demo` runs meshbot in: a Slack workspace in the browser, a cluster,
its traffic and a Prometheus with the past hour already in it — all on 127.0.0.1.

Why this exists: the demo must show the real product against real-behaving parts, and
the parts must tell one story (bot/sandbox/seeds/demo.yaml for the cluster,
bot/sandbox/scenarios/demo.yaml for the traffic: matching node and workload names).
This module starts and stops those stand-ins and knows nothing of meshbot itself; the
CLI (bot/app/demo.py) starts meshbot, unchanged, against them. Prometheus is started in
the background on a port chosen up front, so meshbot starts while the history loads.

Time: scenario second 0 is 75 minutes before the demo starts. That history (steady
traffic) is written as OpenMetrics and backfilled with promtool; the live exporter
continues the same series, so the scenario's events, written "from the start of the
demo", are shifted by it here. 75 minutes, not 60: the mTLS gate's one-hour readiness
window must be covered by data from before it began (meshbot never calls a partly
covered window ready), with room for the seconds the demo takes to start.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bot.sandbox.kube import KubeTestServer
from bot.sandbox.kube.seeds import seed_path
from bot.sandbox.metrics import (
    MetricsExporter,
    MetricsSimulator,
    Scenario,
    scenario_path,
    write_openmetrics,
)
from bot.sandbox.prometheus_runner import (
    JOB,
    PROMETHEUS,
    PROMTOOL,
    PrometheusError,
    PrometheusProcess,
    backfill,
    prometheus_available,
)
from bot.sandbox.slack import SlackEmulator
from bot.sandbox.slack.web import CommandHint, Persona, WebFace

log = logging.getLogger(__name__)
HISTORY_S = 75 * 60.0
MESH_OPS = "C0MESHOPS"
ONCALL = "C0ONCALL"
APPROVERS_GROUP = "mesh-approvers"
PERSONAS = (
    Persona("U0ALICE", "Alice", "operator"),
    Persona("U0BOB", "Bob", "approver"),
    Persona("U0CAROL", "Carol", "viewer"),
    Persona("U0DAVE", "Dave", "no role"),
)
TOPICS = {
    MESH_OPS: "Run meshbot here: type /mesh and pick a command",
    ONCALL: "meshbot's watchers post latency and CPU-steal alerts here",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def shifted(scenario: Scenario, seconds: float) -> Scenario:
    """The scenario with every event ``seconds`` later (after the backfilled history)."""
    events = tuple(dataclasses.replace(e, at=e.at + seconds) for e in scenario.events)
    return dataclasses.replace(scenario, events=events)


@dataclass
class DemoWorld:
    """Everything but meshbot. ``start()`` it, point meshbot at it, ``stop()`` it."""

    workdir: Path
    port: int = 0
    commands: Sequence[CommandHint] = ()
    use_prometheus: bool = True
    emulator: SlackEmulator = field(init=False)
    face: WebFace = field(init=False)
    kube: KubeTestServer = field(init=False)
    simulator: MetricsSimulator = field(init=False)
    exporter: MetricsExporter = field(init=False)
    prometheus: PrometheusProcess | None = field(default=None, init=False)
    prometheus_url: str | None = field(default=None, init=False)  # known before it serves
    _prometheus_done: threading.Event = field(default_factory=threading.Event, init=False)
    _prometheus_error: str | None = field(default=None, init=False)
    started_at: float = field(default=0.0, init=False)
    _stops: list[tuple[str, Callable[[], None]]] = field(default_factory=list, init=False)

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def url(self) -> str:
        return self.emulator.url + "/"

    @property
    def prometheus_missing(self) -> str | None:
        """Why there is no Prometheus (None when it runs)."""
        if self.prometheus is not None:
            return None
        if not self.use_prometheus:
            return "turned off with --no-prometheus"
        if self._prometheus_error:
            return f"it did not start: {self._prometheus_error}"
        return f"{PROMETHEUS} or {PROMTOOL} is not installed"

    def start(self) -> DemoWorld:
        self.started_at = time.time()
        self._start_slack()
        self.kube = KubeTestServer(version="v1.33.2")
        self.kube.load_seed(seed_path("demo"))
        self.kube.start()
        self._stops.append(("kube", self.kube.stop))
        self.kube.write_kubeconfig(self.kubeconfig)
        self._start_metrics()
        return self

    def _start_slack(self) -> None:
        emulator = SlackEmulator(
            bot_token="xoxb-demo-" + secrets.token_hex(12),
            app_token="xapp-demo-" + secrets.token_hex(12),
            signing_secret=secrets.token_hex(20),
            team_id="T0DEMO",
            team_name="meshbot demo",
            port=self.port,
        )
        for persona in PERSONAS:
            emulator.add_user(persona.user_id, persona.name.lower(), real_name=persona.name)
        emulator.add_usergroup(f"@{APPROVERS_GROUP}", ["U0BOB"], usergroup_id="S0APPROVERS")
        emulator.add_channel(MESH_OPS, "mesh-ops")
        emulator.add_channel(ONCALL, "oncall")
        self.face = WebFace(emulator, PERSONAS, self.commands, title="meshbot demo", topics=TOPICS)
        emulator.web = self.face
        self.emulator = emulator.start()
        self._stops.append(("slack", emulator.stop))

    def _start_metrics(self) -> None:
        scenario = shifted(Scenario.load(scenario_path("demo")), HISTORY_S)
        origin = self.started_at - HISTORY_S
        self.simulator = MetricsSimulator(scenario, clock=origin)
        self.exporter = MetricsExporter(self.simulator).start()
        self._stops.append(("metrics", self.exporter.stop))
        if not self.use_prometheus or not (
            prometheus_available(PROMETHEUS) and prometheus_available(PROMTOOL)
        ):
            self._prometheus_done.set()
            return
        workdir = self.workdir / "prometheus"
        workdir.mkdir(parents=True, exist_ok=True)
        process = PrometheusProcess(
            [self.exporter.target], workdir=workdir, scrape_interval="2s", port=free_port()
        )
        self._stops.append(("prometheus", process.stop))
        self.prometheus_url = process.url
        # History and promtool take seconds: meshbot starts meanwhile (wait_prometheus).
        threading.Thread(
            target=self._start_prometheus,
            args=(process, scenario, origin),
            name="demo-prometheus",
            daemon=True,
        ).start()

    def _start_prometheus(
        self, process: PrometheusProcess, scenario: Scenario, origin: float
    ) -> None:
        try:
            history = write_openmetrics(
                scenario,
                datetime.fromtimestamp(origin, UTC),
                datetime.fromtimestamp(self.started_at, UTC),
                step_s=15,
                path=process.workdir / "history.om",
                extra_labels={"job": JOB},
            )
            backfill(history, process.data_dir)
            history.unlink()
            self.prometheus = process.start(wait_for_scrape=False)
        except (OSError, PrometheusError) as exc:
            self._prometheus_error = str(exc).splitlines()[0]
            log.warning("Prometheus did not start: %s", exc)
        finally:
            self._prometheus_done.set()

    def wait_prometheus(self, timeout: float = 60.0) -> bool:
        """True once Prometheus serves; False when there is none or it failed to start."""
        self._prometheus_done.wait(timeout)
        return self.prometheus is not None

    def show_commands(self, commands: Sequence[CommandHint]) -> None:
        """The composer's command list (known once the app's registry is loaded)."""
        self.commands = commands
        self.face.commands = list(commands)

    def post_notice(self, channel: str, text: str) -> None:
        """A message from the demo itself (not from meshbot) in a channel."""
        ws = self.emulator.workspace
        if "U0DEMO" not in ws.users:
            ws.add_user("U0DEMO", "demo", real_name="meshbot demo", is_bot=True)
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
        ws.post(channel, text=text, user="U0DEMO", blocks=blocks, via="demo")
        self.emulator.recorder.notify()

    def stop(self) -> None:
        """Stop every part that started, newest first; never raises."""
        self._prometheus_done.wait(60)  # never leave a Prometheus starting behind
        while self._stops:
            name, stop = self._stops.pop()
            try:
                stop()
            except Exception as exc:  # a part that fails to stop must not keep others up
                log.warning("stopping %s: %s", name, exc)

    def remove_files(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)
