"""helm/meshbot installed by real Helm into the test server, and meshbot run under its RBAC.

Helm (helm-sdkpy, default Secret storage) installs the chart as a platform team would;
then every README command runs with the token of the chart's ServiceAccount (minted by
``kubectl create token``, sent over HTTPS) while the server enforces RBAC: all work,
every granted rule is used, and what the role does not grant (deleting a Deployment,
reading Secrets) is refused. The rendered ConfigMap is loaded by meshbot's own config
loader, and run verbatim (``in_cluster: true``) with the token mounted where a pod has
it. Bad values fail at install with the schema's message. Needs Python >= 3.12 with the
install extra (CI runs it on a 3.12 venv).
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.adapters.kube import permissions
from bot.app.config import load_settings
from bot.sandbox.kube import KubeTestServer
from tests.fixtures.kube import KUBECTL
from tests.fixtures.prometheus import LivePrometheus
from tests.fixtures.shared import missing, shared_path
from tests.integration.deploy.readme_commands import assert_least_privilege, run_all, seed
from tests.processes import CLEARED_PREFIXES

pytestmark = pytest.mark.helm
APP = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: checkout, namespace: shop}
spec:
  selector: {matchLabels: {app: checkout}}
  template:
    metadata: {labels: {app: checkout}}
    spec: {containers: [{name: checkout, image: registry.example.com/shop/checkout:3.1.0}]}
"""
ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "helm" / "meshbot"
HTTP_VALUES = CHART / "ci" / "http-redis-values.yaml"
USER = "system:serviceaccount:meshbot:meshbot"
SLACK_ENV = {"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_APP_TOKEN": "xapp-1-A1-2-abc"}
SERVICE_MONITOR_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: servicemonitors.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names:
    kind: ServiceMonitor
    plural: servicemonitors
    singular: servicemonitor
    listKind: ServiceMonitorList
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"""


@pytest.fixture
def helm() -> Any:
    if sys.version_info < (3, 12):
        missing("Helm tests need Python >= 3.12 with the install extra (helm-sdkpy)")
    try:
        import helm_sdkpy
    except ImportError:
        missing("helm-sdkpy is not installed (pip install -e '.[test,install]' on Python 3.12)")
    return helm_sdkpy


Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def _kubectl(kubeconfig: Path, cache: Path) -> Kubectl:
    if not Path(KUBECTL).exists():
        missing(f"kubectl not installed ({KUBECTL} absent)")

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        command = [KUBECTL, "--kubeconfig", str(kubeconfig), "--cache-dir", str(cache), *args]
        return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60)

    return run


def _install(helm: Any, kubeconfig: Path, values: dict[str, Any], name: str = "meshbot") -> Any:
    config = helm.Configuration(namespace="meshbot", kubeconfig=str(kubeconfig))
    action = helm.Install(config).run(
        name, str(CHART), values=values, create_namespace=True, wait=False, timeout=60
    )
    return asyncio.run(action)


def _objects(release: Any) -> dict[tuple[str, str], dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(release["manifest"]) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def _install_error(helm: Any, kubeconfig: Path, values: dict[str, Any]) -> str:
    with pytest.raises(helm.HelmError) as refused:
        _install(helm, kubeconfig, values, name="bad")
    return str(refused.value)


def _values_file(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


@pytest.fixture
def admin(kube_server_with_istio: KubeTestServer, tmp_path: Path) -> tuple[Path, Kubectl]:
    kubeconfig = kube_server_with_istio.write_kubeconfig(tmp_path / "admin")
    return kubeconfig, _kubectl(kubeconfig, tmp_path / "admin-cache")


def _namespace_and_secret(kubectl: Kubectl, redis_url: str) -> None:
    """The README's first steps: the namespace and the Secret, before `helm install`."""
    assert kubectl("create", "namespace", "meshbot").returncode == 0
    created = kubectl(
        "create", "secret", "generic", "meshbot", "-n", "meshbot",
        f"--from-literal=SLACK_BOT_TOKEN={SLACK_ENV['SLACK_BOT_TOKEN']}",
        f"--from-literal=SLACK_APP_TOKEN={SLACK_ENV['SLACK_APP_TOKEN']}",
        f"--from-literal=REDIS_URL={redis_url}",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr


@pytest.mark.scenario("timeouts-three-hop")
def test_the_chart_installs_and_every_command_works_under_its_service_account(
    helm: Any,
    kube_server_with_istio: KubeTestServer,
    admin: tuple[Path, Kubectl],
    prometheus: LivePrometheus,
    clean_redis: str,
    key_prefix: str,
    tmp_path: Path,
) -> None:
    server = kube_server_with_istio
    seed(server)
    kubeconfig, kubectl = admin
    _namespace_and_secret(kubectl, clean_redis)

    release = _install(helm, kubeconfig, {})
    assert release["info"]["status"] == "deployed"
    stored = server.get_object("v1", "secrets", "sh.helm.release.v1.meshbot.v1", "meshbot")
    assert stored is not None and stored["type"] == "helm.sh/release.v1"  # default storage

    role = server.get_object("rbac.authorization.k8s.io/v1", "clusterroles", "meshbot")
    assert role is not None and role["rules"] == permissions.rules(permissions.CALLS)
    assert (
        server.get_object("rbac.authorization.k8s.io/v1", "clusterroles", "meshbot-install") is None
    )
    binding = server.get_object("rbac.authorization.k8s.io/v1", "clusterrolebindings", "meshbot")
    assert binding is not None
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "meshbot", "namespace": "meshbot"}
    ]

    objects = _objects(release)
    deployment = objects[("Deployment", "meshbot")]
    _assert_hardened(deployment)
    assert deployment["spec"]["replicas"] == 2
    assert objects[("PodDisruptionBudget", "meshbot")]["spec"]["maxUnavailable"] == 1
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "REDIS_URL"} <= set(env)
    assert "SLACK_SIGNING_SECRET" not in env  # Socket Mode

    # the ConfigMap is meshbot's own config format: its loader accepts it
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(objects[("ConfigMap", "meshbot")]["data"]["meshbot.yaml"])
    settings = load_settings(rendered, env=SLACK_ENV)
    assert settings.file.clusters["mesh"].in_cluster
    assert (settings.file.health.host, settings.file.health.port) == ("0.0.0.0", 8081)

    # every README command with the chart's ServiceAccount token
    created = kubectl("create", "token", "meshbot", "-n", "meshbot")
    assert created.returncode == 0, created.stderr
    token_kubeconfig = server.write_kubeconfig(
        tmp_path / "sa", token=created.stdout.strip(), namespace="meshbot"
    )
    config = yaml.safe_load(rendered.read_text())
    config["clusters"]["mesh"] = {
        "kubeconfig": str(token_kubeconfig),
        "prometheus": {"url": prometheus.url},
    }
    config["redis"]["key_prefix"] = key_prefix
    config["timeouts"] = {"window": "1m"}
    config["access"] = {"operators": ["U_ALICE"], "approvers": ["U_BOB"]}
    as_sa = tmp_path / "meshbot.yaml"
    as_sa.write_text(yaml.safe_dump(config))
    prometheus.wait_scraped_for(3)
    run_all(as_sa, clean_redis, server)
    assert_least_privilege(server, USER)

    # outside the role: refused as a real API server refuses
    bot = _kubectl(token_kubeconfig, tmp_path / "sa-cache")
    deleted = bot("delete", "deployment", "meshbot", "-n", "meshbot")
    assert deleted.returncode == 1
    assert deleted.stderr.strip() == (
        f'Error from server (Forbidden): deployments.apps "meshbot" is forbidden: User "{USER}" '
        'cannot delete resource "deployments" in API group "apps" in the namespace "meshbot"'
    )
    assert server.get_object("apps/v1", "deployments", "meshbot", "meshbot") is not None
    secrets = bot("get", "secrets", "-n", "meshbot")
    assert secrets.stderr.strip() == (
        f'Error from server (Forbidden): secrets is forbidden: User "{USER}" cannot list '
        'resource "secrets" in API group "" in the namespace "meshbot"'
    )
    relabel = bot("label", "namespace", "shop", "istio.io/rev=1-30-3")
    assert f'namespaces "shop" is forbidden: User "{USER}"' in relabel.stderr


def _assert_hardened(deployment: dict[str, Any]) -> None:
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["health"] == 8081
    assert container["resources"]["requests"] and container["resources"]["limits"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/tmp", "/var/lib/meshbot", "/etc/meshbot"} <= mounts
    spread = pod["topologySpreadConstraints"]
    assert spread[0]["topologyKey"] == "kubernetes.io/hostname"
    assert container["args"][:1] == ["serve"]


def test_the_rendered_config_runs_in_cluster_as_a_pod_would(
    helm: Any,
    kube_server_with_istio: KubeTestServer,
    admin: tuple[Path, Kubectl],
    clean_redis: str,
    tmp_path: Path,
) -> None:
    """The ConfigMap verbatim (`in_cluster: true`): the token and CA where a pod has them
    (a private mount namespace over /var/run/secrets), KUBERNETES_SERVICE_HOST/PORT set."""
    if shutil.which("unshare") is None:
        missing("unshare (util-linux) is needed to mount a pod's ServiceAccount files")
    server = kube_server_with_istio
    kubeconfig, kubectl = admin
    _namespace_and_secret(kubectl, clean_redis)
    objects = _objects(_install(helm, kubeconfig, {}))
    config = tmp_path / "meshbot.yaml"
    config.write_text(objects[("ConfigMap", "meshbot")]["data"]["meshbot.yaml"])
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text(server.create_token("meshbot", "meshbot"))
    (account / "ca.crt").write_bytes(server.tls.ca_pem)
    (account / "namespace").write_text("meshbot")
    script = (
        "set -e; mount -t tmpfs tmpfs /run; mkdir -p /run/secrets/kubernetes.io; "
        f'ln -s "{account}" /run/secrets/kubernetes.io/serviceaccount; '
        f'exec "{sys.executable}" -m bot.app.cli "$@"'
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED_PREFIXES)}
    env = {
        **base,
        "REDIS_URL": clean_redis,
        "KUBERNETES_SERVICE_HOST": server.host,
        "KUBERNETES_SERVICE_PORT": str(server.port),
    }
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "true"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        missing(f"cannot make a mount namespace here: {probe.stderr.strip()}")

    def meshbot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "meshbot", *args,
             "--config", str(config), "--output", "json"],
            env=env, capture_output=True, text=True, timeout=120, cwd=ROOT,
        )  # fmt: skip

    status = meshbot("status")
    assert status.returncode == 0, status.stderr + status.stdout
    report = json.loads(status.stdout)
    assert "Kubernetes v1.33.2" in json.dumps(report), report
    audit = meshbot("mtls", "status")
    assert audit.returncode in (0, 1), audit.stderr
    assert any(r.user == USER and r.status == 200 for r in server.requests)
    assert not [d for d in server.rbac.decisions if d.user == USER and not d.allowed]


def test_helm_lint_passes_with_the_defaults_and_with_http_mode_and_external_redis(
    helm: Any, tmp_path: Path
) -> None:
    config = helm.Configuration(namespace="meshbot")

    def lint(chart: Path) -> list[dict[str, Any]]:
        result = asyncio.run(helm.Lint(config).run(str(chart)))
        assert result["TotalChartsLinted"] == 1
        # Severity 3 is an error; helm-sdkpy loses the message text (Err is {}), so the
        # path is what we can show
        return [m for m in result["Messages"] or [] if m["Severity"] >= 2]

    assert lint(CHART) == []
    http_chart = tmp_path / "meshbot"
    shutil.copytree(CHART, http_chart)
    merged = _merge(_values_file(CHART / "values.yaml"), _values_file(HTTP_VALUES))
    (http_chart / "values.yaml").write_text(yaml.safe_dump(merged))
    assert lint(http_chart) == []
    # and lint does catch a broken values file (so the two passes above mean something)
    (http_chart / "values.yaml").write_text(yaml.safe_dump({**merged, "replicas": "two"}))
    assert [m["Path"] for m in lint(http_chart) if m["Severity"] == 3]


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def test_http_mode_with_external_redis_renders_service_ingress_and_policies(
    helm: Any, kube_server_with_istio: KubeTestServer, admin: tuple[Path, Kubectl], tmp_path: Path
) -> None:
    kube_server_with_istio.load_seed(SERVICE_MONITOR_CRD)
    kubeconfig, _ = admin
    release = _install(helm, kubeconfig, _values_file(HTTP_VALUES))
    assert release["info"]["status"] == "deployed"
    objects = _objects(release)
    deployment = objects[("Deployment", "meshbot")]
    _assert_hardened(deployment)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["serve", "--config", "/etc/meshbot/meshbot.yaml", "--http"]
    env = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in container["env"]}
    assert env["SLACK_SIGNING_SECRET"] == {"name": "meshbot-slack", "key": "signing-secret"}
    assert env["REDIS_URL"] == {"name": "meshbot-slack", "key": "redis-url"}
    assert env["PROM_TOKEN"] == {"name": "meshbot-slack", "key": "prometheus-token"}
    assert "SLACK_APP_TOKEN" not in env
    assert deployment["spec"]["replicas"] == 3
    service = objects[("Service", "meshbot")]
    assert {p["name"]: p["targetPort"] for p in service["spec"]["ports"]} == {
        "health": "health",
        "http": "http",
    }
    ingress = objects[("Ingress", "meshbot")]
    path = ingress["spec"]["rules"][0]["http"]["paths"][0]
    assert (path["path"], path["pathType"]) == ("/slack/events", "Exact")
    assert path["backend"]["service"]["port"] == {"name": "http"}
    monitor = objects[("ServiceMonitor", "meshbot")]
    assert monitor["spec"]["endpoints"][0] == {
        "port": "health",
        "path": "/metrics",
        "interval": "30s",
    }
    policy = objects[("NetworkPolicy", "meshbot")]["spec"]
    egress_ports = sorted({p["port"] for rule in policy["egress"] for p in rule["ports"]})
    assert egress_ports == [53, 443, 6379, 9090]
    assert [r["ports"][0]["port"] for r in policy["ingress"]] == ["health"]

    rendered = tmp_path / "http.yaml"
    rendered.write_text(objects[("ConfigMap", "meshbot")]["data"]["meshbot.yaml"])
    settings = load_settings(rendered, env={"SLACK_BOT_TOKEN": "x", "PROM_TOKEN": "p"})
    cluster = settings.file.clusters["prod-eu"]
    assert cluster.in_cluster and cluster.oncall_channel == "C0123ONCALL"
    assert cluster.prometheus is not None and cluster.prometheus.bearer_token_env == "PROM_TOKEN"
    assert (settings.file.http.host, settings.file.http.port, settings.file.http.threads) == (
        "0.0.0.0",
        3000,
        8,
    )


def test_bad_values_fail_at_install_with_the_schemas_message(
    helm: Any, admin: tuple[Path, Kubectl]
) -> None:
    kubeconfig, _ = admin
    assert "at '/replicas': got string, want integer" in _install_error(
        helm, kubeconfig, {"replicas": "two"}
    )
    assert "at '/mode': value must be one of 'socket', 'http'" in _install_error(
        helm, kubeconfig, {"mode": "websocket"}
    )
    # meshbot's own config schema, at install instead of in a crash-looping pod
    typo = _install_error(helm, kubeconfig, {"config": {"access": {"aprovers": ["U1"]}}})
    assert "at '/config/access': additional properties 'aprovers' not allowed" in typo


def test_more_than_one_replica_needs_a_shared_redis(
    helm: Any, kube_server_with_istio: KubeTestServer, admin: tuple[Path, Kubectl]
) -> None:
    kubeconfig, _ = admin
    refused = _install_error(helm, kubeconfig, {"redis": {"external": False}})
    assert (
        "meshbot: replicas: 2 needs a shared Redis, or each replica would keep its own state "
        "(changes, approvals, leases) and act on its own. Set redis.external: true with "
        'REDIS_URL in the Secret "meshbot" (key "REDIS_URL"), or replicas: 1 to use the '
        "embedded store on a PersistentVolumeClaim."
    ) in refused
    assert kube_server_with_istio.get_object("apps/v1", "deployments", "bad", "meshbot") is None

    single = _objects(_install(helm, kubeconfig, {"replicas": 1, "redis": {"external": False}}))
    deployment = single[("Deployment", "meshbot")]
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "meshbot-data"}
    claim = single[("PersistentVolumeClaim", "meshbot-data")]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    env = {e["name"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "REDIS_URL" not in env
    assert ("PodDisruptionBudget", "meshbot") not in single  # one replica: it would block drains


def test_rbac_install_lets_meshbot_install_istio_and_move_namespaces(
    helm: Any, kube_server: KubeTestServer, tmp_path: Path
) -> None:
    server = kube_server  # no Istio yet: meshbot installs it
    kubeconfig = server.write_kubeconfig(tmp_path / "admin")
    server.load_seed(APP)
    release = _install(helm, kubeconfig, {"rbac": {"install": True}})
    role = server.get_object("rbac.authorization.k8s.io/v1", "clusterroles", "meshbot-install")
    assert role is not None and role["rules"] == permissions.rules(permissions.INSTALL_CALLS)
    assert ("ClusterRoleBinding", "meshbot-install") in _objects(release)

    token = server.create_token("meshbot", "meshbot")
    as_meshbot = server.write_kubeconfig(tmp_path / "sa", token=token)
    charts = shared_path("istio-charts") / "1.30.3"
    config = helm.Configuration(namespace="istio-system", kubeconfig=str(as_meshbot))
    for name, chart, values in (
        ("istio-base", charts / "base", {"global": {"hub": "docker.io/istio", "tag": "1.30.3"}}),
        (
            "istiod-1-30-3",
            charts / "istio-control" / "istio-discovery",
            {"global": {"hub": "docker.io/istio", "tag": "1.30.3"}, "revision": "1-30-3"},
        ),
    ):
        done = asyncio.run(
            helm.Install(config).run(
                name, str(chart), values=values, create_namespace=True, wait=False, timeout=120
            )
        )
        assert done["info"]["status"] == "deployed"
    assert server.get_object("apps/v1", "deployments", "istiod-1-30-3", "istio-system")

    bot = _kubectl(as_meshbot, tmp_path / "sa-cache")
    relabel = bot("label", "namespace", "shop", "istio.io/rev=1-30-3", "istio-injection-")
    assert relabel.returncode == 0, relabel.stderr
    restart = bot("rollout", "restart", "deployment/checkout", "-n", "shop")
    assert restart.returncode == 0, restart.stderr
    assert not [
        d for d in server.rbac.decisions if d.user == USER and not d.allowed and not d.review
    ]
    # and meshbot's own role is unchanged: the install rules are a separate ClusterRole
    own = server.get_object("rbac.authorization.k8s.io/v1", "clusterroles", "meshbot")
    assert own is not None and own["rules"] == permissions.rules(permissions.CALLS)
