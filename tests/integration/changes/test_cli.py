"""Changes from the command line: propose, list, show and approve — through the same
pipeline as Slack, on the Kubernetes test server and real Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.sandbox.kube import KubeTestServer
from bot.sandbox.kube.seeds import seed_path
from tests.processes import CLEARED_PREFIXES


@pytest.fixture
def cli(kube_server_with_istio: KubeTestServer, tmp_path: Path, key_prefix: str, clean_redis: str):
    kube_server_with_istio.load_seed(seed_path("healthy"))
    kubeconfig = kube_server_with_istio.write_kubeconfig(tmp_path / "kubeconfig")
    config = tmp_path / "meshbot.yaml"
    config.write_text(
        f"redis: {{key_prefix: {key_prefix}}}\n"
        f"clusters: {{lab: {{kubeconfig: {kubeconfig}, context: sandbox}}}}\n"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED_PREFIXES)}

    def run(*args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.app.cli", *args, "--config", str(config)],
            env={**base, "REDIS_URL": clean_redis},
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


def test_a_change_proposed_on_the_command_line_is_listed_and_shown(cli) -> None:
    proposed = cli("mtls", "strict", "--namespace", "shop", "--output", "json")
    assert proposed.returncode == 0, proposed.stderr
    change = json.loads(proposed.stdout)
    assert change["state"] == "proposed" and change["cluster"] == "lab"
    assert change["id"].startswith("chg-")
    gates = {g["name"]: g["status"] for g in change["gates"]}
    assert "fail" in gates.values() or "unknown" in gates.values()  # no Prometheus: not ready

    history = cli("history", "--output", "json")
    assert [row["id"] for row in json.loads(history.stdout)] == [change["id"]]

    shown = cli("change", change["id"])
    assert shown.returncode == 0
    assert change["id"] in shown.stdout and "gate" in shown.stdout and "proposed" in shown.stdout


def test_the_requester_cannot_approve_their_own_change_from_the_cli(cli) -> None:
    change = json.loads(cli("mtls", "strict", "--namespace", "shop", "--output", "json").stdout)
    approved = cli("change", "approve", change["id"], "--override", "testing")
    assert approved.returncode == 1
    assert "refused" in approved.stdout
