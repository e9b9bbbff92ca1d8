"""CLI parity: a pipeline plans and starts an install with `meshbot install … --output
json`, against the test server with Istio 1.29.6 installed by Helm, on real Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.sandbox.kube import KubeTestServer
from tests.fixtures.shared import shared_path
from tests.processes import CLEARED_PREFIXES

pytestmark = pytest.mark.helm


@pytest.fixture
def cli(
    istio_cluster: tuple[KubeTestServer, Path], tmp_path: Path, key_prefix: str, clean_redis: str
) -> Callable[..., subprocess.CompletedProcess[str]]:
    _, kubeconfig = istio_cluster
    config = tmp_path / "meshbot.yaml"
    config.write_text(
        f"redis: {{key_prefix: {key_prefix}}}\n"
        f"clusters: {{lab: {{kubeconfig: {kubeconfig}, context: sandbox, "
        f'install: {{charts: "{shared_path("istio-charts")}"}}}}}}\n'
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED_PREFIXES)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.app.cli", *args, "--config", str(config)],
            env={**base, "REDIS_URL": clean_redis},
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def test_a_pipeline_plans_starts_and_follows_an_install(
    cli: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    planned = cli(
        "install", "plan", "--version", "1.30.3", "--waves", "shop/quiet", "--output", "json"
    )
    assert planned.returncode == 0, planned.stderr + planned.stdout
    plan = json.loads(planned.stdout)
    assert plan["old_version"] == "1.29.6" and plan["revision"] == "1-30-3"
    assert [s["kind"] for s in plan["stages"]] == [
        "install-control-plane",
        "install-wave",
        "install-wave",
        "install-promote",
        "install-retire",
    ]
    assert [s["namespaces"] for s in plan["stages"][1:3]] == [["shop"], ["quiet"]]
    assert plan["values"]["pilot"]["autoscaleMin"] >= 2

    started = cli("install", "start", plan["id"], "--output", "json")
    assert started.returncode == 0, started.stderr + started.stdout
    acted = json.loads(started.stdout)
    assert acted["outcome"] == "done"
    first = acted["plan"]["stages"][0]
    assert first["state"] == "proposed" and first["change_id"].startswith("chg-")

    again = cli("install", "start", plan["id"], "--output", "json")
    assert again.returncode == 1 and json.loads(again.stdout)["outcome"] == "refused"
    status = cli("install", "status", plan["id"])
    assert status.returncode == 0 and "→ 1. control plane" in status.stdout
    assert first["change_id"] in status.stdout

    bad = cli("install", "plan", "--version", "latest")
    assert bad.returncode == 2 and "not an Istio version" in bad.stdout + bad.stderr
