"""`meshbot demo`: the whole product on one machine, in one command, in the browser.

It starts, on 127.0.0.1 only: an embedded Valkey with its own data folder, the world of
bot/sandbox/demo.py (Slack emulator with its browser workspace, the Kubernetes test
server seeded with the demo cluster, the metrics simulator, real Prometheus with the
past hour backfilled when the binary is there), and then meshbot itself, unchanged:
`meshbot serve --http` in a child process, configured for all of it, reached by
signed requests from the emulator exactly as Slack sends them. It prints one URL.
SIGINT/SIGTERM stop everything it started, meshbot first; the temporary folder goes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import webbrowser
from pathlib import Path
from typing import IO, Any

import httpx

from bot.adapters.embedded_redis import EmbeddedRedis
from bot.sandbox.demo import APPROVERS_GROUP, MESH_OPS, ONCALL, DemoWorld, free_port
from bot.sandbox.slack.web import CommandHint

CLUSTER = "demo"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
INSTALL_PROMETHEUS = "apt-get install prometheus"


class DemoError(Exception):
    """A part did not start; the message says which and why."""


def demo_command(options: dict[str, Any]) -> int:
    """`meshbot demo [--port N] [--open] [--no-prometheus]` (flags parsed by the CLI)."""
    port = int(options.get("port", 3300))
    open_page = bool(options.get("open"))
    use_prometheus = not options.get("no_prometheus")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    started = time.monotonic()
    run = DemoRun(port, use_prometheus=use_prometheus)
    try:
        try:
            run.start()
        except DemoError as exc:
            print(f"meshbot demo: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                exc = OSError(f"port {port} is in use; pick another with --port N (0: any)")
            print(f"meshbot demo: {exc}", file=sys.stderr)
            return 1
        seconds = time.monotonic() - started
        print(f"meshbot demo is ready: {run.world.url}", flush=True)
        print(f"(started in {seconds:.1f} s; Ctrl-C stops it)", file=sys.stderr, flush=True)
        if run.world.prometheus is None:
            print(
                f"No Prometheus ({run.world.prometheus_missing}): running without watchers "
                f"and traffic data; `{INSTALL_PROMETHEUS}` adds them.",
                file=sys.stderr,
            )
        if open_page:
            webbrowser.open(run.world.url)
        while not stop.wait(0.5):
            if run.meshbot_exited():
                print(f"meshbot demo: meshbot stopped:\n{run.log_tail()}", file=sys.stderr)
                return 1
        return 0
    finally:
        run.stop()


def command_hints() -> list[CommandHint]:
    """The composer's command list: meshbot's own registry, as `/mesh help` lists it.

    Imported here, not at the top: the registry pulls in every adapter (seconds on a
    busy machine), and this runs while meshbot's own process starts."""
    from bot.app.registry import build_registry

    return [CommandHint(s.name, s.usage, s.summary, s.role.label) for s in build_registry().specs()]


def meshbot_config(world: DemoWorld, http_port: int, health_port: int) -> str:
    """meshbot's config for the demo: one cluster, the demo users' roles, short windows."""
    url = world.prometheus_url
    prom = f'\n    prometheus: {{url: "{url}"}}' if url else ""
    return f"""# written by `meshbot demo`
clusters:
  {CLUSTER}:
    kubeconfig: {world.kubeconfig}
    context: sandbox
    oncall_channel: {ONCALL}{prom}
access:
  operators: [U0ALICE]
  approvers: ["@{APPROVERS_GROUP}"]
  viewers: [U0CAROL]
  default_role: none
http: {{host: 127.0.0.1, port: {http_port}, threads: 8}}
health: {{host: 127.0.0.1, port: {health_port}}}
changes:
  default_policy: {{approvers: ["@{APPROVERS_GROUP}"], approvals: 1, expiry_minutes: 60}}
  sweep_interval_s: 1
  hold_retry_s: 5
  verify_lease_s: 15
  mtls: {{bake_window_s: 20, bake_min_requests: 20}}
timeouts: {{bake_window: 30s}}
watchers:
  cycle_s: 5
  lease_ttl_s: 6
  edit_interval_s: 10
  blind_for_s: 30
  latency: {{default_ms: 500, window: 1m, for_s: 15, min_rps: 1}}
  steal: {{warn_pct: 10, critical_pct: 20, window: 1m, for_s: 20}}
log_level: INFO
"""


class DemoRun:
    """The started parts and meshbot's process; `stop()` ends them, newest first."""

    def __init__(self, port: int, use_prometheus: bool = True) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="meshbot-demo-"))
        self.world = DemoWorld(self.workdir, port, use_prometheus=use_prometheus)
        self.valkey = EmbeddedRedis(self.workdir)
        self.meshbot: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._started: list[str] = []

    @property
    def log_path(self) -> Path:
        return self.workdir / "meshbot.log"

    def start(self) -> None:
        redis_url = self.valkey.start()
        self._started.append("valkey")
        self._started.append("world")
        self.world.start()
        http_port, health_port = free_port(), free_port()
        config = self.workdir / "meshbot.yaml"
        config.write_text(meshbot_config(self.world, http_port, health_port), encoding="utf-8")
        self._spawn(config, redis_url)
        self.world.show_commands(command_hints())
        if not self.world.wait_prometheus() and self.world.prometheus_url:
            # it failed after meshbot was told about it: restart meshbot without it
            self.world.prometheus_url = None
            self._stop_meshbot()
            config.write_text(meshbot_config(self.world, http_port, health_port), "utf-8")
            self._spawn(config, redis_url)
        self._wait_ready(f"http://127.0.0.1:{health_port}/readyz")
        self.world.face.relay.request_url = f"http://127.0.0.1:{http_port}/slack/events"
        self._welcome()

    def _spawn(self, config: Path, redis_url: str) -> None:
        emulator = self.world.emulator
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("SLACK_") and k not in ("REDIS_URL", "MESHBOT_CONFIG")
        }
        env.update(
            SLACK_BOT_TOKEN=emulator.bot_token,
            SLACK_SIGNING_SECRET=emulator.signing_secret,
            SLACK_API_URL=emulator.api_url,
            REDIS_URL=redis_url,
            PYTHONUNBUFFERED="1",
        )
        self._log = self.log_path.open("ab")
        self.meshbot = subprocess.Popen(
            [sys.executable, "-m", "bot.app.cli", "serve", "--http", "--config", str(config)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the demo, which stops meshbot first
        )

    def _wait_ready(self, readyz: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.meshbot_exited():
                raise DemoError(f"meshbot did not start:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(readyz, timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        raise DemoError(f"meshbot was not ready after {READY_TIMEOUT_S:.0f} s:\n{self.log_tail()}")

    def _welcome(self) -> None:
        world = self.world
        world.post_notice(
            MESH_OPS,
            ":wave: *Welcome to the meshbot demo.* This workspace, the cluster `demo` and its "
            "traffic are local; meshbot itself is the real thing.\n"
            "• Type `/mesh` and a space to see the commands; `/mesh preflight` checks the nodes.\n"
            "• `/mesh mtls status`, then `/mesh mtls strict namespace=payments` as *Alice* "
            "(operator); switch to *Bob* (approver, top right) to approve it — nobody approves "
            "their own change.\n"
            "• `/mesh timeouts audit` finds VirtualServices that fight the app.\n"
            "• Watch #oncall: checkout's latency regresses about 1½ minutes in, node-c "
            "gets a noisy neighbour at 3 minutes; both recover a few minutes later.",
        )
        if world.prometheus is None:
            note = (
                f":warning: *No Prometheus* ({world.prometheus_missing}), so this "
                "demo runs without the watchers (no alerts in #oncall) and without traffic "
                "data: preflight's steal checks, mTLS gates and bake windows show `unknown` "
                f"and hold. Install it with `{INSTALL_PROMETHEUS}` and restart `meshbot demo`."
            )
            world.post_notice(MESH_OPS, note)
            world.post_notice(ONCALL, note)

    def meshbot_exited(self) -> bool:
        return self.meshbot is not None and self.meshbot.poll() is not None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def _stop_meshbot(self) -> None:
        process, self.meshbot = self.meshbot, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        self._stop_meshbot()
        if "world" in self._started:
            self.world.stop()
        if "valkey" in self._started:
            self.valkey.stop()
        self.world.remove_files()
