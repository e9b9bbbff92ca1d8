"""Readiness and bake baselines need data covering their whole window — through a real
Prometheus: a fresh one (seconds of clean traffic) is "not enough history", the same
traffic backfilled for two hours is ready. `meshbot mtls status` runs as a user runs it.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from bot.adapters.prometheus import PrometheusMetrics
from bot.sandbox.kube import KubeTestServer
from commands.changes.hooks import VerdictOutcome
from commands.changes.model import ApprovalPolicy, Change, ChangeState
from commands.mtls.model import MtlsSettings
from commands.mtls.verify import MtlsBakeVerifier
from tests.fixtures.prometheus import BackfillFactory, LivePrometheus
from tests.integration.app.test_cli import run

pytestmark = pytest.mark.prometheus

CLEAN_SHOP = """
name: shop-clean
description: shop's traffic, all of it mutual TLS
services:
  - name: orders
    namespace: shop
    rps: 40
    latency: {p50_ms: 20, p99_ms: 120}
    error_ratio: 0.001
    callers:
      - {service: web, share: 1.0}
  - name: web
    namespace: shop
    rps: 40
    latency: {p50_ms: 25, p99_ms: 150}
    error_ratio: 0.001
    callers:
      - {workload: istio-ingressgateway, namespace: istio-system, share: 1.0}
nodes:
  - {name: node-a, instance: 10.0.1.11:9100, cpus: 4}
"""
SHOP = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: legacy-port, namespace: shop}
spec:
  selector: {matchLabels: {app: legacy}}
  portLevelMtls: {"8080": {mode: PERMISSIVE}}
"""
POD = """
---
apiVersion: v1
kind: Pod
metadata: {{name: {name}-1, namespace: shop, labels: {{app: {name}}}}}
spec:
  containers:
  - {{name: {name}, image: {name}:1}}
  - {{name: istio-proxy, image: proxyv2:1.30.0}}
status: {{phase: Running}}
"""


def mtls_status(
    server: KubeTestServer, tmp_path: Path, prometheus_url: str, *flags: str
) -> subprocess.CompletedProcess[str]:
    server.load_seed(SHOP + "".join(POD.format(name=n) for n in ("orders", "web")))
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    config = tmp_path / "meshbot.yaml"
    config.write_text(
        f"redis: {{data_dir: {tmp_path / 'data'}}}\n"
        f"clusters: {{lab: {{kubeconfig: {kubeconfig}, context: sandbox, "
        f'prometheus: {{url: "{prometheus_url}"}}}}}}\n'
    )
    return run(
        ["mtls", "status", "--namespace", "shop", *flags, "--config", str(config)], {}, tmp_path
    )


def shop_report(done: subprocess.CompletedProcess[str]) -> dict:
    assert done.returncode == 0, done.stdout + done.stderr
    (report,) = json.loads(done.stdout)["namespaces"]
    return report


@pytest.mark.scenario(CLEAN_SHOP)
def test_a_fresh_prometheus_is_not_enough_history_for_the_hour(
    prometheus: LivePrometheus, kube_server_with_istio: KubeTestServer, tmp_path: Path
) -> None:
    prometheus.wait_scraped_for(3)
    report = shop_report(
        mtls_status(kube_server_with_istio, tmp_path, prometheus.url, "--output", "json")
    )
    assert report["ready"] is False
    assert report["traffic"] > 0 and report["history_s"] < 600
    assert "plaintext: not enough history: data covers" in report["verdict"]
    assert "of the 1 h window" in report["verdict"]

    text = mtls_status(kube_server_with_istio, tmp_path, prometheus.url).stdout
    assert "traffic counted over the last 1 h" in text and "req/s" not in text
    policy = "workload policy shop/legacy-port (app=legacy): mode UNSET (inherits PERMISSIVE)"
    assert f"{policy}; port 8080 stays PERMISSIVE" in " ".join(text.split())  # wrapped
    assert report["workload_policies"][0]["ports"] == {"8080": "PERMISSIVE"}


def test_a_backfilled_hour_of_clean_traffic_is_ready(
    backfilled_prometheus: BackfillFactory, kube_server_with_istio: KubeTestServer, tmp_path: Path
) -> None:
    history = backfilled_prometheus(CLEAN_SHOP, hours=2)
    report = shop_report(
        mtls_status(kube_server_with_istio, tmp_path, history.url, "--output", "json")
    )
    assert report["verdict"] == "ready for STRICT", report
    assert report["history_s"] >= 3600


def bake_change(applied: float) -> Change:
    return Change(
        id="chg-evidence",
        kind="mtls-strict",
        cluster="lab",
        title="mTLS STRICT for namespace shop",
        requester="U_ALICE",
        created_at=applied - 60,
        expires_at=applied + 3600,
        state=ChangeState.VERIFYING,
        objects=(),
        diff=(),
        gates=(),
        risks=(),
        policy=ApprovalPolicy(),
        verify={"namespaces": ["shop"]},
        applied_at=applied,
    )


@pytest.mark.scenario(CLEAN_SHOP)
def test_a_bake_baseline_the_data_does_not_cover_holds(prometheus: LivePrometheus) -> None:
    prometheus.wait_scraped_for(4)
    now = time.time()
    applied = now - 2  # a 10 min baseline before this has only seconds of data behind it
    metrics = PrometheusMetrics(prometheus.url)
    try:
        verdict = MtlsBakeVerifier(MtlsSettings(bake_min_requests=1)).compare(
            bake_change(applied), metrics, applied, now, 600
        )
    finally:
        metrics.close()
    assert verdict.outcome is VerdictOutcome.HOLD, verdict
    assert "baseline not enough history: data covers" in verdict.lines[0]
    assert "of the 10 min window" in verdict.lines[0]


def test_a_bake_baseline_with_full_history_is_compared(
    backfilled_prometheus: BackfillFactory,
) -> None:
    history = backfilled_prometheus(CLEAN_SHOP, hours=2)
    now = history.end.timestamp()
    applied = now - 300
    metrics = PrometheusMetrics(history.url)
    try:
        verdict = MtlsBakeVerifier(MtlsSettings()).compare(
            bake_change(applied), metrics, applied, now, 300
        )
    finally:
        metrics.close()
    assert verdict.outcome is VerdictOutcome.PASS, verdict
