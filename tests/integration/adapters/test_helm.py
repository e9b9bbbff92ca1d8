"""The Helm adapter (bot.adapters.helm) installing Istio's own charts into the test server.

Real Helm (helm-sdkpy) with its default release storage (Secrets, sent as protobuf),
Istio's unchanged charts from ../shared/istio-charts, the project's Kubernetes API test
server with its controllers (Deployments become Available, so Helm's wait is real), and
kubectl to look. One server per module holds base + istiod 1.29.6 (the default
revision); each test adds the 1-30-3 revision beside it and leaves the server as found.
Needs Python >= 3.12 with the install extra; CI runs it (a missing Helm fails there).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.helm import HelmFromConfig
from bot.adapters.kube import permissions
from bot.core.settings import ClusterConfig, ClusterInstallConfig
from bot.sandbox.kube import KubeTestServer
from bot.sandbox.kube.state import snapshot
from commands.install.ports import HelmFailed, HelmUnavailable, Release
from tests.fixtures.kube import KUBECTL
from tests.fixtures.shared import missing, shared_path
from tests.processes import CLEARED_PREFIXES

pytestmark = pytest.mark.helm
NS = "istio-system"
NEW = "istiod-1-30-3"
NODES = "\n---\n".join(
    f"""
apiVersion: v1
kind: Node
metadata: {{name: node-{i}, labels: {{kubernetes.io/os: linux}}}}
status:
  conditions: [{{type: Ready, status: "True"}}]
  nodeInfo: {{kubeletVersion: v1.33.2}}
"""
    for i in (1, 2)
)
# what a Helm release owns, not what the cluster does around it
NOT_OWNED = {("", "events"), ("events.k8s.io", "events"), ("coordination.k8s.io", "leases")}


def _need_helm() -> None:
    if sys.version_info < (3, 12):
        missing("Helm tests need Python >= 3.12 with the install extra (helm-sdkpy)")
    try:
        import helm_sdkpy  # noqa: F401
    except ImportError:
        missing("helm-sdkpy is not installed (pip install -e '.[test,install]' on Python 3.12)")


def _clients(kubeconfig: Path) -> HelmFromConfig:
    charts = str(shared_path("istio-charts"))
    config = ClusterConfig(kubeconfig=kubeconfig, install=ClusterInstallConfig(charts=charts))
    return HelmFromConfig({"mesh": config})


class Bed:
    def __init__(self, server: KubeTestServer, kubeconfig: Path, tmp: Path) -> None:
        self.server, self.kubeconfig, self.tmp = server, kubeconfig, tmp
        self.clients = _clients(kubeconfig)
        self.helm = self.clients.for_cluster("mesh")

    def kubectl(self, *args: str) -> Any:
        result = subprocess.run(
            [KUBECTL, "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.tmp / "kc"),
             *args],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout) if "-ojson" in args else result.stdout

    def inventory(self) -> set[tuple[str, str, str, str]]:
        """Every stored object but events and leases: (group, plural, namespace, name)."""
        return {
            (*entry["resource"], entry["object"]["metadata"].get("namespace", ""),
             entry["object"]["metadata"]["name"])
            for entry in snapshot(self.server)["objects"]
            if tuple(entry["resource"]) not in NOT_OWNED
        }  # fmt: skip

    def release_secrets(self) -> list[str]:
        found = self.kubectl("get", "secrets", "-n", NS, "-l", "owner=helm", "-ojson")
        return sorted(s["metadata"]["labels"]["name"] for s in found["items"])


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    _need_helm()
    tmp = tmp_path_factory.mktemp("helm")
    server = KubeTestServer(controllers=True, ready_seconds=0.05)
    server.start()
    try:
        server.load_seed(NODES)
        bed = Bed(server, server.write_kubeconfig(tmp / "kubeconfig"), tmp)
        bed.helm.install(NS, "istio-base", "base", "1.30.3", {}, timeout_s=120)
        bed.helm.install(NS, "istiod", "istiod", "1.29.6", {}, timeout_s=120)
        yield bed
        bed.clients.close()
    finally:
        server.stop()


def _names(release: Release, kind: str) -> set[str]:
    return {o["name"] for o in release.objects if o["kind"] == kind}


def test_a_revision_installs_beside_the_default_and_uninstalls_exactly_its_objects(
    bed: Bed,
) -> None:
    before = bed.inventory()
    old = bed.helm.release(NS, "istiod")
    assert old is not None and (old.chart, old.chart_version, old.status) == (
        "istiod",
        "1.29.6",
        "deployed",
    )

    installed = bed.helm.install(NS, NEW, "istiod", "1.30.3", {"revision": "1-30-3"})

    assert (installed.name, installed.chart, installed.chart_version) == (NEW, "istiod", "1.30.3")
    assert (installed.status, installed.revision) == ("deployed", 1)
    # the source-tree chart names a dev registry and `latest`: images from docker.io/istio
    assert installed.values == {
        "revision": "1-30-3",
        "global": {"hub": "docker.io/istio", "tag": "1.30.3"},
    }
    read = bed.helm.release(NS, NEW)
    assert read == installed
    assert _names(read, "Deployment") == {NEW}
    assert _names(read, "MutatingWebhookConfiguration") == {"istio-sidecar-injector-1-30-3"}
    assert {o["namespace"] for o in read.objects if o["kind"] == "Deployment"} == {NS}
    assert {o["namespace"] for o in read.objects if o["kind"] == "ClusterRole"} == {""}

    deployment = bed.kubectl("get", "deployment", NEW, "-n", NS, "-ojson")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "docker.io/istio/pilot:1.30.3"
    assert deployment["status"]["availableReplicas"] == 1
    hooks = bed.kubectl("get", "mutatingwebhookconfigurations", "-o", "name").split()
    assert sorted(hooks) == [
        "mutatingwebhookconfiguration.admissionregistration.k8s.io/istio-sidecar-injector",
        "mutatingwebhookconfiguration.admissionregistration.k8s.io/istio-sidecar-injector-1-30-3",
    ]
    assert bed.release_secrets() == ["istio-base", "istiod", NEW]

    bed.helm.uninstall(NS, NEW)

    assert bed.helm.release(NS, NEW) is None
    assert bed.inventory() == before
    assert bed.release_secrets() == ["istio-base", "istiod"]
    still = bed.kubectl("get", "deployment", "istiod", "-n", NS, "-ojson")
    assert still["status"]["availableReplicas"] == 1
    assert bed.helm.release(NS, "istiod") == old
    bed.helm.uninstall(NS, NEW)  # absent: not an error


def test_a_dry_run_writes_nothing_and_lists_what_the_install_would_create(bed: Bed) -> None:
    before, first = bed.inventory(), bed.server.request_count

    rendered = bed.helm.install(NS, NEW, "istiod", "1.30.3", {"revision": "1-30-3"}, dry_run=True)

    sent = bed.server.requests[first:]
    assert sent and {r.method for r in sent} == {"GET"}
    assert bed.inventory() == before
    assert bed.helm.release(NS, NEW) is None
    assert rendered.status == "pending-install"
    assert _names(rendered, "Deployment") == {NEW}
    assert _names(rendered, "MutatingWebhookConfiguration") == {"istio-sidecar-injector-1-30-3"}
    installed = bed.helm.install(NS, NEW, "istiod", "1.30.3", {"revision": "1-30-3"})
    try:
        assert installed.objects == rendered.objects
        # Helm saw the real cluster: the name is taken now, and the dry run says so
        with pytest.raises(HelmFailed) as taken:
            bed.helm.install(NS, NEW, "istiod", "1.30.3", {"revision": "1-30-3"}, dry_run=True)
        assert str(taken.value) == (
            f"cluster mesh: release {NEW} already exists in {NS} (istiod 1.30.3, deployed)"
        )
    finally:
        bed.helm.uninstall(NS, NEW)


def test_a_failure_mid_install_leaves_nothing_behind(bed: Bed) -> None:
    before, first = bed.inventory(), bed.server.request_count
    fault = bed.server.faults.add(
        method="POST", path_regex="mutatingwebhookconfigurations", status=500, message="etcd down"
    )
    try:
        with pytest.raises(HelmFailed) as failed:
            bed.helm.install(NS, NEW, "istiod", "1.30.3", {"revision": "1-30-3"}, timeout_s=60)
    finally:
        bed.server.faults.clear()
    assert fault.hits >= 1
    message = str(failed.value)
    assert message.startswith(f"cluster mesh: installing istiod 1.30.3 as {NEW} failed: ")
    assert "etcd down" in message
    # objects created before the refused one existed, and are gone again
    created = [r for r in bed.server.requests[first:] if r.method == "POST" and r.status == 201]
    assert any("/deployments" in r.path for r in created)
    assert bed.inventory() == before
    assert bed.helm.release(NS, NEW) is None
    assert bed.release_secrets() == ["istio-base", "istiod"]


def test_an_unknown_version_names_the_versions_there_are(bed: Bed) -> None:
    before, first = bed.inventory(), bed.server.request_count
    assert list(bed.helm.chart_versions()) == ["1.29.6", "1.30.3"]
    with pytest.raises(HelmFailed) as unknown:
        bed.helm.install(NS, "istiod-1-31-0", "istiod", "1.31.0", {})
    charts = shared_path("istio-charts")
    assert str(unknown.value) == (
        f"chart istiod 1.31.0 is not in {charts} (it has: 1.29.6, 1.30.3)"
    )
    assert bed.server.request_count == first and bed.inventory() == before
    assert bed.helm.describe().endswith(f"on cluster mesh, charts from {charts}")


def test_a_restart_between_install_and_uninstall_loses_nothing(bed: Bed, tmp_path: Path) -> None:
    bed.helm.install(NS, NEW, "istiod", "1.30.3", {"revision": "1-30-3"})
    try:
        state = bed.server.save_state(tmp_path / "state.json")
        before_install = {o for o in bed.inventory() if NEW not in o[3] and "1-30-3" not in o[3]}
    finally:
        bed.helm.uninstall(NS, NEW)
    restarted = KubeTestServer(controllers=True, ready_seconds=0.05)
    restarted.restore_state(state)
    restarted.start()
    try:
        after = Bed(restarted, restarted.write_kubeconfig(tmp_path / "kubeconfig"), tmp_path)
        kept = after.helm.release(NS, NEW)
        assert kept is not None and (kept.status, kept.chart_version) == ("deployed", "1.30.3")
        after.helm.uninstall(NS, NEW)
        assert after.helm.release(NS, NEW) is None
        assert after.release_secrets() == ["istio-base", "istiod"]
        left = {o for o in after.inventory() if o[1] != "pods"}
        assert left == {o for o in before_install if o[1] != "pods"}
        after.clients.close()
    finally:
        restarted.stop()


def test_without_helm_the_message_says_what_to_install(bed: Bed) -> None:
    from bot.adapters.helm import load_helm

    def absent(name: str) -> Any:
        raise ImportError(name)

    hint = "pip install 'meshbot[install]' (Python >= 3.12)"
    with pytest.raises(HelmUnavailable) as old_python:
        load_helm(python=(3, 11))
    assert str(old_python.value) == (
        f"Helm needs Python >= 3.12 (this is 3.11): run meshbot on Python 3.12 or later with {hint}"
    )
    with pytest.raises(HelmUnavailable) as not_installed:
        load_helm(import_module=absent)
    assert str(not_installed.value) == f"Helm is not installed: {hint}"
    with pytest.raises(HelmUnavailable) as memory:
        load_helm(environ={"HELM_DRIVER": "memory"})
    assert "unset HELM_DRIVER" in str(memory.value)
    assert load_helm(environ={"HELM_DRIVER": "secret"}).__name__ == "helm_sdkpy"

    config = ClusterConfig(kubeconfig=bed.kubeconfig)
    clients = HelmFromConfig({"mesh": config}, load=lambda: load_helm(import_module=absent))
    with pytest.raises(HelmUnavailable, match="Helm is not installed"):
        clients.for_cluster("mesh")
    with pytest.raises(HelmUnavailable) as unknown:
        bed.clients.for_cluster("prod")
    assert str(unknown.value) == "no cluster named prod (configured: mesh)"


def test_an_istiod_that_never_becomes_ready_is_rolled_back_within_the_timeout(bed: Bed) -> None:
    before = bed.inventory()
    bed.server.faults.add_pods_never_ready(namespace=NS, image_regex="pilot:1.30.3")
    try:
        with pytest.raises(HelmFailed) as failed:
            bed.helm.install(NS, NEW, "istiod", "1.30.3", {"revision": "1-30-3"}, timeout_s=3)
    finally:
        bed.server.faults.clear()
    assert str(failed.value).startswith(f"cluster mesh: installing istiod 1.30.3 as {NEW} failed:")
    assert "context deadline exceeded" in str(failed.value) or "timed out" in str(failed.value)
    assert bed.helm.release(NS, NEW) is None
    assert {o for o in bed.inventory() if o[1] != "pods"} == {o for o in before if o[1] != "pods"}
    assert not [o for o in bed.inventory() if o[1] == "pods" and o[3].startswith(NEW)]


def test_reads_retry_a_flaky_api_server_and_then_say_how_often(bed: Bed) -> None:
    flaky = bed.server.faults.add(method="GET", path_regex="/secrets", status=503, count=2)
    try:
        read = bed.helm.release(NS, "istiod")
    finally:
        bed.server.faults.clear()
    assert flaky.hits == 2 and read is not None and read.status == "deployed"
    down = bed.server.faults.add(method="GET", path_regex="/secrets", status=503)
    try:
        with pytest.raises(HelmFailed) as failed:
            bed.helm.release(NS, "istiod")
    finally:
        bed.server.faults.clear()
    assert str(failed.value).startswith("cluster mesh: reading istiod (after 4 attempts) failed:")
    assert down.hits >= 4


def test_a_refused_credential_is_not_repeated_in_the_message(bed: Bed, tmp_path: Path) -> None:
    forged = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6eDp5In0.c2lnbmF0dXJl"
    kubeconfig = bed.server.write_kubeconfig(tmp_path / "forged", token=forged)
    clients = _clients(kubeconfig)
    with pytest.raises(HelmFailed) as refused:
        clients.for_cluster("mesh").release(NS, "istiod")
    clients.close()
    assert str(refused.value) == (
        "cluster mesh: reading istiod failed: status failed: kubernetes cluster unreachable: "
        "the server has asked for the client to provide credentials"
    )
    assert forged not in str(refused.value) and "c2lnbmF0dXJl" not in str(refused.value)


def test_a_hanging_api_server_is_a_timeout_not_a_hang(bed: Bed) -> None:
    charts = str(shared_path("istio-charts"))
    config = ClusterConfig(
        kubeconfig=bed.kubeconfig,
        request_timeout_s=1,
        command_deadline_s=1,
        install=ClusterInstallConfig(charts=charts),
    )
    clients = HelmFromConfig({"mesh": config})
    stuck = bed.server.faults.add(method="GET", path_regex="/secrets", hang=3, count=1)
    try:
        with pytest.raises(HelmFailed) as late:
            clients.for_cluster("mesh").release(NS, "istiod")
    finally:
        bed.server.faults.clear()
        clients.close()
    assert str(late.value) == (
        "cluster mesh: reading istiod timed out after 1 s (the API server did not answer in "
        "time; Helm may still finish: read the release before retrying)"
    )
    assert stuck.hits == 1


def test_the_gateway_chart_installs_into_its_own_namespace_and_leaves_with_its_objects(
    bed: Bed,
) -> None:
    before = {o for o in bed.inventory() if o[1] != "pods"}

    gateway = bed.helm.install("istio-ingress", "istio-ingressgateway", "gateway", "1.30.3", {})

    assert (gateway.chart, gateway.chart_version, gateway.status) == (
        "gateway",
        "1.30.3",
        "deployed",
    )
    assert _names(gateway, "Deployment") == {"istio-ingressgateway"}
    assert {o["namespace"] for o in gateway.objects if o["kind"] != "ClusterRole"} <= {
        "istio-ingress"
    }
    pods = bed.kubectl("get", "pods", "-n", "istio-ingress", "-ojson")["items"]
    (proxy,) = pods[0]["spec"]["containers"]
    assert proxy["image"] == "docker.io/istio/proxyv2:1.29.6"  # injected by the default revision
    bed.helm.uninstall("istio-ingress", "istio-ingressgateway")
    left = {o for o in bed.inventory() if o[1] != "pods"}
    # the namespace Helm created stays, as with `helm install --create-namespace`
    assert left - before == {("", "namespaces", "", "istio-ingress")}
    assert before <= left
    bed.kubectl("delete", "namespace", "istio-ingress")


def test_a_failed_install_also_removes_the_namespace_it_created(bed: Bed) -> None:
    before = {o for o in bed.inventory() if o[1] != "pods"}
    bed.server.faults.add(method="POST", path_regex="/deployments", status=500, message="full")
    try:
        with pytest.raises(HelmFailed) as failed:
            bed.helm.install("istio-ingress", "istio-ingressgateway", "gateway", "1.30.3", {})
    finally:
        bed.server.faults.clear()
    assert "full" in str(failed.value)
    assert {o for o in bed.inventory() if o[1] != "pods"} == before
    assert bed.server.get_object("v1", "namespaces", "istio-ingress") is None


IN_A_POD = """
import json, sys
from bot.adapters.helm import HelmFromConfig
from bot.core.settings import ClusterConfig, ClusterInstallConfig
config = ClusterConfig(in_cluster=True, install=ClusterInstallConfig(charts=sys.argv[1]))
helm = HelmFromConfig({"mesh": config}).for_cluster("mesh")
old = helm.release("istio-system", "istiod")
dry = helm.install("istio-system", "istiod-1-30-3", "istiod", "1.30.3", {"revision": "1-30-3"},
                   dry_run=True)
print(json.dumps({"old": [old.chart_version, old.status], "dry": [dict(o) for o in dry.objects]}))
"""
INSTALLER = f"""
apiVersion: v1
kind: ServiceAccount
metadata: {{name: meshbot, namespace: default}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: meshbot-install}}
rules: {json.dumps(permissions.rules(permissions.INSTALL_CALLS))}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: meshbot-install}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: meshbot-install}}
subjects: [{{kind: ServiceAccount, name: meshbot, namespace: default}}]
"""


def test_in_a_pod_helm_uses_the_service_account_and_the_install_role(
    bed: Bed, tmp_path: Path
) -> None:
    """`in_cluster: true`: Helm and the dry run's reads use the pod's ServiceAccount token
    and CA (mounted where a pod has them, in a private mount namespace) under meshbot's
    install role, and the RBAC-enforcing server allows every request they make."""
    if shutil.which("unshare") is None:
        missing("unshare (util-linux) is needed to mount a pod's ServiceAccount files")
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                           capture_output=True, text=True)  # fmt: skip
    if probe.returncode != 0:
        missing(f"cannot make a mount namespace here: {probe.stderr.strip()}")
    bed.server.load_seed(INSTALLER)
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text(bed.server.create_token("default", "meshbot"))
    (account / "ca.crt").write_bytes(bed.server.tls.ca_pem)
    (account / "namespace").write_text("default")
    script = (
        "set -e; mount -t tmpfs tmpfs /run; mkdir -p /run/secrets/kubernetes.io; "
        f'ln -s "{account}" /run/secrets/kubernetes.io/serviceaccount; '
        f'exec "{sys.executable}" -c "$0" "$@"'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED_PREFIXES)}
    env |= {"KUBERNETES_SERVICE_HOST": bed.server.host,
            "KUBERNETES_SERVICE_PORT": str(bed.server.port)}  # fmt: skip
    env.pop("KUBECONFIG", None)
    first = bed.server.request_count
    ran = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script, IN_A_POD,
         str(shared_path("istio-charts"))],
        env=env, capture_output=True, text=True, timeout=300,
        cwd=Path(__file__).resolve().parents[3],
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-2000:]
    as_admin = bed.helm.install(NS, NEW, "istiod", "1.30.3", {"revision": "1-30-3"}, dry_run=True)
    assert json.loads(ran.stdout.strip().splitlines()[-1]) == {
        "old": ["1.29.6", "deployed"],
        "dry": [dict(o) for o in as_admin.objects],
    }
    user = "system:serviceaccount:default:meshbot"
    made = [r for r in bed.server.requests[first:] if r.user == user]
    assert made and {r.method for r in made} == {"GET"}
    assert {r.status for r in made} <= {200, 404}
    assert not [d for d in bed.server.rbac.decisions if d.user == user and not d.allowed]


def test_an_uninstall_interrupted_by_the_api_server_is_resumed(bed: Bed) -> None:
    before = bed.inventory()
    bed.helm.install(NS, NEW, "istiod", "1.30.3", {"revision": "1-30-3"})
    once = bed.server.faults.add(method="DELETE", path_regex="/deployments/", status=500, count=1)
    try:
        bed.helm.uninstall(NS, NEW)  # Helm stops at the refusal; the second attempt resumes
    finally:
        bed.server.faults.clear()
    assert once.hits == 1
    assert bed.helm.release(NS, NEW) is None
    assert {o for o in bed.inventory() if o[1] != "pods"} == {o for o in before if o[1] != "pods"}

    bed.helm.install(NS, NEW, "istiod", "1.30.3", {"revision": "1-30-3"})
    bed.server.faults.add(method="DELETE", path_regex="/deployments/", status=500)
    try:
        with pytest.raises(HelmFailed) as failed:
            bed.helm.uninstall(NS, NEW)
    finally:
        bed.server.faults.clear()
    assert str(failed.value) == (
        f"cluster mesh: uninstalling {NEW} (after 4 attempts) failed: uninstall failed: "
        f"failed to delete release: {NEW}"
    )
    # nothing is orphaned: Helm kept the release, so uninstalling again finishes it
    kept = bed.helm.release(NS, NEW)
    assert kept is not None and kept.status == "uninstalling"
    bed.helm.uninstall(NS, NEW)
    assert bed.helm.release(NS, NEW) is None
    assert {o for o in bed.inventory() if o[1] != "pods"} == {o for o in before if o[1] != "pods"}
