"""Each stage of an install as a change proposal: what it writes and how it is judged.

Why this exists: a stage is only safe to approve if the reviewer sees exactly what it
touches, and only safe to roll back if the pipeline stored exactly that. So each stage
is built as an ordinary `Proposal`: the control plane and retire as Helm releases
(commands.install.releases), a wave as its namespaces' labels and its workloads' restart
annotation, the promote as the `default` tag's webhook — the steps of
`istioctl install --revision`, `kubectl label`, `kubectl rollout restart` and
`istioctl tag set default`, made reviewable and reversible.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from commands.changes.diffs import normalized
from commands.changes.model import ObjectChange, ObjectRef, Proposal, Risk
from commands.core.model import Failure
from commands.core.ports import Cluster
from commands.install.model import (
    ISTIO_NAMESPACE,
    KIND_CONTROL_PLANE,
    KIND_PROMOTE,
    KIND_RETIRE,
    KIND_WAVE,
    InstallPlan,
)
from commands.install.releases import desired_release, release_ref

JSON = Any
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
WORKLOAD_KINDS = (
    ("apps/v1", "Deployment", "deployments"),
    ("apps/v1", "StatefulSet", "statefulsets"),
    ("apps/v1", "DaemonSet", "daemonsets"),
)
MWC = ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration")
TAG_WEBHOOK = "istio-revision-tag-default"
DEFAULT_INJECTOR = "istio-sidecar-injector"
NEVER_MATCH = {
    "matchExpressions": [
        {"key": "istio.io/deactivated", "operator": "In", "values": ["never-match"]}
    ]
}


def namespace_ref(name: str) -> ObjectRef:
    return ObjectRef("v1", "Namespace", "namespaces", name)


def webhook_ref(name: str) -> ObjectRef:
    return ObjectRef(MWC[0], MWC[1], "mutatingwebhookconfigurations", name)


def _verify(plan: InstallPlan, index: int, **more: Any) -> JSON:
    return {
        "install": plan.id,
        "stage": index,
        "revision": plan.revision,
        "version": plan.version,
        "old_revision": plan.old_revision,
        **more,
    }


def control_plane(plan: InstallPlan, index: int) -> Proposal:
    objects = []
    if plan.base_needed:
        objects.append(
            ObjectChange(
                release_ref(ISTIO_NAMESPACE, "istio-base"),
                desired_release("base", plan.version, {}),
            )
        )
    objects.append(
        ObjectChange(
            release_ref(ISTIO_NAMESPACE, plan.release),
            desired_release("istiod", plan.version, plan.values),
        )
    )
    return Proposal(
        kind=KIND_CONTROL_PLANE,
        cluster=plan.cluster,
        title=f"Install istiod {plan.version} as revision {plan.revision} ({plan.id})",
        objects=tuple(objects),
        gates=plan.preflight,
        risks=(
            Risk(
                f"a second control plane runs beside {plan.old_revision}: istiod resources "
                "are needed twice until the old one is retired",
                "info",
            ),
        ),
        summary=(f"charts: {plan.charts}", f"now: {plan.old_revision} ({plan.old_version})"),
        verify=_verify(plan, index),
    )


def _restarted(obj: JSON, stamp: str, labels: dict[str, str] | None = None) -> JSON:
    desired: JSON = copy.deepcopy(normalized(obj)) or {}
    template = desired.setdefault("spec", {}).setdefault("template", {})
    meta = template.setdefault("metadata", {})
    meta.setdefault("annotations", {})[RESTARTED_AT] = stamp
    if labels:
        meta.setdefault("labels", {}).update(labels)
    return desired


def wave(cluster: Cluster, plan: InstallPlan, index: int, now: float) -> Proposal | Failure:
    """Relabel the wave's namespaces to the new revision and restart their workloads
    (namespaces first: a pod restarted before its namespace moved would keep the old
    proxy). Gateways: their pod template names the revision instead."""
    stage = plan.stages[index]
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    namespaces: list[ObjectChange] = []
    workloads: list[ObjectChange] = []
    for name in stage.namespaces:
        live = cluster.get_object(namespace_ref(name))
        if live is None:
            return Failure(f"namespace {name} of {stage.title} no longer exists")
        desired: JSON = copy.deepcopy(normalized(live)) or {}
        labels = desired.setdefault("metadata", {}).setdefault("labels", {})
        labels.pop("istio-injection", None)
        labels["istio.io/rev"] = plan.revision
        namespaces.append(ObjectChange(namespace_ref(name), desired))
        for api_version, kind, plural in WORKLOAD_KINDS:
            for obj in cluster.list_objects(api_version, plural, namespace=name):
                ref = ObjectRef(api_version, kind, plural, obj["metadata"]["name"], name)
                workloads.append(ObjectChange(ref, _restarted(obj, stamp)))
    for key in stage.workloads:
        ns, _, name = key.partition("/")
        ref = ObjectRef("apps/v1", "Deployment", "deployments", name, ns)
        live = cluster.get_object(ref)
        if live is None:
            return Failure(f"gateway {key} no longer exists")
        workloads.append(
            ObjectChange(ref, _restarted(live, stamp, {"istio.io/rev": plan.revision}))
        )
    moved = ", ".join(stage.namespaces) or ", ".join(stage.workloads)
    return Proposal(
        kind=KIND_WAVE,
        cluster=plan.cluster,
        title=f"Move {stage.title} to revision {plan.revision} ({plan.id})",
        objects=(*namespaces, *workloads),
        risks=(
            Risk(
                f"{len(workloads)} workloads restart (rolling): {stage.pods} pods get the "
                f"{plan.version} proxy",
            ),
        ),
        summary=(f"moves: {moved}", f"from {plan.old_revision} to {plan.revision}"),
        verify=_verify(
            plan,
            index,
            namespaces=list(stage.namespaces),
            workloads=list(stage.workloads),
        ),
    )


def tag_webhook(revision_webhook: JSON, revision: str, plan_id: str) -> JSON:
    """`istio-revision-tag-default` pointing at `revision`, shaped as Istio's own
    revision-tag template (and `istioctl tag set default`) makes it: revision-labelled
    namespaces/pods tagged `default`, and `istio-injection=enabled` or
    `sidecar.istio.io/inject=true` where no revision is named."""
    base = (revision_webhook.get("webhooks") or [{}])[0]
    core = {
        k: copy.deepcopy(base[k])
        for k in (
            "clientConfig",
            "sideEffects",
            "rules",
            "failurePolicy",
            "reinvocationPolicy",
            "admissionReviewVersions",
        )
        if k in base
    }
    rev_absent = {"key": "istio.io/rev", "operator": "DoesNotExist"}
    injection_absent = {"key": "istio-injection", "operator": "DoesNotExist"}
    not_false = {"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]}
    tagged = {"key": "istio.io/rev", "operator": "In", "values": ["default"]}

    def hook(prefix: str, namespace: list[JSON], obj: list[JSON]) -> JSON:
        return {
            "name": f"{prefix}sidecar-injector.istio.io",
            **copy.deepcopy(core),
            "namespaceSelector": {"matchExpressions": namespace},
            "objectSelector": {"matchExpressions": obj},
        }

    return {
        "apiVersion": MWC[0],
        "kind": MWC[1],
        "metadata": {
            "name": TAG_WEBHOOK,
            "labels": {
                "istio.io/tag": "default",
                "istio.io/rev": revision,
                "app": "sidecar-injector",
                "app.kubernetes.io/managed-by": "meshbot",
                "meshbot.io/install": plan_id,
            },
        },
        "webhooks": [
            hook("rev.namespace.", [tagged, injection_absent], [not_false]),
            hook("rev.object.", [rev_absent, injection_absent], [not_false, tagged]),
            hook(
                "namespace.",
                [{"key": "istio-injection", "operator": "In", "values": ["enabled"]}],
                [not_false],
            ),
            hook(
                "object.",
                [injection_absent, rev_absent],
                [
                    {"key": "sidecar.istio.io/inject", "operator": "In", "values": ["true"]},
                    rev_absent,
                ],
            ),
        ],
    }


def deactivated(injector: JSON) -> JSON:
    """The default revision's own injector made to match nothing, as `istioctl tag set
    default` leaves it (the tag webhook now answers for `istio-injection=enabled`)."""
    desired: JSON = copy.deepcopy(normalized(injector)) or {}
    for hook in desired.get("webhooks") or []:
        hook["namespaceSelector"] = copy.deepcopy(NEVER_MATCH)
        hook["objectSelector"] = copy.deepcopy(NEVER_MATCH)
    return desired


def promote(cluster: Cluster, plan: InstallPlan, index: int) -> Proposal | Failure:
    source = cluster.get_object(webhook_ref(f"{DEFAULT_INJECTOR}-{plan.revision}"))
    if source is None:
        return Failure(
            f"the webhook {DEFAULT_INJECTOR}-{plan.revision} of the new revision is missing: "
            "is the control plane stage verified?"
        )
    objects = [ObjectChange(webhook_ref(TAG_WEBHOOK), tag_webhook(source, plan.revision, plan.id))]
    old_injector = cluster.get_object(webhook_ref(DEFAULT_INJECTOR))
    if old_injector is not None:
        objects.append(ObjectChange(webhook_ref(DEFAULT_INJECTOR), deactivated(old_injector)))
    return Proposal(
        kind=KIND_PROMOTE,
        cluster=plan.cluster,
        title=f"Point the default tag at revision {plan.revision} ({plan.id})",
        objects=tuple(objects),
        risks=(
            Risk(
                "new pods in namespaces labelled istio-injection=enabled (and new namespaces "
                f"so labelled) get the {plan.version} proxy from now on",
            ),
        ),
        summary=(f"default tag: {plan.old_revision} → {plan.revision}",),
        verify=_verify(plan, index),
    )


def retire(plan: InstallPlan, index: int) -> Proposal | Failure:
    if not plan.old_release:
        return Failure(
            f"the old istiod ({plan.old_revision}) was not installed by Helm, so meshbot does "
            "not remove it: remove it the way it was installed"
        )
    return Proposal(
        kind=KIND_RETIRE,
        cluster=plan.cluster,
        title=f"Remove the old revision {plan.old_revision} ({plan.old_release}, {plan.id})",
        objects=(ObjectChange(release_ref(ISTIO_NAMESPACE, plan.old_release), None),),
        risks=(
            Risk(
                "pods still on the old proxy lose their control plane; rollback installs "
                "the old release again with the values it had",
            ),
        ),
        summary=(f"uninstall Helm release {plan.old_release}",),
        verify=_verify(plan, index),
    )
