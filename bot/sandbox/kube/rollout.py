"""The Deployment controller's rollout: ReplicaSets per template, rolling and Recreate.

Follows kube-controller-manager's deployment/rolling.go: the new ReplicaSet grows while
the sum of all ReplicaSets' replicas stays within ``replicas + maxSurge``; old ones shrink
first by their unavailable pods, then while available pods stay above ``replicas -
maxUnavailable``. See ``workloads`` for what this is for.
"""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .owners import (
    DEPLOYMENTS,
    HASH_LABEL,
    REPLICASETS,
    REVISION,
    owner_ref,
    scaled,
    template_hash,
    with_condition,
)

if TYPE_CHECKING:
    from .workloads import Workloads


def _replicas(rs: dict[str, Any]) -> int:
    return int((rs.get("spec") or {}).get("replicas", 0))


def _available(rs: dict[str, Any]) -> int:
    return int((rs.get("status") or {}).get("availableReplicas", 0))


def _revision(rs: dict[str, Any]) -> int:
    return int(((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0") or 0)


def _bare_template(rs: dict[str, Any]) -> dict[str, Any]:
    template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
    ((template.get("metadata") or {}).get("labels") or {}).pop(HASH_LABEL, None)
    return _without_nulls(template)


def _without_nulls(value: Any) -> Any:
    """As Go compares templates: ``creationTimestamp: null`` and ``resources: {}`` (kubectl
    sends both) are the same as no value at all."""
    if isinstance(value, dict):
        cleaned = {k: _without_nulls(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _scale(work: Workloads, rs: dict[str, Any], replicas: int) -> None:
    if _replicas(rs) != replicas:
        work.write(REPLICASETS, {**rs, "spec": {**rs["spec"], "replicas": replicas}})


def _new_replicaset(work: Workloads, d: dict[str, Any], replicas: int, revision: int) -> None:
    spec = d["spec"]
    template = _without_nulls(spec.get("template") or {})
    digest = template_hash(template)
    template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = digest
    selector = copy.deepcopy(spec.get("selector") or {})
    selector.setdefault("matchLabels", {})[HASH_LABEL] = digest
    meta = d["metadata"]
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta['name']}-{digest}",
            "namespace": meta["namespace"],
            "labels": dict(template["metadata"]["labels"]),
            "annotations": {
                REVISION: str(revision),
                "deployment.kubernetes.io/desired-replicas": str(spec.get("replicas", 1)),
            },
            "ownerReferences": [owner_ref(d)],
        },
        "spec": {"replicas": replicas, "selector": selector, "template": template},
    }
    work.server.writer.create(work.rt(REPLICASETS), meta["namespace"], rs)


def deployment(work: Workloads, d: dict[str, Any]) -> None:
    spec = d.get("spec") or {}
    replicas = int(spec.get("replicas", 1))
    template = _without_nulls(spec.get("template") or {})
    all_rs = sorted(
        work.children(REPLICASETS, d), key=lambda r: r["metadata"].get("creationTimestamp", "")
    )
    new = next((r for r in all_rs if _bare_template(r) == template), None)
    old = [r for r in all_rs if r is not new]
    top = max((_revision(r) for r in all_rs), default=0)
    if spec.get("paused"):
        _status(work, d, new, all_rs)
        return
    if new is None:
        orphans = work.orphans(d["metadata"]["namespace"], spec.get("selector") or {})
        first = not all_rs and orphans
        # A seed's pods of this Deployment (no owner yet) become its first ReplicaSet's.
        _new_replicaset(work, d, replicas if first else 0, top + 1)
        if first:
            digest = template_hash(template)
            rs = work.server.store.get(
                REPLICASETS, (d["metadata"]["namespace"], f"{d['metadata']['name']}-{digest}")
            )
            for pod in orphans[:replicas] if rs else ():
                work.adopt(pod, rs, {HASH_LABEL: digest})  # type: ignore[arg-type]
        return
    if _revision(new) < top:  # back to an earlier template: its ReplicaSet is the newest again
        annotations = {**(new["metadata"].get("annotations") or {}), REVISION: str(top + 1)}
        work.write(
            REPLICASETS, {**new, "metadata": {**new["metadata"], "annotations": annotations}}
        )
        return
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        for rs in old:
            _scale(work, rs, 0)
        if not any(work.children(("", "pods"), rs) for rs in old):
            _scale(work, new, replicas)
    else:
        _rolling(work, d, replicas, new, old, strategy.get("rollingUpdate") or {})
    _status(
        work,
        d,
        work.server.store.get(REPLICASETS, (new["metadata"]["namespace"], new["metadata"]["name"])),
        all_rs,
    )


def _limits(replicas: int, rolling: dict[str, Any]) -> tuple[int, int]:
    surge = scaled(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = scaled(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _rolling(
    work: Workloads,
    d: dict[str, Any],
    replicas: int,
    new: dict[str, Any],
    old: list[dict[str, Any]],
    rolling: dict[str, Any],
) -> None:
    surge, unavailable = _limits(replicas, rolling)
    every = [new, *old]
    total = sum(_replicas(r) for r in every)
    if _replicas(new) > replicas:
        _scale(work, new, replicas)
    elif _replicas(new) < replicas and total < replicas + surge:
        _scale(work, new, _replicas(new) + min(replicas + surge - total, replicas - _replicas(new)))
    if not sum(_replicas(r) for r in old):
        return
    min_available = replicas - unavailable
    new_unavailable = _replicas(new) - _available(new)
    budget = total - min_available - new_unavailable
    if budget <= 0:
        return
    targets = {r["metadata"]["name"]: _replicas(r) for r in old}
    for rs in old:  # oldest first: unhealthy replicas go before healthy ones
        unhealthy = _replicas(rs) - _available(rs)
        if unhealthy > 0 and budget > 0:
            cut = min(budget, unhealthy)
            targets[rs["metadata"]["name"]] -= cut
            budget -= cut
    available = sum(_available(r) for r in every)
    spare = available - min_available
    for rs in old:
        if spare <= 0:
            break
        name = rs["metadata"]["name"]
        cut = min(targets[name], spare)
        targets[name] -= cut
        spare -= cut
    for rs in old:
        _scale(work, rs, targets[rs["metadata"]["name"]])


def _status(
    work: Workloads, d: dict[str, Any], new: dict[str, Any] | None, all_rs: list[dict[str, Any]]
) -> None:
    store = work.server.store
    fresh = [
        store.get(REPLICASETS, (r["metadata"]["namespace"], r["metadata"]["name"])) for r in all_rs
    ]
    current = [r for r in fresh if r is not None]
    spec = d.get("spec") or {}
    replicas = int(spec.get("replicas", 1))
    _surge, unavailable = _limits(replicas, (spec.get("strategy") or {}).get("rollingUpdate") or {})
    if (spec.get("strategy") or {}).get("type") == "Recreate":
        unavailable = 0
    status_of = [r.get("status") or {} for r in current]
    updated = int(((new or {}).get("status") or {}).get("replicas", 0))
    ready = sum(int(s.get("readyReplicas", 0)) for s in status_of)
    available = sum(int(s.get("availableReplicas", 0)) for s in status_of)
    total = sum(int(s.get("replicas", 0)) for s in status_of)
    previous = d.get("status") or {}
    conditions = list(previous.get("conditions") or [])
    enough = available >= replicas - unavailable
    conditions = with_condition(
        conditions,
        "Available",
        "True" if enough else "False",
        "MinimumReplicasAvailable" if enough else "MinimumReplicasUnavailable",
        "Deployment has minimum availability."
        if enough
        else "Deployment does not have minimum availability.",
        touch=False,
    )
    name = (new or {}).get("metadata", {}).get("name", "")
    complete = (
        new is not None and updated == replicas and available == replicas and total == replicas
    )
    moved = (
        previous.get("updatedReplicas"),
        previous.get("availableReplicas"),
        previous.get("replicas"),
    ) != (
        updated,
        available,
        total,
    )
    progressing = next((c for c in conditions if c.get("type") == "Progressing"), None)
    if complete:
        conditions = with_condition(
            conditions,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            f'ReplicaSet "{name}" has successfully progressed.',
            touch=moved,
        )
    elif _timed_out(progressing, spec, moved):
        conditions = with_condition(
            conditions,
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            f'ReplicaSet "{name}" has timed out progressing.',
            touch=False,
        )
    else:
        conditions = with_condition(
            conditions,
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            f'ReplicaSet "{name}" is progressing.',
            touch=moved or progressing is None,
        )
        if moved or progressing is None:
            deadline = float(spec.get("progressDeadlineSeconds", 600))
            work.loop.after(deadline + 1, lambda: work.loop.touch(DEPLOYMENTS, *_key(d)))
    conditions.sort(
        key=lambda c: (
            ("Available", "Progressing").index(c["type"])
            if c["type"] in ("Available", "Progressing")
            else 2
        )
    )
    status: dict[str, Any] = {
        "observedGeneration": d["metadata"].get("generation", 1),
        "replicas": total,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
        "conditions": conditions,
    }
    if total - available > 0:
        status["unavailableReplicas"] = total - available
    work.set_status(DEPLOYMENTS, d, status)


def _key(d: dict[str, Any]) -> tuple[str, str]:
    return d["metadata"]["namespace"], d["metadata"]["name"]


def _timed_out(progressing: dict[str, Any] | None, spec: dict[str, Any], moved: bool) -> bool:
    if progressing is None or moved:
        return False
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return True
    stamp = progressing.get("lastUpdateTime")
    if not stamp:
        return False
    since = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    return time.time() - since > float(spec.get("progressDeadlineSeconds", 600))
