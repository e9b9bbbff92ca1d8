"""A flaky API server, through the Kubernetes test server's fault injection.

Reads survive a transient 500, 429 or dropped connection; writes are sent again only
when the server cannot have applied them (429, connection refused); a hang says "timed
out after N s"; and a command's sequential reads share one deadline instead of adding
up their timeouts. Commands run as the user runs them (`meshbot …` in a subprocess,
configured with a YAML file); writes through the adapter the change pipeline uses.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bot.adapters.kube import KubeCluster
from bot.sandbox.kube import KubeTestServer
from bot.sandbox.kube.seeds import seed_path
from commands.changes.model import ObjectRef
from commands.core.errors import ClusterUnavailable
from tests.integration.app.test_cli import run
from tests.processes import free_port

CM = ObjectRef("v1", "ConfigMap", "configmaps", "settings", "default")


def meshbot(
    tmp_path: Path, kubeconfig: Path, *args: str, timeout: float = 1, deadline: float = 60
) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "meshbot.yaml"
    config.write_text(
        f"redis: {{data_dir: {tmp_path / 'data'}}}\n"
        f"clusters: {{lab: {{kubeconfig: {kubeconfig}, context: sandbox, "
        f"request_timeout_s: {timeout}, command_deadline_s: {deadline}}}}}\n"
    )
    return run([*args, "--config", str(config)], {}, tmp_path)


def test_one_transient_500_does_not_stop_the_preflight(
    kube_server: KubeTestServer, kubeconfig: Path, tmp_path: Path
) -> None:
    kube_server.load_seed(seed_path("healthy"))
    fault = kube_server.faults.add(method="GET", path_regex=r"^/api/v1/pods", status=500, count=1)
    done = meshbot(tmp_path, kubeconfig, "preflight", "--output", "json", timeout=20)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert "checks" in report, report
    assert fault.hits == 1 and report["cluster"] == "lab"
    assert any(c["id"].startswith("pod.") for c in report["checks"])  # pods read on the retry
    assert not any("cannot list pods" in json.dumps(c) for c in report["checks"])


def test_429_and_a_dropped_connection_are_retried_for_reads(
    kube_server: KubeTestServer, kubeconfig: Path
) -> None:
    kube_server.load_seed("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n")
    kube_server.faults.add(
        method="GET", path_regex="configmaps", status=429, count=1, retry_after=1
    )
    kube_server.faults.add(method="GET", path_regex="configmaps", reset=True, count=1)
    cluster = KubeCluster("lab", kubeconfig=str(kubeconfig), context="sandbox", timeout_s=20)
    try:
        assert cluster.get_object(CM)["metadata"]["name"] == "settings"
    finally:
        cluster.close()
    assert [rule.hits for rule in kube_server.faults.rules()] == []  # both faults used up


def test_a_write_answered_500_is_not_sent_again(
    kube_server: KubeTestServer, kubeconfig: Path
) -> None:
    kube_server.load_seed("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n")
    fault = kube_server.faults.add(method="PATCH", path_regex="configmaps", status=500)
    cluster = KubeCluster("lab", kubeconfig=str(kubeconfig), context="sandbox", timeout_s=20)
    try:
        with pytest.raises(ClusterUnavailable, match="answered 500"):
            cluster.patch_object(CM, {"data": {"mode": "STRICT"}})
    finally:
        cluster.close()
    assert fault.hits == 1  # every PATCH would get the 500: only one was sent
    assert "data" not in kube_server.get_object("v1", "configmaps", "settings", "default")


def test_a_write_refused_with_429_is_sent_again_and_lands_once(
    kube_server: KubeTestServer, kubeconfig: Path
) -> None:
    kube_server.load_seed("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n")
    fault = kube_server.faults.add(method="PATCH", path_regex="configmaps", status=429, count=1)
    cluster = KubeCluster("lab", kubeconfig=str(kubeconfig), context="sandbox", timeout_s=20)
    try:
        cluster.patch_object(CM, {"data": {"mode": "STRICT"}})
    finally:
        cluster.close()
    assert fault.hits == 1  # refused once, then sent again
    stored = kube_server.get_object("v1", "configmaps", "settings", "default")
    assert stored["data"] == {"mode": "STRICT"}


def test_a_refused_connection_says_unreachable(tmp_path: Path) -> None:
    server = KubeTestServer(port=free_port())
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")  # nothing listens there
    cluster = KubeCluster("lab", kubeconfig=str(kubeconfig), context="sandbox", timeout_s=20)
    try:
        with pytest.raises(ClusterUnavailable) as failure:
            cluster.server_version()
    finally:
        cluster.close()
    assert "unreachable" in str(failure.value) and "timed out" not in str(failure.value)


def test_a_hang_says_timed_out_after_the_request_timeout(
    kube_server: KubeTestServer, kubeconfig: Path, tmp_path: Path
) -> None:
    kube_server.load_seed(seed_path("healthy"))
    hang = kube_server.faults.add(method="GET", path_regex=r"^/api/v1/nodes", hang=30)
    done = meshbot(tmp_path, kubeconfig, "preflight", timeout=5)
    output = done.stdout + done.stderr
    assert "GET /api/v1/nodes timed out after 5 s" in output, output
    assert "unreachable" not in output and "Traceback" not in output
    assert hang.hits == 1  # a timeout is not retried


def test_sequential_reads_share_one_deadline_and_say_what_was_cut(
    kube_server_with_istio: KubeTestServer, kubeconfig: Path, tmp_path: Path
) -> None:
    """`mtls status` reads one thing after another; each read hangs 2 s (under the 3 s
    request timeout), so without a deadline they would add up; with a 5 s deadline the
    command stops and says which read it cut."""
    kube_server_with_istio.load_seed(seed_path("healthy"))
    hang = kube_server_with_istio.faults.add(method="GET", path_regex="^/api", hang=2)
    done = meshbot(tmp_path, kubeconfig, "mtls", "status", timeout=3, deadline=5)
    output = done.stdout + done.stderr
    assert "the command's 5 s deadline ran out" in output, output
    assert "Traceback" not in output
    assert hang.hits <= 3  # 2 s each: the third (at most) is cut short, nothing after it
