"""Gateways, promote and retire, and auto-advance of low-risk waves."""

from __future__ import annotations

from commands.changes.model import ChangeState, ObjectRef
from commands.changes.pipeline import Pipeline
from commands.core.model import ActionOutcome, Caller, Role
from commands.core.ports import Sample
from commands.core.registry import Context
from commands.install.commands import auto_advance
from commands.install.model import InstallSettings, StageState
from commands.install.stages import DEFAULT_INJECTOR, TAG_WEBHOOK, webhook_ref
from tests.unit.install.fakes import Bed, deployment, install_bed, pod
from tests.unit.install.test_stages import (
    ALICE,
    BOB,
    control_plane_verified,
    planned,
    run,
    wave_pods_restarted,
)


def verify_wave(bed: Bed, plan_id: str, index: int) -> str:
    acted = run(bed, f"install advance {plan_id}")
    assert acted.outcome is ActionOutcome.DONE, acted.message
    change = acted.view.stages[index].change  # type: ignore[union-attr]
    assert change is not None
    Pipeline(bed.services).approve(change.id, BOB)
    wave_pods_restarted(bed, acted.view.stages[index].stage.namespaces)  # type: ignore[union-attr]
    namespaces = acted.view.stages[index].stage.namespaces  # type: ignore[union-attr]
    bed.metrics.on(
        "increase(istio_requests_total",
        lambda at: [Sample({"destination_workload_namespace": ns}, 500.0) for ns in namespaces],
    )
    bed.clock.value += 10_000
    Pipeline(bed.services).run_due()
    after = Pipeline(bed.services).find(change.id)
    assert after is not None and after.state is ChangeState.VERIFIED, after.timeline[-1]
    return change.id


def test_gateways_move_by_their_pod_template_label() -> None:
    bed = install_bed()
    gw = deployment("istio-ingress", "istio-ingressgateway", {"istio": "ingressgateway"})
    bed.cluster.add(gw, "deployments")
    plan_id = planned(bed)
    control_plane_verified(bed, plan_id)
    change = run(bed, f"install advance {plan_id}").view.stages[1].change  # type: ignore[union-attr]
    assert change is not None
    Pipeline(bed.services).approve(change.id, BOB)
    ref = ObjectRef("apps/v1", "Deployment", "deployments", "istio-ingressgateway", "istio-ingress")
    template = bed.cluster.live(ref)["spec"]["template"]["metadata"]  # type: ignore[index]
    assert template["labels"]["istio.io/rev"] == "1-30-3"
    bed.cluster.add(pod("istio-ingress", "istio-ingressgateway-x", "1-30-3", "1.30.3"), "pods")
    bed.metrics.on(
        "increase(istio_requests_total",
        lambda at: [Sample({"source_workload_namespace": "istio-ingress"}, 900.0)],
    )
    bed.clock.value += 10_000
    Pipeline(bed.services).run_due()
    assert Pipeline(bed.services).find(change.id).state is ChangeState.VERIFIED  # type: ignore[union-attr]


def test_promote_moves_the_default_tag_and_retire_waits_then_uninstalls_the_old_release() -> None:
    bed = install_bed(InstallSettings(wave_size=4, bake_window_s=60.0, retire_wait_s=3600.0))
    plan_id = planned(bed)
    control_plane_verified(bed, plan_id)
    verify_wave(bed, plan_id, 1)
    promoted = run(bed, f"install advance {plan_id}")
    change = promoted.view.stages[2].change  # type: ignore[union-attr]
    assert change is not None and change.kind == "install-promote"
    Pipeline(bed.services).approve(change.id, BOB)
    tag = bed.cluster.live(webhook_ref(TAG_WEBHOOK))
    assert tag is not None and tag["metadata"]["labels"]["istio.io/rev"] == "1-30-3"
    assert {h["clientConfig"]["service"]["name"] for h in tag["webhooks"]} == {"istiod-1-30-3"}
    names = [h["name"] for h in tag["webhooks"]]
    assert names[:3] == [
        "rev.namespace.sidecar-injector.istio.io",
        "rev.object.sidecar-injector.istio.io",
        "namespace.sidecar-injector.istio.io",
    ]
    old = bed.cluster.live(webhook_ref(DEFAULT_INJECTOR))
    assert old is not None
    assert old["webhooks"][0]["namespaceSelector"]["matchExpressions"][0]["key"] == (
        "istio.io/deactivated"
    )
    assert Pipeline(bed.services).find(change.id).state is ChangeState.VERIFIED  # type: ignore[union-attr]
    early = run(bed, f"install advance {plan_id}")
    assert early.outcome is ActionOutcome.REFUSED and "retire_wait_s" in early.message
    bed.clock.advance(3601)
    retire = run(bed, f"install advance {plan_id}").view.stages[3].change  # type: ignore[union-attr]
    assert retire is not None and retire.kind == "install-retire"
    Pipeline(bed.services).approve(retire.id, BOB)
    assert ("istio-system", "istiod") not in bed.helm.releases
    rolled = Pipeline(bed.services).rollback(retire.id, ALICE, "keep the old one a bit")
    assert rolled.outcome is ActionOutcome.DONE, rolled.message
    assert bed.helm.releases[("istio-system", "istiod")].chart_version == "1.29.6"
    back = Pipeline(bed.services).rollback(change.id, ALICE, "undo promote")
    assert back.outcome is ActionOutcome.DONE, back.message
    assert bed.cluster.live(webhook_ref(TAG_WEBHOOK)) is None
    restored = bed.cluster.live(webhook_ref(DEFAULT_INJECTOR))
    assert restored["webhooks"][0]["namespaceSelector"] == {  # type: ignore[index]
        "matchLabels": {"istio-injection": "enabled"}
    }


def test_low_risk_waves_are_proposed_by_themselves_when_the_policy_says_so() -> None:
    settings = InstallSettings(
        wave_size=2, bake_window_s=60.0, auto_advance="low-risk", low_risk_pods=10, low_risk_rps=200
    )
    bed = install_bed(settings)
    plan_id = planned(bed)
    control_plane_verified(bed, plan_id)
    first = verify_wave(bed, plan_id, 1)
    ctx = Context(Caller("meshbot", Role.OPERATOR), bed.registry, bed.services)
    acted = auto_advance(ctx, first)
    assert acted is not None and acted.outcome is ActionOutcome.DONE, acted
    assert acted.view is not None and acted.view.stages[2].state is StageState.PROPOSED
    change = acted.view.stages[2].change
    assert change is not None and change.requester == "meshbot"
    assert auto_advance(ctx, first) is None  # the next wave is proposed already
    never = install_bed()
    never_plan = planned(never)
    control_plane_verified(never, never_plan)
    verified = verify_wave(never, never_plan, 1)
    ctx = Context(Caller("meshbot", Role.OPERATOR), never.registry, never.services)
    assert auto_advance(ctx, verified) is None
