"""The timeouts audit against real parts: the Kubernetes test server with Istio 1.30's
CRDs and the timeouts seed, read through the official client; real Prometheus scraping
the simulator's three-hop chain; the CLI's JSON output and exit code."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.kube import KubeCluster
from bot.app.cli import main
from bot.app.runtime import build_runtime
from bot.sandbox.kube import KubeTestServer
from commands.core.model import Caller, Role
from commands.timeouts.model import TimeoutAudit
from tests.fixtures.prometheus import LivePrometheus

SEED = Path(__file__).resolve().parents[3] / "bot" / "sandbox" / "seeds" / "timeouts.yaml"
PAYMENTS = "payments.payments.svc.cluster.local"


@pytest.fixture
def seeded(kube_server_with_istio: KubeTestServer, kubeconfig: Path) -> Iterator[KubeCluster]:
    kube_server_with_istio.load_seed(SEED)
    cluster = KubeCluster("prod", kubeconfig=str(kubeconfig), context="sandbox")
    yield cluster
    cluster.close()


def test_adapter_reads_v1_virtual_services_annotations_and_services(seeded: KubeCluster) -> None:
    assert seeded.virtual_service_api_version() == "networking.istio.io/v1"
    names = sorted(
        f"{v['metadata']['namespace']}/{v['metadata']['name']}"
        for v in seeded.list_virtual_services()
    )
    assert names == ["payments/payments", "shop/reviews"]
    annotated = {
        (a.kind, a.namespace, a.name, a.value)
        for a in seeded.app_timeout_annotations("meshbot.io/app-timeout")
    }
    assert annotated == {
        ("Deployment", "shop", "checkout", "1.5s"),
        ("Deployment", "shop", "frontend", "3s"),
    }
    selectors = {r.host: dict(r.selector) for r in seeded.service_records()}
    assert selectors[PAYMENTS] == {"app": "payments"}


def test_adapter_falls_back_to_v1alpha3_when_that_is_all_the_cluster_serves(
    kube_server: KubeTestServer, kubeconfig: Path, istio_crds_path: Path
) -> None:
    from bot.sandbox.kube.seeds import parse_yaml

    crds = [
        d
        for d in parse_yaml(istio_crds_path)
        if d.get("kind") == "CustomResourceDefinition"
        and d["metadata"]["name"] == "virtualservices.networking.istio.io"
    ]
    old = copy.deepcopy(crds[0])
    for version in old["spec"]["versions"]:
        version["served"] = version["name"] == "v1alpha3"
        version["storage"] = version["name"] == "v1alpha3"
    kube_server.load_objects([old])
    kube_server.load_seed(
        "apiVersion: networking.istio.io/v1alpha3\nkind: VirtualService\n"
        "metadata: {name: old, namespace: default}\nspec: {hosts: [old], http: [{timeout: 2s}]}\n"
    )
    cluster = KubeCluster("old", kubeconfig=str(kubeconfig), context="sandbox")
    try:
        assert cluster.virtual_service_api_version() == "networking.istio.io/v1alpha3"
        assert [v["metadata"]["name"] for v in cluster.list_virtual_services()] == ["old"]
    finally:
        cluster.close()


def test_audit_without_istio_says_nothing_is_served(
    kube_server: KubeTestServer, kubeconfig: Path
) -> None:
    cluster = KubeCluster("bare", kubeconfig=str(kubeconfig), context="sandbox")
    try:
        assert cluster.virtual_service_api_version() is None
        assert cluster.list_virtual_services() == []
    finally:
        cluster.close()


@pytest.fixture
def config_file(
    tmp_path: Path, kubeconfig: Path, prometheus: LivePrometheus, key_prefix: str
) -> Path:
    path = tmp_path / "meshbot.yaml"
    path.write_text(
        f"redis: {{key_prefix: {key_prefix}}}\n"
        "clusters:\n"
        f"  prod: {{kubeconfig: {kubeconfig}, context: sandbox, "
        f'prometheus: {{url: "{prometheus.url}"}}}}\n'
        "timeouts: {window: 1m}\n"
    )
    prometheus.wait_scraped_for(3)
    return path


@pytest.mark.scenario("timeouts-three-hop")
def test_audit_over_live_traffic_names_the_three_hop_path_and_reads_p99(
    seeded: KubeCluster,
    config_file: Path,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.app.config import load_settings

    settings = load_settings(config_file, env={"REDIS_URL": redis_url})
    with build_runtime(settings) as runtime:
        report = runtime.registry.dispatch(
            "timeouts audit", Caller("local", Role.VIEWER), runtime.services
        )
    assert isinstance(report, TimeoutAudit), report
    assert report.notes == () and report.edges == 3
    by_rule = {f.rule: f for f in report.findings}
    path = by_rule["retry-amplification"]
    assert path.subject == (
        "istio-system/istio-ingressgateway → frontend.shop → checkout.shop → payments.payments"
    )
    assert "up to 36x (3 x 3 x 4)" in path.message
    exceed = by_rule["retries-exceed-timeout"]
    assert exceed.subject == "payments/payments route #0"
    edit = exceed.suggestion.edits[0]  # type: ignore[union-attr]
    assert (edit.timeout_ms, edit.attempts, edit.per_try_ms) == (2000, 2, 500)
    assert "app timeout 1.5s (annotation on Deployment shop/checkout)" in (
        by_rule["mesh-timeout-not-above-app"].evidence
    )
    hangs = {
        (f.rule, f.subject, f.severity.value)
        for f in report.findings
        if f.rule in ("retries-without-timeout", "no-timeout") and "reviews" in f.subject
    }
    assert hangs == {
        ("retries-without-timeout", "shop/reviews route canary", "warning"),
        ("no-timeout", "shop/reviews route #1", "info"),  # no traffic, no app timeout: info
    }

    monkeypatch.setenv("REDIS_URL", redis_url)
    code = main(["timeouts", "audit", "--output", "json", "--config", str(config_file)])
    out = json.loads(capsys.readouterr().out)
    assert code == 1  # errors found
    assert out["cluster"] == "prod" and out["counts"]["error"] >= 2
    assert all(f["fix"] for f in out["findings"])
    assert {f["id"] for f in out["findings"]} == {f.id for f in report.findings}
    code = main(["timeouts", "audit", "namespace=nowhere", "--config", str(config_file)])
    assert code == 0 and "No findings." in capsys.readouterr().out


def run(runtime: Any, text: str) -> Any:
    return runtime.registry.dispatch(text, Caller("U_ALICE", Role.OPERATOR), runtime.services)


@pytest.fixture
def no_metrics_runtime(
    seeded: KubeCluster, kubeconfig: Path, redis_url: str, tmp_path: Path, key_prefix: str
) -> Iterator[Any]:
    from bot.app.config import load_settings

    path = tmp_path / "m.yaml"
    path.write_text(
        f"redis: {{key_prefix: {key_prefix}}}\n"
        f"clusters:\n  prod: {{kubeconfig: {kubeconfig}, context: sandbox}}\n"
    )
    with build_runtime(load_settings(path, env={"REDIS_URL": redis_url})) as runtime:
        yield runtime


def test_set_patch_passes_the_real_schema_dry_run(
    no_metrics_runtime: Any, kube_server_with_istio: KubeTestServer
) -> None:
    from commands.changes.model import ChangeProposed

    result = run(
        no_metrics_runtime,
        "timeouts set service=payments timeout=2s retries=2 per-try=500ms retry-on=5xx,503",
    )
    assert isinstance(result, ChangeProposed), result
    created = run(no_metrics_runtime, "timeouts set service=checkout.shop timeout=4s retries=1")
    assert isinstance(created, ChangeProposed), created
    live = kube_server_with_istio.get_object(
        "networking.istio.io/v1", "virtualservices", "payments", "payments"
    )
    assert live["spec"]["http"][0]["timeout"] == "1s"  # proposing writes nothing
    assert (
        kube_server_with_istio.get_object(
            "networking.istio.io/v1", "virtualservices", "checkout", "shop"
        )
        is None
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("timeouts set service=reviews timeout=2s", "matched by 2 routes in shop/reviews"),
        ("timeouts set service=ratings timeout=2s", "unknown host `ratings`"),
        ("timeouts set service=payments timeout=1.5", "`1.5` is not a duration"),
    ],
)
def test_bad_input_against_the_seed(no_metrics_runtime: Any, text: str, says: str) -> None:
    from commands.core.model import UsageError

    result = run(no_metrics_runtime, text)
    assert isinstance(result, UsageError) and says in result.problem, result


GATEWAYS_AND_DELEGATES = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  selector: {matchLabels: {app: istio-ingressgateway}}
  template:
    metadata: {labels: {app: istio-ingressgateway, istio: ingressgateway}}
    spec:
      containers:
      - {name: istio-proxy, image: docker.io/istio/proxyv2:1.30.0}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["shop/*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: frontend-public, namespace: shop}
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/public]
  http:
  - name: site
    route:
    - destination: {host: frontend.shop.svc.cluster.local, port: {number: 8080}}
    timeout: 15s
    retries: {attempts: 0}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: shop}
spec:
  selector: {app: ratings}
  ports: [{name: http, port: 9080}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: shop}
spec:
  hosts: [ratings]
  http:
  - name: api
    match: [{uri: {prefix: /api}}]
    timeout: 4s
    delegate: {name: ratings-routes}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings-routes, namespace: shop}
spec:
  http:
  - name: v1
    match: [{uri: {prefix: /api/v1}}]
    route:
    - destination: {host: ratings}
    retries: {attempts: 3, retryOn: "5xx"}
"""


@pytest.mark.scenario("timeouts-three-hop")
def test_audit_json_with_gateways_and_delegates_reports_only_what_istio_does(
    seeded: KubeCluster,
    kube_server_with_istio: KubeTestServer,
    config_file: Path,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The ingress hop runs the gateway-bound route (retries off: x1, not Istio's
    default x3); the delegate route with retries and no timeout of its own runs with its
    root's 4s (no retries-without-timeout); nothing else is reported."""
    kube_server_with_istio.load_seed(GATEWAYS_AND_DELEGATES)
    monkeypatch.setenv("REDIS_URL", redis_url)
    code = main(["timeouts", "audit", "--output", "json", "--config", str(config_file)])
    out = json.loads(capsys.readouterr().out)
    found = {(f["rule"], f["severity"], f["subject"]) for f in out["findings"]}
    path = "istio-system/istio-ingressgateway → frontend.shop → checkout.shop → payments.payments"
    assert found == {
        ("retry-amplification", "error", path),
        ("retries-exceed-timeout", "error", "payments/payments route #0"),
        ("mesh-timeout-not-above-app", "warning", "payments/payments route #0"),
        ("retries-without-timeout", "warning", "shop/reviews route canary"),
        ("no-timeout", "info", "shop/reviews route #1"),
    }
    amplification = next(f for f in out["findings"] if f["rule"] == "retry-amplification")
    assert "up to 12x (1 x 3 x 4)" in amplification["message"]
    assert amplification["evidence"][0] == (
        "istio-system/istio-ingressgateway → frontend.shop: x1 (via gateway istio-system/public, "
        "shop/frontend-public route site: retries off)"
    )
    assert all(f["fix"] for f in out["findings"])
    assert code == 1
