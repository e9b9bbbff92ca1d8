"""`/mesh timeouts audit|set|fix` through the registry, on in-memory fakes: what a user
sees for the seed's numbers, bad input, refusals, and the change handed to the pipeline."""

from __future__ import annotations

from typing import Any

import pytest

from commands.changes.model import ChangeProposed, ChangeState, ObjectRef
from commands.changes.pipeline import Pipeline
from commands.core.errors import MetricsUnavailable
from commands.core.model import Caller, Denied, Failure, Result, Role, UsageError
from commands.core.registry import Registry
from commands.timeouts.commands import register
from commands.timeouts.model import ServiceRecord, Severity, TimeoutAudit
from tests.unit.fakes import FakeMetrics
from tests.unit.timeouts.fakes import (
    PAYMENTS,
    VS_API,
    MeshCluster,
    edge,
    mesh_metrics,
    mesh_services,
    seed_cluster,
    three_hop_samples,
    vs,
)

ALICE = Caller("U_ALICE", Role.OPERATOR, "C_OPS", "slack")
BOB = Caller("U_BOB", Role.APPROVER, "C_OPS", "slack")
VIEWER = Caller("U_VIEWER", Role.VIEWER, "C_OPS", "slack")
REVIEWS = "reviews.shop.svc.cluster.local"
P99 = {
    "frontend.shop.svc.cluster.local": 300.0,
    "checkout.shop.svc.cluster.local": 200.0,
    PAYMENTS: 150.0,
}


def _run(services: Any, text: str, caller: Caller = ALICE) -> Result:
    registry = Registry()
    register(registry)
    return registry.dispatch(text, caller, services)


def _seed(metrics: FakeMetrics | None = None) -> tuple[MeshCluster, Any]:
    cluster = seed_cluster()
    services = mesh_services(
        cluster, metrics if metrics is not None else mesh_metrics(three_hop_samples(), P99)
    )
    return cluster, services


def test_audit_of_the_seed_reports_what_fights_the_app() -> None:
    _, services = _seed()
    report = _run(services, "timeouts audit", VIEWER)
    assert isinstance(report, TimeoutAudit)
    rules = {(f.rule, f.severity) for f in report.findings}
    assert ("retries-exceed-timeout", Severity.ERROR) in rules
    assert ("mesh-timeout-not-above-app", Severity.WARNING) in rules
    assert ("retry-amplification", Severity.ERROR) in rules  # 3 x 3 x 4 with explicit retries
    exceed = next(f for f in report.findings if f.rule == "retries-exceed-timeout")
    assert exceed.subject == "payments/payments route #0"
    assert "4 x 500ms = 2s is beyond the timeout 1s" in exceed.message
    edit = exceed.suggestion.edits[0]  # type: ignore[union-attr]
    assert (edit.timeout_ms, edit.attempts, edit.per_try_ms) == (2000, 2, 500)
    app = next(f for f in report.findings if f.rule == "mesh-timeout-not-above-app")
    assert "app timeout 1.5s (annotation on Deployment shop/checkout)" in app.evidence
    assert report.has_errors and report.notes == ()
    # worst first, and the same ids on a second run
    assert [f.severity.rank for f in report.findings] == sorted(
        f.severity.rank for f in report.findings
    )
    again = _run(services, "timeouts audit")
    assert isinstance(again, TimeoutAudit)
    assert [f.id for f in again.findings] == [f.id for f in report.findings]


def test_audit_of_one_namespace_keeps_paths_through_it() -> None:
    _, services = _seed()
    report = _run(services, "timeouts audit namespace=shop")
    assert isinstance(report, TimeoutAudit)
    assert report.routes == 0 and report.scope == "shop"
    assert [f.rule for f in report.findings] == ["retry-amplification"]


def test_audit_without_prometheus_still_checks_config_and_says_what_it_skipped() -> None:
    cluster = seed_cluster()
    services = mesh_services(cluster, None)
    report = _run(services, "timeouts audit")
    assert isinstance(report, TimeoutAudit)
    assert "no Prometheus is configured for prod" in report.notes[0]
    rules = {f.rule for f in report.findings}
    assert "retries-exceed-timeout" in rules and "retry-amplification" not in rules
    # no traffic data is said once, in that note, not as a finding on every route
    assert "app-timeout-unknown" not in rules


def test_audit_with_prometheus_down_says_so() -> None:
    _, services = _seed(FakeMetrics(down=True))
    report = _run(services, "timeouts audit")
    assert isinstance(report, TimeoutAudit)
    assert report.notes[0].startswith("Prometheus did not answer")


def test_audit_bad_scope_and_roles() -> None:
    _, services = _seed()
    assert isinstance(_run(services, "timeouts audit all namespace=shop"), UsageError)
    denied = _run(services, "timeouts set service=payments timeout=2s", VIEWER)
    assert isinstance(denied, Denied) and "operator" in denied.reason


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("timeouts set service=payments timeout=2", "`timeout=`: `2` is not a duration"),
        ("timeouts set service=payments timeout=500us", "is below 1ms"),
        ("timeouts set service=payments timeout=2s per-try=1.0005s", "finer than a millisecond"),
        ("timeouts set service=payments timeout=2s retries=two", "a whole number of retries"),
        ("timeouts set service=payments timeout=2s retry-on=often", "`often` is not a retry"),
        ("timeouts set service=payments timeout=2s retries=0 per-try=1s", "no effect"),
        ("timeouts set service=paymnts timeout=2s", "unknown host `paymnts`"),
        ("timeouts set service=payments timeout=2s route=nope", "no route `nope`"),
        ("timeouts set timeout=2s", "`service` is required"),
    ],
)
def test_set_refuses_bad_input_and_changes_nothing(text: str, says: str) -> None:
    cluster, services = _seed()
    result = _run(services, text)
    assert isinstance(result, UsageError), result
    assert says in result.problem
    assert "timeouts set service=HOST" in result.usage or "help" in result.usage
    assert cluster.writes == []
    assert services.store.values.get(("prod", "changes:index")) is None


def test_set_refuses_what_the_audit_would_flag_unless_forced() -> None:
    _, services = _seed()
    refused = _run(services, "timeouts set service=payments timeout=1s retries=3 per-try=500ms")
    assert isinstance(refused, UsageError)
    assert "retries-exceed-timeout" in refused.problem and "force=true" in refused.problem
    forced = _run(
        services, "timeouts set service=payments timeout=1200ms retries=3 per-try=500ms force=true"
    )
    assert isinstance(forced, ChangeProposed), forced
    assert forced.change.title.endswith("(forced)")
    assert forced.change.risks[0].text == "proposed with force=true by U_ALICE"
    audit = [e.fields for e in services.store.audit["prod"]]
    assert any(f.get("event") == "timeouts-force" and f["actor"] == "U_ALICE" for f in audit)


def test_set_proposes_the_patch_and_the_pipeline_applies_and_rolls_back_exactly() -> None:
    cluster, services = _seed()
    before = cluster.get_object(_payments_ref())
    proposed = _run(
        services, "timeouts set service=payments timeout=2s retries=2 per-try=500ms retry-on=5xx"
    )
    assert isinstance(proposed, ChangeProposed), proposed
    change = proposed.change
    assert change.kind == "timeouts" and change.state is ChangeState.PROPOSED
    assert change.diff[0] == "update VirtualService payments/payments (networking.istio.io/v1)"
    assert change.verify["hosts"] == [PAYMENTS]
    assert cluster.writes == []  # dry run only
    own = Pipeline(services).approve(change.id, ALICE)
    assert own.outcome.value == "refused"
    done = Pipeline(services).approve(change.id, BOB)
    assert done.change is not None and done.change.state is ChangeState.VERIFYING
    live = cluster.objects[("virtualservices", "payments", "payments")]
    assert live["spec"]["http"][0]["timeout"] == "2s"
    assert live["spec"]["http"][0]["retries"] == {
        "attempts": 2,
        "perTryTimeout": "500ms",
        "retryOn": "5xx",
    }
    rolled = Pipeline(services).rollback(change.id, ALICE)
    assert rolled.outcome.value == "done", rolled.message
    restored = cluster.objects[("virtualservices", "payments", "payments")]
    assert restored["spec"] == before["spec"]


def test_set_for_a_host_without_virtual_service_creates_a_minimal_one() -> None:
    _, services = _seed()
    proposed = _run(services, "timeouts set service=checkout.shop timeout=3s")
    assert isinstance(proposed, ChangeProposed), proposed
    (obj,) = proposed.change.objects
    assert obj.observed is None
    assert obj.desired["metadata"] == {
        "name": "checkout",
        "namespace": "shop",
        "labels": {"app.kubernetes.io/managed-by": "meshbot"},
    }
    assert obj.desired["spec"] == {
        "hosts": ["checkout.shop.svc.cluster.local"],
        "http": [
            {
                "name": "default",
                "route": [{"destination": {"host": "checkout.shop.svc.cluster.local"}}],
                "timeout": "3s",
            }
        ],
    }


def test_set_asks_for_route_when_several_match() -> None:
    cluster, services = _seed()
    cluster.add(
        vs(
            "reviews",
            "shop",
            "reviews",
            routes=[
                {
                    "name": "canary",
                    "match": [{"headers": {"x-canary": {"exact": "1"}}}],
                    "route": [{"destination": {"host": "reviews", "subset": "v2"}}],
                },
                {"route": [{"destination": {"host": "reviews"}}]},
            ],
        )
    )
    # the older payments/payments is private to its namespace: callers elsewhere use this one
    cluster.objects[("virtualservices", "payments", "payments")]["spec"]["exportTo"] = ["."]
    cluster.add(vs("payments-extra", "payments", "payments.payments.svc.cluster.local"))
    several = _run(services, "timeouts set service=reviews.shop timeout=2s")
    assert isinstance(several, UsageError)
    assert "matched by 2 routes in shop/reviews" in several.problem
    assert "`route=reviews/canary`" in several.problem and "`route=reviews/#1`" in several.problem
    picked = _run(services, "timeouts set service=reviews.shop timeout=2s route=reviews/#1")
    assert isinstance(picked, ChangeProposed), picked
    vss = _run(services, "timeouts set service=payments timeout=2s retries=2 per-try=500ms")
    assert isinstance(vss, UsageError)
    assert "2 VirtualServices (payments/payments, payments/payments-extra)" in vss.problem
    ok = _run(
        services,
        "timeouts set service=payments timeout=2s retries=2 per-try=500ms retry-on=5xx "
        "route=payments-extra",
    )
    assert isinstance(ok, ChangeProposed), ok


def test_fix_proposes_exactly_the_suggestion_the_user_saw() -> None:
    _, services = _seed()
    missing = _run(services, "timeouts fix to-00000000")
    assert isinstance(missing, Failure) and "run `/mesh timeouts audit` first" in missing.message
    report = _run(services, "timeouts audit")
    assert isinstance(report, TimeoutAudit)
    finding = next(f for f in report.findings if f.rule == "retries-exceed-timeout")
    unknown = _run(services, "timeouts fix to-00000000")
    assert isinstance(unknown, Failure) and "run `/mesh timeouts audit` again" in unknown.message
    proposed = _run(services, f"timeouts fix {finding.id}")
    assert isinstance(proposed, ChangeProposed), proposed
    desired = proposed.change.objects[0].desired["spec"]["http"][0]
    assert desired["timeout"] == "2s"
    assert desired["retries"] == {
        "attempts": 2,
        "perTryTimeout": "500ms",
        "retryOn": "5xx,connect-failure",
    }
    assert any(finding.id in line for line in proposed.change.summary)


def test_fix_refuses_when_the_route_was_edited_since_the_audit() -> None:
    cluster, services = _seed()
    report = _run(services, "timeouts audit")
    assert isinstance(report, TimeoutAudit)
    finding = next(f for f in report.findings if f.rule == "retries-exceed-timeout")
    cluster.objects[("virtualservices", "payments", "payments")]["spec"]["http"][0]["timeout"] = (
        "9s"
    )
    result = _run(services, f"timeouts fix {finding.id}")
    assert isinstance(result, UsageError)
    assert "edited since the audit (drift)" in result.problem
    assert cluster.writes == []


def test_fix_of_an_amplification_path_edits_several_hosts() -> None:
    _, services = _seed()
    report = _run(services, "timeouts audit")
    assert isinstance(report, TimeoutAudit)
    path = next(f for f in report.findings if f.rule == "retry-amplification")
    proposed = _run(services, f"timeouts fix {path.id}")
    assert isinstance(proposed, ChangeProposed), proposed
    labels = [o.ref.label for o in proposed.change.objects]
    assert labels == ["VirtualService shop/checkout", "VirtualService payments/payments"]


def test_metrics_error_is_a_note_not_a_failure() -> None:
    with pytest.raises(MetricsUnavailable):
        FakeMetrics(down=True).query("up")


def _payments_ref() -> ObjectRef:
    return ObjectRef(VS_API, "VirtualService", "virtualservices", "payments", "payments")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "timeouts set service=payments timeout=99999999999999h",
            "longer than any duration Go, Istio and Envoy can hold (at most "
            "2562047h47m16.854775807s",
        ),
        (
            "timeouts set service=payments timeout=48h",
            "`timeout=48h` is above 24h, the longest timeout meshbot sets on a route",
        ),
        ("timeouts set service=payments timeout=2s per-try=25h", "`per-try=25h` is above 24h"),
        ("timeouts set service=payments timeout=2s retries=101", "more than 100 retries"),
    ],
)
def test_set_refuses_durations_envoy_cannot_hold_or_no_route_needs(text: str, says: str) -> None:
    cluster, services = _seed()
    result = _run(services, text)
    assert isinstance(result, UsageError), result
    assert says in result.problem
    assert cluster.writes == []


def _delegated(cluster: MeshCluster) -> None:
    """shop/reviews delegates /api to shop/reviews-api with a 1s timeout on the root."""
    root = vs("reviews", "shop", "reviews", routes=[])
    root["spec"]["http"] = [
        {
            "name": "api",
            "match": [{"uri": {"prefix": "/api"}}],
            "timeout": "1s",
            "delegate": {"name": "reviews-api"},
        }
    ]
    child = vs("reviews-api", "shop", "reviews", routes=[])
    child["spec"] = {
        "http": [
            {
                "name": "v1",
                "match": [{"uri": {"prefix": "/api/v1"}}],
                "route": [{"destination": {"host": "reviews"}}],
                "retries": {"attempts": 2, "perTryTimeout": "300ms", "retryOn": "5xx"},
            }
        ]
    }
    cluster.add(root)
    cluster.add(child)
    cluster.records.append(ServiceRecord("shop", "reviews", {"app": "reviews"}))


def test_set_on_a_delegated_route_writes_each_value_where_it_lives() -> None:
    cluster, services = _seed()
    _delegated(cluster)
    proposed = _run(services, "timeouts set service=reviews.shop timeout=3s retries=1")
    assert isinstance(proposed, ChangeProposed), proposed
    diff = proposed.change.diff
    assert "update VirtualService shop/reviews (networking.istio.io/v1)" in diff
    assert "    ~ spec.http[api].timeout: 1s → 3s" in diff  # the root holds the timeout
    assert "update VirtualService shop/reviews-api (networking.istio.io/v1)" in diff
    assert "    ~ spec.http[v1].retries.attempts: 2 → 1" in diff  # the delegate its retries


def test_fix_of_an_inherited_timeout_goes_to_the_root_route() -> None:
    cluster, services = _seed(
        mesh_metrics(
            [*three_hop_samples(), edge("checkout", "shop", REVIEWS, "reviews", "shop")], P99
        )
    )
    _delegated(cluster)
    report = _run(services, "timeouts audit")
    assert isinstance(report, TimeoutAudit)
    low = next(
        f
        for f in report.findings
        if f.rule == "mesh-timeout-not-above-app" and "reviews-api" in f.subject
    )
    assert low.subject == "shop/reviews-api route v1 (delegated from shop/reviews route api)"
    assert any("inherited from shop/reviews route api" in e for e in low.evidence)
    assert "timeout=2s (shop/reviews route api)" in low.fix
    proposed = _run(services, f"timeouts fix {low.id}")
    assert isinstance(proposed, ChangeProposed), proposed
    labels = [o.ref.label for o in proposed.change.objects]
    assert labels == ["VirtualService shop/reviews"]
    assert "    ~ spec.http[api].timeout: 1s → 2s" in proposed.change.diff


def test_set_for_a_service_entry_host_uses_it_as_written() -> None:
    cluster, services = _seed()
    cluster.add(
        {
            "apiVersion": VS_API,
            "kind": "ServiceEntry",
            "metadata": {"name": "stripe", "namespace": "egress"},
            "spec": {"hosts": ["api.stripe.com"], "resolution": "DNS"},
        },
        "serviceentries",
    )
    proposed = _run(services, "timeouts set service=api.stripe.com timeout=5s")
    assert isinstance(proposed, ChangeProposed), proposed
    (obj,) = proposed.change.objects
    assert (obj.ref.namespace, obj.ref.name) == ("egress", "api-stripe-com")
    assert obj.desired["spec"]["hosts"] == ["api.stripe.com"]
    assert obj.desired["spec"]["http"][0]["route"] == [{"destination": {"host": "api.stripe.com"}}]


def test_set_refuses_a_host_whose_routes_have_no_upstream() -> None:
    cluster, services = _seed()
    moved = vs("old-shop", "shop", "old-shop", routes=[{"redirect": {"authority": "shop"}}])
    cluster.add(moved)
    cluster.records.append(ServiceRecord("shop", "old-shop", {"app": "old-shop"}))
    result = _run(services, "timeouts set service=old-shop.shop timeout=2s")
    assert isinstance(result, UsageError), result
    assert "answer with a redirect or a direct response" in result.problem
    assert cluster.writes == []
