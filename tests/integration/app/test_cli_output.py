"""What `meshbot` prints, against the Kubernetes API test server, as a user sees it: in a
pipe, in a terminal (a pseudo-terminal here), with NO_COLOR, narrow, cut short by `head`;
and the errors of a cluster given wrongly (kubeconfig missing, wrong context, bad type)."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.kube import KubeTestServer, generate_large_cluster
from bot.sandbox.kube.seeds import seed_path
from tests.processes import CLEARED_PREFIXES, run_meshbot

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
COLOUR = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def problems(tmp_path: Path) -> Iterator[Path]:
    """A kubeconfig (current context `sandbox`) for a server seeded with `problems`."""
    with KubeTestServer() as server:
        server.load_seed(seed_path("problems"))
        yield server.write_kubeconfig(tmp_path / "kubeconfig")


def on_terminal(
    args: list[str], env: dict[str, str], tmp_path: Path, stderr_only: bool = False
) -> tuple[int, str, str]:
    """Run meshbot with stdout and stderr on a pseudo-terminal (or only stderr, stdout to a
    file); returns the exit status, what reached the terminal, and the file's text."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED_PREFIXES)}
    base.pop("NO_COLOR", None)
    master, slave = pty.openpty()
    out_file = tmp_path / "stdout.txt"
    with out_file.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.app.cli", *args],
            stdin=subprocess.DEVNULL,
            stdout=out if stderr_only else slave,
            stderr=slave,
            env={**base, **env},
        )
        os.close(slave)
        chunks: list[bytes] = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the process closed its side of the terminal
                break
            if not data:
                break
            chunks.append(data)
        code = process.wait(timeout=120)
    os.close(master)
    seen = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    return code, seen, out_file.read_text()


def test_preflight_in_a_pipe_has_no_colour_and_wraps_at_100(problems: Path) -> None:
    done = run_meshbot(["preflight", "--kubeconfig", str(problems)])
    assert done.returncode == 1  # the problems seed has failing checks
    assert not ANSI.search(done.stdout)
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert not any(line.endswith("…") for line in lines)  # nothing cut
    # the cluster from --kubeconfig is named after its context, not `cli`
    assert lines[0].startswith("Preflight of sandbox for Istio 1.30")
    # every failing finding shows its fix, whole
    assert "fix: run the container as another UID (securityContext.runAsUser)" in done.stdout
    # identical findings are one: 7 nodes without Prometheus data
    steal = [line for line in lines if line.startswith("UNKNOWN node.steal")]
    assert steal == [
        "UNKNOWN node.steal on 7 nodes: node-cpu-full, node-mem-pressure, node-no-aes … and 4 more"
    ]
    passes = " ".join(done.stdout.split("PASS ", 1)[1].split("Sizing")[0].split())
    assert "cluster.kubernetes-version (1 cluster)" in passes and "subjects" not in passes


def test_preflight_on_a_terminal_is_coloured_and_as_wide_as_the_terminal(
    problems: Path, tmp_path: Path
) -> None:
    code, seen, _ = on_terminal(
        ["preflight", "--kubeconfig", str(problems)], {"COLUMNS": "72"}, tmp_path
    )
    assert code == 1
    assert "\x1b[31;1mFAIL\x1b[0m node.conditions on 2 nodes" in seen
    plain = ANSI.sub("", seen)
    assert max(len(line) for line in plain.split("Sizing advice")[0].splitlines()) <= 72
    code, seen, _ = on_terminal(
        ["preflight", "--kubeconfig", str(problems)], {"COLUMNS": "72", "NO_COLOR": "1"}, tmp_path
    )
    assert code == 1 and "FAIL node.conditions on 2 nodes" in seen
    assert not COLOUR.search(seen)


def test_a_slow_command_shows_progress_on_a_terminal_stderr_only(
    tmp_path: Path,
) -> None:
    with KubeTestServer() as server:
        server.load_seed(seed_path("healthy"))
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        server.faults.add(method="GET", path_regex="^/version", hang=2.5, count=1)
        code, seen, stdout = on_terminal(
            ["preflight", "--kubeconfig", str(kubeconfig)], {}, tmp_path, stderr_only=True
        )
    assert code == 0, seen
    assert "preflight…" in seen and "\x1b[K" in seen  # drawn, then wiped
    assert stdout.startswith("Preflight of sandbox") and "preflight…" not in stdout
    piped = run_meshbot(["preflight", "--kubeconfig", str(kubeconfig)])
    assert "preflight…" not in piped.stderr


def test_output_cut_short_by_head_is_no_error(problems: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED_PREFIXES)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.app.cli", "preflight", "--kubeconfig", str(problems)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before meshbot writes a line
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=120) == 0
    assert stderr == ""
    shell = subprocess.run(
        [
            "bash",
            "-c",
            f"{sys.executable} -m bot.app.cli --help | head -1; echo ${{PIPESTATUS[0]}}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert shell.stdout.splitlines()[-1] == "0" and "Traceback" not in shell.stderr


def test_two_thousand_identical_findings_are_one_line(tmp_path: Path) -> None:
    with KubeTestServer() as server:
        server.load_objects(generate_large_cluster())
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        done = run_meshbot(["preflight", "--kubeconfig", str(kubeconfig)], timeout=300)
    assert done.returncode in (0, 1), done.stderr
    findings = done.stdout.split("Sizing advice")[0].splitlines()
    assert (
        "UNKNOWN node.steal on 2,000 nodes: node-00000, node-00001, node-00002 … and 1,997 more"
        in findings
    )
    assert len(findings) < 50  # not one line per node (2,284 lines before)


def test_a_missing_kubeconfig_is_refused_at_start_naming_the_cluster(tmp_path: Path) -> None:
    config = tmp_path / "meshbot.yaml"
    config.write_text(f"clusters: {{prod: {{kubeconfig: {tmp_path / 'nope'}}}}}\n")
    for command in (["history"], ["status"], ["serve"]):
        done = run_meshbot([*command, "--config", str(config)], cwd=tmp_path)
        assert done.returncode == 2, done.stdout
        assert done.stderr.strip() == (
            f"meshbot: cluster `prod`: no kubeconfig at {tmp_path / 'nope'} "
            "(fix clusters.prod.kubeconfig, or use in_cluster: true inside the cluster)"
        )
    implicit = tmp_path / "implicit.yaml"
    implicit.write_text("clusters: {prod: {context: prod}}\n")
    done = run_meshbot(["status", "--config", str(implicit)], env={"HOME": str(tmp_path)})
    assert done.returncode == 2
    assert f"no kubeconfig at {tmp_path}/.kube/config (set clusters.prod.kubeconfig" in done.stderr
    flag = run_meshbot(["preflight", "--kubeconfig", str(tmp_path / "nope")])
    assert flag.returncode == 2 and "--kubeconfig: no such file" in flag.stderr
    assert "Invalid kube-config" not in done.stderr + flag.stderr


def test_a_context_the_kubeconfig_lacks_names_the_ones_it_has(problems: Path) -> None:
    done = run_meshbot(["preflight", "--kubeconfig", str(problems), "--context", "prod"])
    assert done.returncode == 2
    assert f"context `prod` is not in {problems} (its contexts: sandbox)" in done.stderr


def test_a_kubeconfig_that_is_not_a_path_says_what_it_must_be(tmp_path: Path) -> None:
    config = tmp_path / "meshbot.yaml"
    config.write_text("clusters:\n  prod:\n    kubeconfig: 42\n")
    done = run_meshbot(["status", "--config", str(config)])
    assert done.returncode == 2
    assert (
        "clusters.prod.kubeconfig: must be a file path (text, e.g. ~/.kube/config), not `42`"
        in (done.stderr)
    )
    assert "pathlib" not in done.stderr


def test_watch_status_of_an_unknown_cluster_is_a_usage_error(
    problems: Path, clean_redis: str
) -> None:
    done = run_meshbot(
        ["watch", "status", "nosuch", "--kubeconfig", str(problems)], {"REDIS_URL": clean_redis}
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: unknown cluster `nosuch` (configured: `sandbox`)",
        "usage: meshbot watch status [CLUSTER]",
    ]


def test_history_columns_line_up_and_mtls_status_counts_read_well(
    tmp_path: Path, clean_redis: str, key_prefix: str
) -> None:
    config = tmp_path / "meshbot.yaml"
    config.write_text(f"redis: {{key_prefix: {key_prefix}}}\n")
    with KubeTestServer() as server:
        server.load_seed(seed_path("mtls"))
        server.load_seed(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: empty\n"
            "  labels: {istio-injection: enabled}\n"
        )
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        flags = ["--kubeconfig", str(kubeconfig), "--config", str(config)]
        env = {"REDIS_URL": clean_redis}
        status = run_meshbot(["mtls", "status", *flags], env)
        for namespace in ("shop", "billing"):
            proposed = run_meshbot(["mtls", "strict", "--namespace", namespace, *flags], env)
            assert proposed.returncode == 0, proposed.stderr
        history = run_meshbot(["history", *flags], env)
    assert status.returncode == 0, status.stderr
    assert "pass sidecars: no pods yet" in status.stdout
    assert "fail sidecars: 1 of 3 pods has no istio-proxy: invoice-export-" in status.stdout
    assert "pass sidecars: all 4 pods have istio-proxy" in status.stdout
    assert "0/0" not in status.stdout
    lines = history.stdout.splitlines()
    assert lines[0].split() == ["ID", "CREATED", "CLUSTER", "STATE", "KIND", "BY", "TITLE"]
    starts = {line.index("mtls-strict") for line in lines[1:]}
    assert len(lines) == 3 and starts == {lines[0].index("KIND")}


def test_prometheus_unreachable_is_said_once(problems: Path) -> None:
    done = run_meshbot(
        ["preflight", "--kubeconfig", str(problems), "--prometheus", "http://127.0.0.1:1"]
    )
    notes = " ".join(done.stdout.split("note: ", 1)[1].split("Sizing")[0].split())
    assert notes.startswith("steal time and Prometheus CPU flags unknown: Prometheus at http://")
    assert "Prometheus: Prometheus" not in done.stdout


def test_json_output_is_unchanged_by_terminals(problems: Path, tmp_path: Path) -> None:
    code, seen, stdout = on_terminal(
        ["preflight", "--kubeconfig", str(problems), "--output", "json"],
        {},
        tmp_path,
        stderr_only=True,
    )
    assert code == 1 and "{" not in seen  # stderr may show progress, never the report
    report = json.loads(stdout)
    assert report["cluster"] == "sandbox" and report["summary"]["fail"] > 0
