"""`meshbot sandbox cluster --controllers --state FILE`: a restart of the standalone
server loses nothing, and its controllers run the workloads kubectl creates."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.fixtures.shared import missing
from tests.processes import free_port, meshbot_process, stop, wait_http

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1"}]}
"""


def test_state_file_carries_objects_across_a_restart(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        missing("kubectl is not installed (expected at /usr/bin/kubectl)")
    port, kubeconfig, state = free_port(), tmp_path / "kubeconfig", tmp_path / "state.json"
    args = ["sandbox", "cluster", "--port", str(port), "--controllers", "--state", str(state)]

    def run(*words: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [kubectl, "--kubeconfig", str(kubeconfig), *words],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done

    with meshbot_process([*args, "--kubeconfig-out", str(kubeconfig)]) as process:
        wait_http(f"http://127.0.0.1:{port}/version")
        run("apply", "-f", "-", stdin=DEPLOYMENT)
        run("rollout", "status", "deployment/web", "--timeout=60s")
        run("create", "secret", "generic", "keep", "--from-literal=k=v")
        before = json.loads(run("get", "pods,secrets", "-o", "json").stdout)["items"]
        assert stop(process) == 0
    assert state.is_file()

    with meshbot_process([*args, "--kubeconfig-out", str(kubeconfig)]) as process:
        wait_http(f"http://127.0.0.1:{port}/version")
        after = json.loads(run("get", "pods,secrets", "-o", "json").stdout)["items"]
        assert stop(process) == 0
    uids = sorted(o["metadata"]["uid"] for o in before)
    assert sorted(o["metadata"]["uid"] for o in after) == uids
    assert len([o for o in after if o["kind"] == "Pod"]) == 2
