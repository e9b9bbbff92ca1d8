"""The sandbox as the README uses it: each part started with `meshbot sandbox …` in its
own process, meshbot pointed at it, and the story each seed tells told back."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from bot.sandbox.prometheus_runner import PrometheusProcess, backfill
from tests.fixtures.prometheus import require_prometheus
from tests.processes import free_port, meshbot_process, run_meshbot, stop, wait_http


def read_until(process: subprocess.Popen[str], marker: str) -> list[str]:
    """Lines the process printed up to and including the one holding `marker`."""
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    raise AssertionError(f"the process ended before printing {marker!r}: {lines}")


@pytest.fixture
def sandbox_cluster(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """`meshbot sandbox cluster --seed SEED` in its own process; returns its kubeconfig."""
    with ExitStack() as stack:

        def start(seed: str) -> Path:
            port, kubeconfig = free_port(), tmp_path / f"{seed}.kubeconfig"
            args = ["sandbox", "cluster", "--seed", seed, "--port", str(port)]
            process = stack.enter_context(
                meshbot_process([*args, "--kubeconfig-out", str(kubeconfig)])
            )
            lines = read_until(process, "Ctrl-C stops it.")
            assert lines[0].startswith(f"Kubernetes API test server at http://127.0.0.1:{port}")
            return kubeconfig

        yield start


def test_mtls_mid_migration_one_namespace_ready_one_not_with_hours_of_history(
    sandbox_cluster, tmp_path: Path, clean_redis: str
) -> None:
    require_prometheus()
    require_prometheus("/usr/bin/promtool")
    kubeconfig = sandbox_cluster("mtls")
    history = tmp_path / "history.om"
    scenario = ["--scenario", "mtls-mid-migration", "--history", "2h"]
    written = run_meshbot(["sandbox", "metrics", *scenario, "--out", str(history)])
    assert written.returncode == 0, written.stderr
    assert written.stdout.startswith("wrote mtls-mid-migration from ")
    tsdb = tmp_path / "tsdb"
    backfill(history, tsdb)
    port = free_port()
    with meshbot_process(["sandbox", "metrics", *scenario, "--port", str(port)]) as metrics:
        read_until(metrics, "Ctrl-C stops it.")
        with PrometheusProcess([f"127.0.0.1:{port}"], data_dir=tsdb, workdir=tmp_path) as prom:
            # the past is there at once: traffic 90 minutes ago
            ninety = prom.query("sum(rate(istio_requests_total[5m] offset 90m))")
            assert ninety and float(ninety[0]["value"][1]) > 10
            flags = ["--kubeconfig", str(kubeconfig), "--prometheus", prom.url]
            done = run_meshbot(
                ["mtls", "status", *flags, "--output", "json"], env={"REDIS_URL": clean_redis}
            )
        assert stop(metrics) == 0
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    by_ns = {ns["namespace"]: ns for ns in status["namespaces"]}
    assert status["mesh_mode"] == "PERMISSIVE" and set(by_ns) == {"shop", "billing"}
    assert by_ns["shop"]["verdict"] == "ready for STRICT"
    billing = by_ns["billing"]
    assert not billing["ready"]
    assert billing["without_sidecar"] == ["invoice-export-29412730-t3u4v"]
    assert [e["source"] for e in billing["plaintext"]] == ["outside the mesh"]


def test_the_timeouts_seed_serves_virtualservices_that_fight_the_app(
    sandbox_cluster, clean_redis: str
) -> None:
    kubeconfig = sandbox_cluster("timeouts")
    done = run_meshbot(
        ["timeouts", "audit", "--kubeconfig", str(kubeconfig), "--output", "json"],
        env={"REDIS_URL": clean_redis},
    )
    assert done.returncode == 1, done.stderr  # error-severity findings
    rules = {(f["rule"], f["subject"]) for f in json.loads(done.stdout)["findings"]}
    assert ("retries-exceed-timeout", "payments/payments route #0") in rules
    assert ("retries-without-timeout", "shop/reviews route canary") in rules


def test_a_seed_or_scenario_that_does_not_exist_lists_the_ones_that_do() -> None:
    seed = run_meshbot(["sandbox", "cluster", "--seed", "nosuch"])
    assert seed.returncode == 2
    assert seed.stderr.strip() == (
        "meshbot: --seed: no seed `nosuch`: give a shipped seed (demo, healthy, large, "
        "mtls, problems, timeouts) or the path of a seed YAML file"
    )
    scenario = run_meshbot(["sandbox", "metrics", "--scenario", "nosuch"])
    assert scenario.returncode == 2
    assert "give a shipped scenario (baseline, demo, latency-spike, mtls-mid-migration" in (
        scenario.stderr
    )
    out = run_meshbot(["sandbox", "metrics", "--scenario", "baseline", "--out", "x.om"])
    assert out.returncode == 2 and "say how much with --history 2h" in out.stderr
    for result in (seed, scenario, out):
        assert "Traceback" not in result.stderr and "Errno" not in result.stderr


def test_sandbox_slack_prints_what_it_accepts_and_serve_connects_with_it(
    tmp_path: Path, clean_redis: str, key_prefix: str
) -> None:
    port = free_port()
    with meshbot_process(["sandbox", "slack", "--port", str(port)]) as emulator:
        banner = read_until(emulator, "Ctrl-C stops it.")
        exports = dict(
            line.strip().removeprefix("export ").split("=", 1)
            for line in banner
            if line.strip().startswith("export ")
        )
        assert set(exports) == {
            "SLACK_API_URL",
            "SLACK_BOT_TOKEN",
            "SLACK_APP_TOKEN",
            "SLACK_SIGNING_SECRET",
        }
        assert exports["SLACK_API_URL"] == f"http://127.0.0.1:{port}/api/"
        assert f"bot token       {exports['SLACK_BOT_TOKEN']}" in "\n".join(banner)
        health = free_port()
        config = tmp_path / "meshbot.yaml"
        config.write_text(
            f"redis: {{key_prefix: {key_prefix}}}\nhealth: {{host: 127.0.0.1, port: {health}}}\n"
        )
        env = {**exports, "REDIS_URL": clean_redis}
        with meshbot_process(["serve", "--config", str(config)], env=env) as bot:
            ready = wait_http(f"http://127.0.0.1:{health}/readyz", timeout=60, ok_only=True)
            assert ready.status_code == 200
            assert stop(bot) == 0
        assert httpx.post(
            f"http://127.0.0.1:{port}/api/auth.test",
            headers={"Authorization": f"Bearer {exports['SLACK_BOT_TOKEN']}"},
        ).json()["ok"]
