"""Planning an install: what runs now, which namespaces move in which wave, the stages.

Why this exists: the order of a canary upgrade is its safety. The new control plane goes
in beside the old one; gateways move when there are any; then the meshed namespaces
move a few at a time, the least risky first (least traffic, then fewest pods), so a bad
proxy shows up where it hurts least; the `default` tag moves last, and the old revision
goes only when someone asks. Waves may be given instead: `waves=` on the command, the
cluster's config, or a `meshbot.io/install-wave` label on the namespaces.

Planning reads the cluster once (namespaces, pods, istiod, gateways) and Prometheus once
(traffic per namespace, one query for all); it writes nothing.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from commands.changes.model import Gate, GateStatus, ObjectRef
from commands.core.errors import PortError
from commands.core.model import Failure, UsageError
from commands.core.ports import Cluster, Metrics
from commands.core.wording import listing
from commands.install.model import (
    ISTIO_NAMESPACE,
    KIND_CONTROL_PLANE,
    KIND_PROMOTE,
    KIND_RETIRE,
    KIND_WAVE,
    WAVE_LABEL,
    InstallPlan,
    InstallSettings,
    Stage,
)
from commands.install.ports import Helm, PreflightOutcome
from commands.install.values import istiod_values

JSON = Any
PLAN_ID = re.compile(r"^inst-[a-z2-7]{8}$")
VERSION = re.compile(r"^\d+\.\d+\.\d+$")
REVISION = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
ISTIO_CRD = ObjectRef(
    "apiextensions.k8s.io/v1",
    "CustomResourceDefinition",
    "customresourcedefinitions",
    "peerauthentications.security.istio.io",
)
GONE_PHASES = ("Succeeded", "Failed")


def new_plan_id() -> str:
    return "inst-" + base64.b32encode(secrets.token_bytes(5)).decode().lower()


def is_plan_id(text: str) -> bool:
    return bool(PLAN_ID.match(text))


def revision_of(version: str) -> str:
    return version.replace(".", "-")


@dataclass(frozen=True)
class MeshedNamespace:
    name: str
    pods: int
    rps: float | None  # None: traffic unknown
    wave_label: int | None = None

    @property
    def risk(self) -> tuple[float, int, str]:
        return (self.rps if self.rps is not None else 0.0, self.pods, self.name)


@dataclass(frozen=True)
class Running:
    """The Istio control plane the cluster runs now."""

    revision: str  # "default" for an istiod without a revision
    version: str
    release: str  # the Helm release of that istiod, "" when Helm did not install it


def parse_waves(text: str) -> tuple[tuple[str, ...], ...] | UsageError:
    """`shop,cart/payments` (or `;` between waves) → (("shop", "cart"), ("payments",))."""
    waves = tuple(
        tuple(n.strip() for n in part.split(",") if n.strip())
        for part in re.split(r"[/;]", text)
        if part.strip()
    )
    names = [n for wave in waves for n in wave]
    if not names:
        return UsageError("`waves=` names no namespace (e.g. waves=shop,cart/payments)")
    bad = [n for n in names if not REVISION.match(n)]
    if bad:
        return UsageError(f"`{bad[0]}` in `waves=` is not a namespace name")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        return UsageError(f"`waves=` names {', '.join(twice)} more than once")
    return waves


def meshed_namespaces(
    cluster: Cluster, metrics: Metrics | None, settings: InstallSettings, revision: str
) -> tuple[list[MeshedNamespace], list[str], list[str]]:
    """Namespaces whose pods get a sidecar and are not on `revision` yet, with their pods
    and traffic; the names of every namespace; notes (e.g. traffic unknown)."""
    names: list[str] = []
    meshed: dict[str, int | None] = {}
    for ns in cluster.list_objects("v1", "namespaces"):
        meta = ns.get("metadata") or {}
        name = str(meta.get("name"))
        names.append(name)
        labels = meta.get("labels") or {}
        if name in settings.ignored_namespaces or labels.get("istio.io/rev") == revision:
            continue
        if labels.get("istio-injection") == "enabled" or "istio.io/rev" in labels:
            meshed[name] = _wave_label(labels.get(WAVE_LABEL))
    pods: dict[str, int] = dict.fromkeys(meshed, 0)
    for pod in cluster.list_objects("v1", "pods"):
        ns = str((pod.get("metadata") or {}).get("namespace"))
        if ns in pods and (pod.get("status") or {}).get("phase") not in GONE_PHASES:
            pods[ns] += 1
    notes: list[str] = []
    traffic: dict[str, float] | None = None
    if metrics is None:
        notes.append("no Prometheus for this cluster: waves ordered by pods only")
    else:
        try:
            samples = metrics.query(
                "sum by (destination_workload_namespace) "
                '(rate(istio_requests_total{reporter="destination"}[1h]))'
            )
            traffic = {
                str(s.labels.get("destination_workload_namespace")): s.value for s in samples
            }
        except PortError as exc:
            notes.append(f"traffic unknown ({exc}): waves ordered by pods only")
    found = [
        MeshedNamespace(n, pods[n], None if traffic is None else traffic.get(n, 0.0), meshed[n])
        for n in meshed
    ]
    return found, names, notes


def _wave_label(value: object) -> int | None:
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def waves_for(
    meshed: Sequence[MeshedNamespace],
    all_names: Sequence[str],
    size: int,
    explicit: tuple[tuple[str, ...], ...] | None,
) -> list[list[MeshedNamespace]] | UsageError:
    """Explicit waves first (unknown names refused), then labelled waves in label order,
    then the rest lowest risk first in waves of `size`."""
    by_name = {m.name: m for m in meshed}
    waves: list[list[MeshedNamespace]] = []
    placed: set[str] = set()
    if explicit:
        known = set(all_names)
        unknown = [n for wave in explicit for n in wave if n not in known]
        if unknown:
            return UsageError(
                f"namespace `{unknown[0]}` in the waves does not exist "
                f"(it has {listing(sorted(known), shown=8)})"
            )
        for wave in explicit:
            waves.append([by_name.get(n) or MeshedNamespace(n, 0, None) for n in wave])
            placed.update(wave)
    labelled: dict[int, list[MeshedNamespace]] = {}
    for m in meshed:
        if m.name not in placed and m.wave_label is not None:
            labelled.setdefault(m.wave_label, []).append(m)
    for number in sorted(labelled):
        waves.append(sorted(labelled[number], key=lambda m: m.risk))
        placed.update(m.name for m in labelled[number])
    rest = sorted((m for m in meshed if m.name not in placed), key=lambda m: m.risk)
    for start in range(0, len(rest), max(1, size)):
        waves.append(rest[start : start + max(1, size)])
    return waves


def running_istiod(cluster: Cluster, helm: Helm, target: str) -> Running | None:
    """The istiod revision serving the mesh now (the default one first), not `target`."""
    found: list[Running] = []
    for d in cluster.list_objects(
        "apps/v1", "deployments", namespace=ISTIO_NAMESPACE, label_selector="app=istiod"
    ):
        meta = d.get("metadata") or {}
        revision = str((meta.get("labels") or {}).get("istio.io/rev") or "default")
        if revision == target:
            continue
        containers = ((((d.get("spec") or {}).get("template") or {}).get("spec")) or {}).get(
            "containers"
        ) or [{}]
        image = str(containers[0].get("image", ""))
        version = image.rpartition(":")[2] if ":" in image else ""
        name = str(meta.get("name"))
        release = helm.release(ISTIO_NAMESPACE, name)
        found.append(Running(revision, version, release.name if release else ""))
    found.sort(key=lambda r: (r.revision != "default", r.revision))
    return found[0] if found else None


def gateway_workloads(cluster: Cluster, revision: str) -> list[str]:
    """Istio gateway Deployments (`namespace/name`) not yet on `revision`."""
    found = []
    for d in cluster.list_objects("apps/v1", "deployments", label_selector="istio"):
        meta = d.get("metadata") or {}
        template = ((d.get("spec") or {}).get("template") or {}).get("metadata") or {}
        annotations = template.get("annotations") or {}
        labels = template.get("labels") or {}
        is_gateway = annotations.get("inject.istio.io/templates") == "gateway" or str(
            (meta.get("labels") or {}).get("istio", "")
        ).endswith("gateway")
        if is_gateway and labels.get("istio.io/rev") != revision:
            found.append(f"{meta.get('namespace')}/{meta.get('name')}")
    return sorted(found)


def preflight_gates(outcome: PreflightOutcome | str) -> tuple[Gate, ...]:
    if isinstance(outcome, str):
        return (Gate("preflight", GateStatus.UNKNOWN, f"preflight could not run: {outcome}"),)
    return outcome.gates


@dataclass(frozen=True)
class PlanInputs:
    plan_id: str
    cluster: str
    version: str
    revision: str
    requester: str
    now: float
    explicit_waves: tuple[tuple[str, ...], ...] | None = None


def build_plan(
    inputs: PlanInputs,
    cluster: Cluster,
    metrics: Metrics | None,
    helm: Helm,
    preflight: PreflightOutcome | str,
    settings: InstallSettings,
) -> InstallPlan | Failure | UsageError:
    running = running_istiod(cluster, helm, inputs.revision)
    if running is None:
        return Failure(
            f"no istiod runs in {ISTIO_NAMESPACE} on cluster {inputs.cluster}: this installs "
            "a new revision beside a running one. Install Istio first."
        )
    meshed, names, notes = meshed_namespaces(cluster, metrics, settings, inputs.revision)
    explicit = inputs.explicit_waves or settings.waves.get(inputs.cluster)
    waves = waves_for(meshed, names, settings.wave_size, explicit)
    if isinstance(waves, UsageError):
        return waves
    gateways = gateway_workloads(cluster, inputs.revision)
    base_needed = cluster.get_object(ISTIO_CRD) is None
    overlay = {} if isinstance(preflight, str) else preflight.overlay
    values = istiod_values(overlay, revision=inputs.revision)
    stages = [
        Stage(
            KIND_CONTROL_PLANE,
            f"control plane: istiod-{inputs.revision} ({inputs.version})"
            + (" and base CRDs" if base_needed else ""),
        )
    ]
    if gateways:
        stages.append(
            Stage(KIND_WAVE, f"gateways: {listing(gateways, shown=4)}", workloads=tuple(gateways))
        )
    for number, wave in enumerate(waves, start=1):
        rps = [m.rps for m in wave]
        stages.append(
            Stage(
                KIND_WAVE,
                f"wave {number}: {listing([m.name for m in wave], shown=6)}",
                namespaces=tuple(m.name for m in wave),
                pods=sum(m.pods for m in wave),
                rps=None if any(r is None for r in rps) else sum(r for r in rps if r is not None),
            )
        )
    stages.append(Stage(KIND_PROMOTE, f"promote: default tag → {inputs.revision}"))
    retiring = running.release or f"istiod ({running.revision})"
    stages.append(Stage(KIND_RETIRE, f"retire: {retiring} ({running.version or '?'})"))
    if not meshed and not explicit:
        notes.append("no meshed namespace to move (none labelled for injection)")
    return InstallPlan(
        id=inputs.plan_id,
        cluster=inputs.cluster,
        version=inputs.version,
        revision=inputs.revision,
        old_revision=running.revision,
        old_version=running.version,
        old_release=running.release,
        requester=inputs.requester,
        created_at=inputs.now,
        charts=helm.describe(),
        values=values,
        base_needed=base_needed,
        stages=tuple(stages),
        preflight=preflight_gates(preflight),
        notes=tuple(notes),
    )


def low_risk(stage: Stage, settings: InstallSettings) -> bool:
    return (
        stage.kind == KIND_WAVE
        and bool(stage.namespaces)
        and stage.pods <= settings.low_risk_pods
        and stage.rps is not None
        and stage.rps <= settings.low_risk_rps
    )


def wave_namespaces(plan: InstallPlan) -> Mapping[str, int]:
    return {ns: i for i, s in enumerate(plan.stages) for ns in s.namespaces}
