"""Without REDIS_URL, `meshbot serve` and every CLI run beside it share ONE embedded
Valkey per data directory: what one process writes the others see, concurrent writers
all land, and the last process out leaves no server behind — as an operator runs them
(subprocesses, the Kubernetes test server serving Istio's CRDs, the Slack emulator).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapters import valkey_process
from bot.adapters.embedded_redis import EmbeddedRedis
from bot.sandbox.kube import KubeTestServer
from bot.sandbox.slack import SlackEmulator
from tests.integration.adapters.embedded_holder import Holder
from tests.integration.app.test_cli import MESHBOT, run
from tests.processes import CLEARED_PREFIXES, free_port, meshbot_process, wait_http

NAMESPACES = """
apiVersion: v1
kind: Namespace
metadata: {name: NS, labels: {istio-injection: enabled}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: NS}
spec: {mtls: {mode: STRICT}}
"""


@pytest.fixture
def config(kube_server_with_istio: KubeTestServer, tmp_path: Path) -> Path:
    for namespace in ("shop", "billing"):
        kube_server_with_istio.load_seed(NAMESPACES.replace("NS", namespace))
    kubeconfig = kube_server_with_istio.write_kubeconfig(tmp_path / "kubeconfig")
    path = tmp_path / "meshbot.yaml"
    path.write_text(
        f"redis: {{data_dir: {tmp_path / 'data'}}}\n"
        f"clusters: {{lab: {{kubeconfig: {kubeconfig}, context: sandbox}}}}\n"
        f"health: {{port: {free_port()}}}\n"
        "access: {operators: [U_ALICE], approvers: [U_BOB]}\n"
    )
    return path


@pytest.fixture
def cli(config: Path, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    def meshbot(*args: str) -> subprocess.CompletedProcess[str]:
        return run([*args, "--config", str(config)], {}, tmp_path)

    return meshbot


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(CLEARED_PREFIXES)}


def server_pid(tmp_path: Path) -> int:
    return EmbeddedRedis(tmp_path / "data").pid


@pytest.fixture
def serve(
    config: Path, tmp_path: Path, slack_emulator: SlackEmulator
) -> Iterator[subprocess.Popen[str]]:
    env = {
        "SLACK_BOT_TOKEN": slack_emulator.bot_token,
        "SLACK_APP_TOKEN": slack_emulator.app_token,
        "SLACK_API_URL": slack_emulator.api_url,
    }
    health = config.read_text().split("health: {port: ")[1].split("}")[0]
    with meshbot_process(["serve", "--config", str(config)], env, tmp_path) as process:
        wait_http(f"http://127.0.0.1:{health}/readyz", ok_only=True)  # pinged: store joined
        yield process
    pid = server_pid(tmp_path)
    if pid and not valkey_process.gone(pid):
        valkey_process.kill(pid)


def ask_slack(slack: SlackEmulator, text: str, user: str = "U_ALICE") -> str:
    url = slack.new_response_url("C_OPS", user)
    slack.socket.send_slash_command(text=text, user_id=user, response_url=url)
    post = slack.wait_for(lambda: slack.responses(url), timeout=20)[0]
    return str(post.body["text"])


def test_a_change_rejected_on_the_cli_is_rejected_for_the_serving_bot(
    serve: subprocess.Popen[str],
    cli: Callable[..., Any],
    slack_emulator: SlackEmulator,
    tmp_path: Path,
) -> None:
    proposed = cli("mtls", "permissive", "--namespace", "shop", "--output", "json")
    assert proposed.returncode == 0, proposed.stderr
    change = json.loads(proposed.stdout)["id"]
    assert ask_slack(slack_emulator, f"change {change}").endswith(f"({change}): proposed")

    rejected = cli("change", "reject", change, "--reason", "wrong namespace")
    assert rejected.returncode == 0, rejected.stdout + rejected.stderr
    assert ask_slack(slack_emulator, f"change {change}").endswith(f"({change}): rejected")
    approve = ask_slack(slack_emulator, f"change approve {change}", user="U_BOB")
    assert f"{change} is already rejected; nothing to approve" in approve

    pid = server_pid(tmp_path)
    serve.send_signal(signal.SIGTERM)
    assert serve.wait(timeout=30) == 0
    assert valkey_process.gone(pid)  # the CLI runs came and went; serve was the last out


def test_sigterm_of_serve_with_a_process_beside_it_leaves_no_server(
    serve: subprocess.Popen[str], tmp_path: Path
) -> None:
    beside = Holder(tmp_path / "data")  # a CLI run in the middle of its command
    try:
        assert beside.how == "joined"
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=30) == 0
        assert beside.ask("put still:here yes") == "ok"  # serve left; the server stayed
        beside.detach()
        assert valkey_process.gone(beside.server_pid)
    finally:
        beside.close()


def test_two_concurrent_writers_both_land(
    cli: Callable[..., Any], config: Path, tmp_path: Path
) -> None:
    writers = [
        subprocess.Popen(
            [
                *MESHBOT,
                "mtls",
                "permissive",
                "--namespace",
                ns,
                "--output",
                "json",
                "--config",
                str(config),
            ],
            env=clean_env(),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for ns in ("shop", "billing")
    ]
    ids = set()
    for writer in writers:
        out, err = writer.communicate(timeout=60)
        assert writer.returncode == 0, err
        ids.add(json.loads(out)["id"])
    history = cli("history", "--output", "json")
    assert {row["id"] for row in json.loads(history.stdout)} == ids
    assert server_pid(tmp_path) == 0  # the last one out stopped it


def test_kill_9_of_serve_then_the_next_cli_recovers(
    serve: subprocess.Popen[str], cli: Callable[..., Any], tmp_path: Path
) -> None:
    change = json.loads(
        cli("mtls", "permissive", "--namespace", "billing", "--output", "json").stdout
    )["id"]
    pid = server_pid(tmp_path)
    serve.send_signal(signal.SIGKILL)
    serve.wait(timeout=30)
    assert not valkey_process.gone(pid)  # orphaned, still holding the data

    shown = cli("change", change)
    assert shown.returncode == 0 and change in shown.stdout and "proposed" in shown.stdout
    assert valkey_process.gone(pid)  # the CLI joined it, was the last out, and stopped it


@pytest.mark.parametrize(
    "args",
    [["help"], ["version"], ["frobnicate"], ["preflight", "--output", "json"], ["mtls", "status"]],
)
def test_commands_that_need_no_state_start_no_server(
    cli: Callable[..., Any], tmp_path: Path, args: list[str]
) -> None:
    done = cli(*args)
    assert "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "data" / "valkey").exists()
