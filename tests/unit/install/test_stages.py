"""Stages through the change pipeline: approval, Helm writes, waves, bake, exact rollback."""

from __future__ import annotations

from typing import Any

from commands.changes.model import ChangeState, Gate, GateStatus, ObjectRef
from commands.changes.pipeline import Pipeline
from commands.core.model import ActionOutcome, Caller, Failure, Role
from commands.core.ports import Sample
from commands.install.model import InstallActed, InstallView, StageState
from tests.unit.install.fakes import Bed, install_bed, ns_ref, pod

ALICE = Caller("U_ALICE", Role.OPERATOR)
BOB = Caller("U_BOB", Role.APPROVER)
DEPLOY = ObjectRef("apps/v1", "Deployment", "deployments", "istiod-1-30-3", "istio-system")


def planned(bed: Bed) -> str:
    result = bed.registry.dispatch("install plan version=1.30.3", ALICE, bed.services)
    assert isinstance(result, InstallView), result
    return result.plan.id


def run(bed: Bed, text: str, caller: Caller = ALICE) -> InstallActed:
    result = bed.registry.dispatch(text, caller, bed.services)
    assert isinstance(result, InstallActed), result
    return result


def istiod_comes_up(bed: Bed) -> None:
    """What Helm's install would leave running: istiod Available and its webhook."""
    bed.cluster.add(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "istiod-1-30-3", "namespace": "istio-system"},
            "spec": {},
            "status": {"conditions": [{"type": "Available", "status": "True"}]},
        },
        "deployments",
    )
    hook: dict[str, Any] = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "istio-sidecar-injector-1-30-3"},
        "webhooks": [
            {
                "name": "rev.namespace.sidecar-injector.istio.io",
                "clientConfig": {"service": {"name": "istiod-1-30-3", "namespace": "istio-system"}},
                "sideEffects": "None",
            }
        ],
    }
    bed.cluster.add(hook, "mutatingwebhookconfigurations")


def control_plane_verified(bed: Bed, plan_id: str) -> str:
    started = run(bed, f"install start {plan_id}")
    assert started.outcome is ActionOutcome.DONE, started.message
    change_id = started.view.stages[0].stage.change_id if started.view else None
    assert change_id
    acted = Pipeline(bed.services).approve(change_id, BOB)
    assert acted.outcome is ActionOutcome.DONE, acted.message
    istiod_comes_up(bed)
    bed.clock.advance(5)
    Pipeline(bed.services).run_due()
    assert Pipeline(bed.services).find(change_id).state is ChangeState.VERIFIED  # type: ignore[union-attr]
    return change_id


def test_control_plane_installs_the_new_release_beside_the_old_and_rolls_back_exactly() -> None:
    bed = install_bed()
    plan_id = planned(bed)
    started = run(bed, f"install start {plan_id}")
    assert started.view is not None
    stage = started.view.stages[0]
    assert stage.state is StageState.PROPOSED and stage.change is not None
    assert stage.change.kind == "install-control-plane"
    assert bed.helm.calls == []  # a dry run only, so far
    assert Pipeline(bed.services).approve(stage.change.id, ALICE).outcome is ActionOutcome.REFUSED
    Pipeline(bed.services).approve(stage.change.id, BOB)
    assert bed.helm.calls == [
        "install istio-base base 1.30.3",
        "install istiod-1-30-3 istiod 1.30.3",
    ]
    values = bed.helm.releases[("istio-system", "istiod-1-30-3")].values
    assert values["revision"] == "1-30-3"
    assert values["pilot"]["resources"]["requests"] == {"cpu": "200m", "memory": "256Mi"}
    bed.clock.advance(5)
    Pipeline(bed.services).run_due()
    held = Pipeline(bed.services).find(stage.change.id)
    assert held is not None and held.state is ChangeState.VERIFYING
    assert "istiod-1-30-3" in held.timeline[-1].detail
    istiod_comes_up(bed)
    bed.clock.advance(6)
    Pipeline(bed.services).run_due()
    assert Pipeline(bed.services).find(stage.change.id).state is ChangeState.VERIFIED  # type: ignore[union-attr]
    rolled = Pipeline(bed.services).rollback(stage.change.id, ALICE, "test")
    assert rolled.outcome is ActionOutcome.DONE, rolled.message
    assert sorted(n for _, n in bed.helm.releases) == ["istiod"]  # exactly the new ones gone


def test_helm_failure_mid_install_fails_the_stage_and_removes_what_it_installed() -> None:
    bed = install_bed()
    bed.helm.fail_install.append("istiod-1-30-3")
    plan_id = planned(bed)
    started = run(bed, f"install start {plan_id}")
    change_id = started.view.stages[0].change.id  # type: ignore[union-attr]
    acted = Pipeline(bed.services).approve(change_id, BOB)
    assert "timed out waiting" in acted.message
    assert Pipeline(bed.services).find(change_id).state is ChangeState.FAILED  # type: ignore[union-attr]
    assert sorted(n for _, n in bed.helm.releases) == ["istiod"]  # base undone too


def test_failed_preflight_blocks_until_an_approver_overrides_with_a_reason() -> None:
    bed = install_bed()
    bed.preflight.gates = (Gate("node capacity", GateStatus.FAIL, "node-2 has no room"),)
    plan_id = planned(bed)
    change = run(bed, f"install start {plan_id}").view.stages[0].change  # type: ignore[union-attr]
    assert change is not None and change.blocked
    refused = Pipeline(bed.services).approve(change.id, BOB)
    assert refused.outcome is ActionOutcome.REFUSED
    done = Pipeline(bed.services).approve(change.id, BOB, override="capacity added by hand")
    assert done.outcome is ActionOutcome.DONE
    assert ("istio-system", "istiod-1-30-3") in bed.helm.releases


def test_double_start_proposes_once_and_advance_waits_for_verification() -> None:
    bed = install_bed()
    plan_id = planned(bed)
    first = run(bed, f"install start {plan_id}")
    again = run(bed, f"install start {plan_id}")
    assert first.outcome is ActionOutcome.DONE
    assert again.outcome is not ActionOutcome.DONE
    assert len(Pipeline(bed.services).active("prod")) == 1
    early = run(bed, f"install advance {plan_id}")
    assert early.outcome is ActionOutcome.REFUSED and "waits for approval" in early.message


def wave_pods_restarted(bed: Bed, namespaces: tuple[str, ...], *, ready: bool = True) -> None:
    """What the controllers and the webhook would do: the wave's pods replaced by pods on
    the new proxy."""
    for key in [k for k in bed.cluster.objects if k[1] == "pods" and k[2] in namespaces]:
        del bed.cluster.objects[key]
    for ns in namespaces:
        bed.cluster.add(pod(ns, f"{ns}-api-new", "1-30-3", "1.30.3", ready), "pods")


def test_a_wave_relabels_restarts_bakes_and_rolls_back_exactly() -> None:
    bed = install_bed()
    plan_id = planned(bed)
    control_plane_verified(bed, plan_id)
    advanced = run(bed, f"install advance {plan_id}")
    assert advanced.outcome is ActionOutcome.DONE, advanced.message
    wave = advanced.view.stages[1].change  # type: ignore[union-attr]
    assert wave is not None and wave.kind == "install-wave"
    before = {ns: bed.cluster.live(ns_ref(ns)) for ns in ("quiet", "cart")}
    Pipeline(bed.services).approve(wave.id, BOB)
    for ns in ("quiet", "cart"):
        labels = bed.cluster.live(ns_ref(ns))["metadata"]["labels"]  # type: ignore[index]
        assert labels == {"istio.io/rev": "1-30-3", "team": ns}
        template = bed.cluster.live(
            ObjectRef("apps/v1", "Deployment", "deployments", f"{ns}-api", ns)
        )["spec"]["template"]  # type: ignore[index]
        assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]
    assert bed.cluster.live(ns_ref("shop"))["metadata"]["labels"]["istio-injection"] == "enabled"  # type: ignore[index]
    # rollout not done yet: a hold naming the pods still on the old proxy
    bed.clock.advance(11)
    Pipeline(bed.services).run_due()
    held = Pipeline(bed.services).find(wave.id)
    assert held is not None and held.state is ChangeState.VERIFYING
    assert "quiet/quiet-api-0 (1.29.6)" in held.timeline[-1].detail
    wave_pods_restarted(bed, ("quiet", "cart"))
    bed.metrics.on(
        "increase(istio_requests_total",
        lambda at: [Sample({"destination_workload_namespace": "cart"}, 500.0)],
    )
    bed.metrics.on('response_code=~"5..', lambda at: [])
    bed.metrics.on(
        "histogram_quantile", lambda at: [Sample({"destination_workload_namespace": "cart"}, 40.0)]
    )
    bed.clock.value = 1_800_000_000.0 + 10_000  # well past the pods' Ready time + bake window
    Pipeline(bed.services).run_due()
    verified = Pipeline(bed.services).find(wave.id)
    assert verified is not None and verified.state is ChangeState.VERIFIED, verified.timeline[-1]
    rolled = Pipeline(bed.services).rollback(wave.id, ALICE, "test")
    assert rolled.outcome is ActionOutcome.DONE, rolled.message
    for ns in ("quiet", "cart"):
        live = bed.cluster.live(ns_ref(ns))
        assert live["metadata"]["labels"] == before[ns]["metadata"]["labels"]  # type: ignore[index]
    restored = [label for what, label, _, _ in bed.cluster.log[-4:]]
    assert restored[:2] == ["Namespace cart", "Namespace quiet"] or restored[:2] == [
        "Namespace quiet",
        "Namespace cart",
    ]


def test_a_wave_whose_pods_never_get_ready_fails_and_offers_rollback() -> None:
    bed = install_bed()
    plan_id = planned(bed)
    control_plane_verified(bed, plan_id)
    wave = run(bed, f"install advance {plan_id}").view.stages[1].change  # type: ignore[union-attr]
    assert wave is not None
    Pipeline(bed.services).approve(wave.id, BOB)
    wave_pods_restarted(bed, ("quiet", "cart"), ready=False)
    bed.clock.advance(200)
    Pipeline(bed.services).run_due()
    failed = Pipeline(bed.services).find(wave.id)
    assert failed is not None and failed.state is ChangeState.FAILED
    assert "not Ready: cart/cart-api-new" in failed.reason
    status = bed.registry.dispatch(f"install status {plan_id}", ALICE, bed.services)
    assert isinstance(status, InstallView) and status.stages[1].state is StageState.FAILED
    refused = run(bed, f"install advance {plan_id}")
    assert refused.outcome is ActionOutcome.REFUSED and "roll it back" in refused.message


def test_rollback_of_a_wave_is_refused_when_someone_relabelled_by_hand() -> None:
    bed = install_bed()
    plan_id = planned(bed)
    control_plane_verified(bed, plan_id)
    wave = run(bed, f"install advance {plan_id}").view.stages[1].change  # type: ignore[union-attr]
    assert wave is not None
    Pipeline(bed.services).approve(wave.id, BOB)
    bed.cluster.edit(
        ns_ref("cart"), lambda o: o["metadata"]["labels"].update({"istio.io/rev": "x"})
    )
    refused = Pipeline(bed.services).rollback(wave.id, ALICE, "test")
    assert refused.outcome is ActionOutcome.REFUSED
    assert "Namespace cart" in refused.message and "x" in refused.message


def test_abort_rolls_back_the_current_stage_and_stops() -> None:
    bed = install_bed()
    plan_id = planned(bed)
    control_plane_verified(bed, plan_id)
    wave = run(bed, f"install advance {plan_id}").view.stages[1].change  # type: ignore[union-attr]
    assert wave is not None
    Pipeline(bed.services).approve(wave.id, BOB)
    aborted = run(bed, f"install abort {plan_id}")
    assert aborted.outcome is ActionOutcome.DONE, aborted.message
    assert aborted.view is not None and aborted.view.plan.aborted
    assert aborted.view.stages[1].state is StageState.ROLLED_BACK
    labels = bed.cluster.live(ns_ref("cart"))["metadata"]["labels"]  # type: ignore[index]
    assert labels["istio-injection"] == "enabled"
    assert run(bed, f"install advance {plan_id}").outcome is ActionOutcome.REFUSED


def test_abort_after_a_rollback_only_stops_the_install() -> None:
    bed = install_bed()
    plan_id = planned(bed)
    control_plane_verified(bed, plan_id)
    wave = run(bed, f"install advance {plan_id}").view.stages[1].change  # type: ignore[union-attr]
    assert wave is not None
    Pipeline(bed.services).approve(wave.id, BOB)
    Pipeline(bed.services).rollback(wave.id, ALICE, "bad wave")
    writes = len(bed.cluster.writes)
    aborted = run(bed, f"install abort {plan_id}")
    assert aborted.outcome is ActionOutcome.DONE and "nothing was in flight" in aborted.message
    assert len(bed.cluster.writes) == writes
    assert [s.state.value for s in aborted.view.stages] == [  # type: ignore[union-attr]
        "verified",
        "rolled back",
        "pending",
        "pending",
        "pending",
    ]
    assert aborted.view is not None and aborted.view.current is None


def test_rollback_of_the_control_plane_is_refused_when_its_release_changed_by_hand() -> None:
    bed = install_bed()
    plan_id = planned(bed)
    change_id = control_plane_verified(bed, plan_id)
    key = ("istio-system", "istiod-1-30-3")
    by_hand = bed.helm.releases[key]
    bed.helm.releases[key] = type(by_hand)(
        by_hand.name, by_hand.namespace, "istiod", "1.30.3", 2, "deployed", {"revision": "x"}
    )
    refused = Pipeline(bed.services).rollback(change_id, ALICE, "test")
    assert refused.outcome is ActionOutcome.REFUSED
    assert "HelmRelease istio-system/istiod-1-30-3" in refused.message
    assert "revision" in refused.message
    assert key in bed.helm.releases  # nothing uninstalled


def test_one_install_at_a_time_per_cluster_but_an_unstarted_plan_is_replaced() -> None:
    bed = install_bed()
    first = planned(bed)
    second = planned(bed)  # the first never started: replaced
    run(bed, f"install start {second}")
    refused = bed.registry.dispatch("install plan version=1.30.3", ALICE, bed.services)
    assert isinstance(refused, Failure) and second in refused.message and first != second
    run(bed, f"install abort {second}")
    assert planned(bed)
