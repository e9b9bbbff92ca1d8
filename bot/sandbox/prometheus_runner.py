"""Run the real Prometheus binary for tests, benchmarks and the demo.

A stand-in Prometheus would only prove that the bot agrees with the stand-in. This
starts Debian's ``/usr/bin/prometheus`` on 127.0.0.1 with every default path
overridden (config, TSDB, console dirs) inside a private directory, scraping given
targets every second with ``honor_labels: true`` (the simulator sets ``instance``
and ``node`` itself), and stops it by PID. ``backfill`` turns OpenMetrics history
into TSDB blocks with ``promtool`` so hours of data exist before the server starts.

Prometheus 2.42 facts this relies on: overlapping blocks are always allowed (the
``--storage.tsdb.allow-overlapping-blocks`` flag is gone), and retention counts back
from the newest block, so a long ``--storage.tsdb.retention.time`` keeps backfills.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
JOB = "meshbot-sandbox"


class PrometheusError(RuntimeError):
    """Prometheus did not start, did not scrape, or a query failed."""


def prometheus_available(binary: str = PROMETHEUS) -> bool:
    return Path(binary).is_file() or shutil.which(Path(binary).name) is not None


def _binary(path: str) -> str:
    if Path(path).is_file():
        return path
    found = shutil.which(Path(path).name)
    if found is None:
        raise FileNotFoundError(f"{path} not found: install the Debian package `prometheus`")
    return found


def _seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for unit in ("ms", "s", "m", "h"):
        if duration.endswith(unit):
            return float(duration[: -len(unit)]) * units[unit]
    return float(duration)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def backfill(openmetrics: str | Path, data_dir: str | Path, promtool: str = PROMTOOL) -> None:
    """``promtool tsdb create-blocks-from openmetrics FILE DATA_DIR``, raising on failure."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            _binary(promtool),
            *("tsdb", "create-blocks-from", "openmetrics", "--quiet"),
            str(openmetrics),
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise PrometheusError(f"promtool backfill failed: {result.stderr.strip()[-2000:]}")


def render_config(targets: Sequence[str], scrape_interval: str = "1s") -> str:
    """A prometheus.yml scraping ``targets`` (``host:port``) with ``honor_labels: true``."""
    config: dict[str, Any] = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "scrape_configs": [],
    }
    if targets:
        config["scrape_configs"].append(
            {
                "job_name": JOB,
                "honor_labels": True,
                "scrape_interval": scrape_interval,
                "scrape_timeout": scrape_interval,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": list(targets)}],
            }
        )
    return json.dumps(config, indent=2)  # JSON is YAML


class PrometheusProcess:
    """One real Prometheus server: ``with PrometheusProcess([exporter.target]) as prom:``."""

    def __init__(
        self,
        targets: Sequence[str] = (),
        *,
        data_dir: str | Path | None = None,
        workdir: str | Path | None = None,
        scrape_interval: str = "1s",
        retention: str = "10y",
        binary: str = PROMETHEUS,
        extra_args: Sequence[str] = (),
        port: int = 0,
    ) -> None:
        """``port`` 0: a free one, chosen at start (retried if taken meanwhile)."""
        self.targets = list(targets)
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="meshbot-prom-"))
        self.data_dir = Path(data_dir) if data_dir else self.workdir / "data"
        self.scrape_interval = scrape_interval
        self.retention = retention
        self.binary = binary
        self.extra_args = list(extra_args)
        self._fixed_port = port
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def log_path(self) -> Path:
        return self.workdir / "prometheus.log"

    def start(self, timeout: float = 30.0, wait_for_scrape: bool = True) -> PrometheusProcess:
        """Start and wait until ready and (with targets, unless ``wait_for_scrape`` is
        False) until every target was scraped: Prometheus 2.42 applies new targets only
        every 5 s, so that wait is ~6 s."""
        if self._process is not None:
            return self
        binary = _binary(self.binary)
        config = self.workdir / "prometheus.yml"
        config.write_text(render_config(self.targets, self.scrape_interval), encoding="utf-8")
        consoles = self.workdir / "consoles"
        consoles.mkdir(exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):  # the free port may be taken between probe and bind
            self.port = self._fixed_port or _free_port()
            self._log = self.log_path.open("ab")
            self._process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={self.data_dir}",
                    f"--storage.tsdb.retention.time={self.retention}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    f"--web.console.templates={consoles}",
                    f"--web.console.libraries={consoles}",
                    "--log.level=warn",
                    *self.extra_args,
                ],
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            try:
                self._wait_ready(timeout)
                break
            except PrometheusError:
                exited = self._process.poll() is not None
                self.stop(remove=False)
                retry = not self._fixed_port and "address already in use" in self.log_tail()
                if not exited or attempt == 2 or not retry:
                    self._cleanup()
                    raise
        try:
            if wait_for_scrape:
                self._wait_first_scrape(timeout)
        except PrometheusError:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise PrometheusError(f"prometheus exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        raise PrometheusError(f"prometheus not ready after {timeout}s:\n{self.log_tail()}")

    def _wait_first_scrape(self, timeout: float) -> None:
        if not self.targets:
            return
        deadline = time.monotonic() + timeout
        health: dict[str, str] = {}
        while time.monotonic() < deadline:
            data = self.api("targets", {"state": "active"})
            health = {
                t["labels"].get("instance", t["scrapeUrl"]): t["health"]
                for t in data["activeTargets"]
            }
            if len(health) >= len(self.targets) and all(h == "up" for h in health.values()):
                return
            time.sleep(0.2)
        raise PrometheusError(f"targets not scraped after {timeout}s: {health}\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def api(self, endpoint: str, params: dict[str, Any] | None = None) -> Any:
        """GET /api/v1/<endpoint>; returns ``data`` or raises PrometheusError."""
        response = httpx.get(f"{self.url}/api/v1/{endpoint}", params=params, timeout=10.0)
        body = response.json()
        if body.get("status") != "success":
            raise PrometheusError(f"{endpoint} {params}: {body.get('error', body)}")
        return body["data"]

    def query(self, promql: str, at: datetime | float | None = None) -> list[dict[str, Any]]:
        """Instant query (now, or ``at``); the vector's ``result`` list."""
        params: dict[str, Any] = {"query": promql}
        if at is not None:
            params["time"] = at.timestamp() if isinstance(at, datetime) else at
        return list(self.api("query", params)["result"])

    def query_values(
        self, promql: str, by: str, at: datetime | float | None = None
    ) -> dict[str, float]:
        """Instant query as ``{label value of `by`: sample value}``."""
        return {r["metric"].get(by, ""): float(r["value"][1]) for r in self.query(promql, at)}

    def wait_for(
        self, promql: str, by: str, keys: Sequence[str], timeout: float = 20.0
    ) -> dict[str, float]:
        """Poll until the query returns a finite value for every key in ``keys``."""
        deadline = time.monotonic() + timeout
        values: dict[str, float] = {}
        while time.monotonic() < deadline:
            values = self.query_values(promql, by)
            if all(k in values and values[k] == values[k] for k in keys):  # NaN != NaN
                return values
            time.sleep(0.5)
        raise PrometheusError(f"no values for {list(keys)} after {timeout}s: {values}")

    def wait_scraped_for(self, window_s: float, timeout: float = 30.0) -> None:
        """Wait until every target has ``window_s`` seconds of scrapes.

        ``rate(x[W])`` divides by W, so it is only right once W is full of samples;
        ratios such as ``histogram_quantile`` are right as soon as two samples exist.
        """
        interval = _seconds(self.scrape_interval)
        needed = max(2, int(window_s / interval))
        promql = f"min(count_over_time(up[{int(window_s)}s]))"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.query(promql)
            if result and float(result[0]["value"][1]) >= needed:
                return
            time.sleep(0.25)
        raise PrometheusError(f"fewer than {needed} scrapes in {window_s}s after {timeout}s")

    @staticmethod
    def wait_seconds(seconds: float) -> None:
        """Sleep between polls (real Prometheus runs on the wall clock)."""
        time.sleep(seconds)

    def stop(self, remove: bool = True) -> None:
        """Terminate by PID (SIGTERM, then SIGKILL after 10 s) and remove owned files."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
            else:
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if remove:
            self._cleanup()

    def _cleanup(self) -> None:
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> PrometheusProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_backfilled(
    scenario: Any,
    start: datetime,
    end: datetime,
    step_s: float = 15,
    workdir: str | Path | None = None,
    timeout: float = 60.0,
    targets: Sequence[str] = (),
) -> PrometheusProcess:
    """Write the scenario's history from ``start`` to ``end``, backfill it, start Prometheus.

    ``scenario`` is a ``bot.sandbox.metrics.Scenario``; scenario second 0 is ``start``.
    With ``targets`` (e.g. an exporter of ``MetricsSimulator(scenario, clock=start)``)
    the server also scrapes live, and the history carries the scrape job's ``job``
    label so both form one series per counter.
    """
    from bot.sandbox.metrics import write_openmetrics  # the runner is usable without it

    process = PrometheusProcess(targets, workdir=workdir)
    history = process.workdir / "history.om"
    labels = {"job": JOB} if targets else None
    try:
        write_openmetrics(scenario, start, end, step_s=step_s, path=history, extra_labels=labels)
        backfill(history, process.data_dir)
        history.unlink()
        return process.start(timeout=timeout)
    except BaseException:
        process.stop()
        raise
