"""mTLS status, strict and permissive over in-memory ports: precedence, gates, verdicts."""

from __future__ import annotations

from typing import Any

import pytest

from commands.changes import commands as change_commands
from commands.changes.hooks import VerdictOutcome
from commands.changes.model import ChangeProposed, ChangeState, GateStatus
from commands.core.model import Caller, Failure, Role, Text, UsageError
from commands.core.ports import Sample, Services
from commands.core.registry import Registry
from commands.mtls import commands as mtls
from commands.mtls.model import MtlsSettings, MtlsStatus
from commands.mtls.policy import effective_mode, peer_auth
from commands.mtls.verify import Window, judge
from tests.unit.changes.fakes import ObjectCluster, ScriptedMetrics, change_services

ALICE = Caller("U_ALICE", Role.OPERATOR)
SETTINGS = MtlsSettings(readiness_window_s=3600, min_requests=100)


def pa(
    namespace: str, name: str, mode: str | None, selector: dict[str, str] | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if mode:
        spec["mtls"] = {"mode": mode}
    if selector:
        spec["selector"] = {"matchLabels": selector}
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def pod(namespace: str, name: str, sidecar: bool = True, phase: str = "Running") -> dict[str, Any]:
    containers = [{"name": "app", "image": "app:1"}]
    if sidecar:
        containers.append({"name": "istio-proxy", "image": "proxyv2:1.30.0"})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": containers},
        "status": {"phase": phase},
    }


def namespace(name: str, injected: bool = True) -> dict[str, Any]:
    labels = {"istio-injection": "enabled"} if injected else {}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def sample(value: float, **labels: str) -> Sample:
    return Sample(labels, value)


def shop_cluster() -> ObjectCluster:
    c = ObjectCluster()
    for ns in ("shop", "payments", "istio-system"):
        c.add(namespace(ns, injected=ns != "istio-system"), "namespaces")
    c.add(namespace("kube-system", injected=False), "namespaces")
    c.add(pod("shop", "orders-1"), "pods")
    c.add(pod("shop", "web-1"), "pods")
    c.add(pod("shop", "old-job-1", sidecar=False, phase="Succeeded"), "pods")
    c.add(pod("payments", "pay-1"), "pods")
    c.add(pod("payments", "legacy-1", sidecar=False), "pods")
    c.add(pa("istio-system", "default", "PERMISSIVE"), "peerauthentications")
    return c


def traffic(plaintext: float = 0.0, total: float = 5000.0) -> ScriptedMetrics:
    m = ScriptedMetrics()
    m.on(
        "sum by (destination_workload_namespace) (increase(istio_requests_total",
        lambda at: [
            sample(total, destination_workload_namespace="shop"),
            sample(total, destination_workload_namespace="payments"),
        ],
    )
    m.on(
        'connection_security_policy!="mutual_tls"',
        lambda at: (
            [
                sample(
                    plaintext,
                    destination_workload_namespace="shop",
                    destination_workload="orders",
                    source_workload_namespace="shop",
                    source_workload="legacy-batch",
                )
            ]
            if plaintext
            else []
        ),
    )
    return m


def mtls_services(*args: Any, **kwargs: Any) -> Services:
    return change_services(*args, kits=(MtlsSettings(),), **kwargs)


def run(services: Services, text: str, caller: Caller = ALICE) -> Any:
    registry = Registry()
    mtls.register(registry)
    change_commands.register(registry)
    return registry.dispatch(text, caller, services)


def test_precedence_namespace_over_mesh_and_unset_inherits() -> None:
    policies = [peer_auth(pa("istio-system", "default", "STRICT"))]
    assert effective_mode(policies, "shop", "istio-system").mode == "STRICT"
    policies.append(peer_auth(pa("shop", "default", "PERMISSIVE")))
    shop = effective_mode(policies, "shop", "istio-system")
    assert (shop.mode, shop.source) == ("PERMISSIVE", "namespace PeerAuthentication shop/default")
    policies[-1] = peer_auth(pa("shop", "default", None))
    assert effective_mode(policies, "shop", "istio-system").mode == "STRICT"
    assert effective_mode([], "shop", "istio-system").mode == "PERMISSIVE"


def test_conflicting_namespace_policies_are_named_not_guessed() -> None:
    policies = [peer_auth(pa("shop", "a", "STRICT")), peer_auth(pa("shop", "b", "PERMISSIVE"))]
    shop = effective_mode(policies, "shop", "istio-system")
    assert shop.mode == "UNKNOWN"
    assert shop.conflicts == ("several namespace-wide PeerAuthentications in shop: shop/a, shop/b",)


def test_status_says_ready_only_with_sidecars_no_plaintext_and_enough_traffic() -> None:
    services = mtls_services(shop_cluster(), metrics=traffic())
    status = run(services, "mtls status")
    assert isinstance(status, MtlsStatus)
    by_ns = {r.namespace: r for r in status.namespaces}
    assert set(by_ns) == {"shop", "payments"}  # meshed only; system namespaces skipped
    assert by_ns["shop"].verdict == "ready for STRICT"
    assert by_ns["payments"].verdict.startswith(
        "not ready: sidecars: 1 of 2 pods have no istio-proxy: legacy-1"
    )


def test_plaintext_blocks_and_names_the_edge() -> None:
    services = mtls_services(shop_cluster(), metrics=traffic(plaintext=420))
    status = run(services, "mtls status namespace=shop")
    gate = {g.name: g for g in status.namespaces[0].gates}["plaintext"]
    assert gate.status is GateStatus.FAIL
    assert (
        "420 plaintext requests" in gate.detail and "shop/legacy-batch → shop/orders" in gate.detail
    )


def test_too_little_traffic_is_not_enough_to_judge_never_ready() -> None:
    services = mtls_services(shop_cluster(), metrics=traffic(total=12))
    report = run(services, "mtls status namespace=shop").namespaces[0]
    gate = {g.name: g for g in report.gates}["plaintext"]
    assert gate.status is GateStatus.UNKNOWN
    assert "not enough traffic to judge: 12 requests" in gate.detail
    assert not report.ready


def test_prometheus_down_makes_the_plaintext_gate_unknown() -> None:
    metrics = traffic()
    metrics.down = True
    report = run(
        mtls_services(shop_cluster(), metrics=metrics), "mtls status namespace=shop"
    ).namespaces[0]
    gate = {g.name: g for g in report.gates}["plaintext"]
    assert gate.status is GateStatus.UNKNOWN and "cannot read Prometheus" in gate.detail


def test_unknown_namespace_is_a_usage_error() -> None:
    result = run(mtls_services(shop_cluster(), metrics=traffic()), "mtls strict namespace=nope")
    assert isinstance(result, UsageError)
    assert result.problem == "namespace `nope` does not exist in cluster prod"


def test_strict_proposes_a_namespace_policy_with_passing_gates() -> None:
    cluster = shop_cluster()
    result = run(mtls_services(cluster, metrics=traffic()), "mtls strict namespace=shop")
    assert isinstance(result, ChangeProposed)
    change = result.change
    assert change.kind == "mtls-strict" and change.state is ChangeState.PROPOSED
    assert not change.blocked
    assert change.diff[0] == "create PeerAuthentication shop/default (security.istio.io/v1)"
    assert "    + spec.mtls.mode: STRICT" in change.diff


def test_strict_uses_v1beta1_where_v1_is_not_served() -> None:
    cluster = shop_cluster()
    cluster.served["security.istio.io"] = ("v1beta1",)
    result = run(mtls_services(cluster, metrics=traffic()), "mtls strict namespace=shop")
    assert result.change.objects[0].ref.api_version == "security.istio.io/v1beta1"


def test_strict_with_failed_gates_is_proposed_blocked() -> None:
    result = run(mtls_services(shop_cluster(), metrics=traffic()), "mtls strict namespace=payments")
    assert isinstance(result, ChangeProposed) and result.change.blocked


def test_strict_refuses_conflicting_policies_and_says_which() -> None:
    cluster = shop_cluster()
    cluster.add(pa("shop", "a", "PERMISSIVE"), "peerauthentications")
    cluster.add(pa("shop", "b", "PERMISSIVE"), "peerauthentications")
    result = run(mtls_services(cluster, metrics=traffic()), "mtls strict namespace=shop")
    assert isinstance(result, Failure) and "shop/a, shop/b" in result.message
    assert "does not guess" in result.message


def test_workload_overrides_are_listed_as_risks() -> None:
    cluster = shop_cluster()
    cluster.add(pa("shop", "legacy", "PERMISSIVE", {"app": "legacy"}), "peerauthentications")
    change = run(mtls_services(cluster, metrics=traffic()), "mtls strict namespace=shop").change
    assert any("shop/legacy (app=legacy) keeps PERMISSIVE" in r.text for r in change.risks)


def test_mesh_wide_strict_waits_for_every_meshed_namespace() -> None:
    result = run(mtls_services(shop_cluster(), metrics=traffic()), "mtls strict mesh")
    change = result.change
    assert change.objects[0].ref.namespace == "istio-system"
    gate = change.gates[0]
    assert gate.status is GateStatus.FAIL and gate.detail.startswith("payments: not ready")


def test_permissive_is_the_way_back_and_says_when_nothing_to_do() -> None:
    cluster = shop_cluster()
    nothing = run(mtls_services(cluster, metrics=traffic()), "mtls permissive namespace=shop")
    assert isinstance(nothing, Text) and "already PERMISSIVE" in nothing.title
    cluster.add(pa("shop", "default", "STRICT"), "peerauthentications")
    back = run(mtls_services(cluster, metrics=traffic()), "mtls permissive namespace=shop")
    assert isinstance(back, ChangeProposed) and back.change.kind == "mtls-permissive"
    assert "    ~ spec.mtls.mode: STRICT → PERMISSIVE" in back.change.diff


@pytest.mark.parametrize(
    "text", ["mtls strict", "mtls strict namespace=Bad_NS", "mtls strict mesh namespace=shop"]
)
def test_bad_input_gets_usage(text: str) -> None:
    assert isinstance(run(mtls_services(shop_cluster(), metrics=traffic()), text), UsageError)


def test_a_viewer_cannot_propose() -> None:
    result = run(
        mtls_services(shop_cluster()), "mtls strict namespace=shop", Caller("U_V", Role.VIEWER)
    )
    assert "needs the operator role" in result.reason


BASE = {"shop/orders": Window(1000, 1, 0, 120.0)}


def test_bake_judge_breaches_on_5xx_and_passes_within_baseline() -> None:
    spike = judge({"shop/orders": Window(1000, 80, 0, 125.0)}, BASE, SETTINGS)
    assert spike.outcome is VerdictOutcome.BREACH
    assert spike.lines == ("shop/orders: 5xx 8.0% (baseline 0.1%)",)
    calm = judge({"shop/orders": Window(1000, 2, 0, 130.0)}, BASE, SETTINGS)
    assert calm.outcome is VerdictOutcome.PASS


def test_bake_judge_breaches_on_connection_failures_and_p99() -> None:
    bad = judge({"shop/orders": Window(1000, 1, 40, 400.0)}, BASE, SETTINGS)
    assert bad.outcome is VerdictOutcome.BREACH
    assert any("connection failures" in line for line in bad.lines)
    assert any("p99 400 ms (baseline 120 ms)" in line for line in bad.lines)


def test_bake_judge_holds_without_data() -> None:
    assert judge({}, BASE, SETTINGS).outcome is VerdictOutcome.HOLD
    no_baseline = judge({"shop/orders": Window(1000, 0, 0, 120.0)}, {}, SETTINGS)
    assert no_baseline.outcome is VerdictOutcome.HOLD


def test_a_cluster_fenced_to_other_channels_refuses_the_proposal() -> None:
    from dataclasses import replace

    from commands.core.model import Denied

    services = mtls_services(shop_cluster(), metrics=traffic())
    (name,) = services.clusters
    fenced = replace(services, cluster_channels={name: ("C_PROD",)})
    elsewhere = Caller("U_ALICE", Role.OPERATOR, channel_id="C_OPS", front_end="slack")
    result = run(fenced, "mtls strict namespace=shop", elsewhere)
    assert isinstance(result, Denied) and "<#C_PROD>" in result.reason
    here = Caller("U_ALICE", Role.OPERATOR, channel_id="C_PROD", front_end="slack")
    assert isinstance(run(fenced, "mtls strict namespace=shop", here), ChangeProposed)
