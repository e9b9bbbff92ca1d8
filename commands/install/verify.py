"""Judging install stages: is the new control plane up, did a wave roll out and bake?

Why this exists: "applied" is not "working". The control plane stage is verified when
the new istiod is Available and its injection webhook exists. A wave is verified in two
steps read by the same sweep: first its rollout — every meshed pod of the wave on the
new proxy and Ready, within `rollout_wait_s`, else the wave fails naming the pods left
behind — then a bake window that starts when the last pod became Ready, compared on
5xx ratio, p99 and client connection failures with a window of the same length ending
at apply. Waiting is a hold (the sweep looks again); no data or too little traffic is a
hold too, never a pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from commands.changes.bake import conclude, too_little_traffic
from commands.changes.hooks import Verdict, VerdictOutcome
from commands.changes.model import Change, ObjectRef
from commands.core.ports import Cluster, Metrics, Sample, Services
from commands.core.wording import listing
from commands.install.model import ISTIO_NAMESPACE, InstallSettings
from commands.install.queries import (
    GATEWAYS,
    WAVE,
    Side,
    connection_failures,
    errors_5xx,
    p99_ms,
    requests,
)
from commands.install.stages import DEFAULT_INJECTOR, webhook_ref
from commands.install.waves import rollout

MIN_NAMESPACE_REQUESTS = 10.0


class ControlPlaneVerifier:
    """install-control-plane: istiod-<rev> Available and its webhook present."""

    def __init__(self, settings: InstallSettings) -> None:
        self.settings = settings

    def bake_seconds(self, change: Change) -> float:
        return 2.0

    def verify(self, change: Change, services: Services, now: float) -> Verdict:
        cluster = services.clusters[change.cluster]
        revision = str(change.verify.get("revision"))
        problems = control_plane_problems(cluster, revision)
        if not problems:
            return Verdict(
                VerdictOutcome.PASS,
                (f"istiod-{revision} is Available and its injection webhook exists",),
            )
        waited = now - (change.applied_at or now)
        if waited >= self.settings.control_plane_wait_s:
            return Verdict(
                VerdictOutcome.BREACH,
                (f"after {waited:.0f} s: " + "; ".join(problems),),
            )
        return Verdict(
            VerdictOutcome.HOLD, ("waiting for the control plane: " + "; ".join(problems),)
        )


def control_plane_problems(cluster: Cluster, revision: str) -> list[str]:
    problems = []
    deployment = cluster.get_object(
        ObjectRef("apps/v1", "Deployment", "deployments", f"istiod-{revision}", ISTIO_NAMESPACE)
    )
    if deployment is None:
        problems.append(f"Deployment istiod-{revision} is missing")
    else:
        conditions = (deployment.get("status") or {}).get("conditions") or []
        available = any(
            c.get("type") == "Available" and c.get("status") == "True" for c in conditions
        )
        if not available:
            problems.append(f"istiod-{revision} is not Available yet")
    if cluster.get_object(webhook_ref(f"{DEFAULT_INJECTOR}-{revision}")) is None:
        problems.append(f"webhook {DEFAULT_INJECTOR}-{revision} is missing")
    return problems


class WaveVerifier:
    """install-wave: the rollout, then the bake window against the baseline."""

    def __init__(self, settings: InstallSettings) -> None:
        self.settings = settings

    def bake_seconds(self, change: Change) -> float:
        return min(self.settings.bake_window_s, 10.0)

    def verify(self, change: Change, services: Services, now: float) -> Verdict:
        cluster = services.clusters[change.cluster]
        v = change.verify
        state = rollout(
            cluster,
            v.get("namespaces") or (),
            v.get("workloads") or (),
            str(v.get("revision")),
            str(v.get("version")),
        )
        applied = change.applied_at or now
        if not state.done:
            left = (
                [f"still on the old proxy: {listing(list(state.old), shown=8)}"]
                if state.old
                else []
            )
            if state.not_ready:
                left.append(f"not Ready: {listing(list(state.not_ready), shown=8)}")
            if now - applied >= self.settings.rollout_wait_s:
                return Verdict(
                    VerdictOutcome.BREACH,
                    (f"rollout not done after {now - applied:.0f} s: " + "; ".join(left),),
                )
            return Verdict(
                VerdictOutcome.HOLD,
                (
                    f"rolling out: {state.on_new} of {state.pods} pods on the new proxy; "
                    + "; ".join(left),
                ),
            )
        started = max(applied, state.last_ready_at or applied)
        baked = now - started
        if baked < self.settings.bake_window_s:
            return Verdict(
                VerdictOutcome.HOLD,
                (
                    f"rolled out: {state.pods} pods on the new proxy; baking, "
                    f"{self.settings.bake_window_s - baked:.0f} s of the bake window left",
                ),
            )
        metrics = services.metrics.get(change.cluster)
        if metrics is None:
            return Verdict(VerdictOutcome.HOLD, ("no Prometheus is configured for this cluster",))
        namespaces = [str(n) for n in v.get("namespaces") or ()]
        side = WAVE
        if not namespaces:  # a gateway stage: read from the gateways' side
            namespaces = sorted({str(w).partition("/")[0] for w in v.get("workloads") or ()})
            side = GATEWAYS
        return bake(metrics, namespaces, applied, now, baked, self.settings, side)


def _by_namespace(samples: Sequence[Sample], by: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for s in samples:
        ns = s.labels.get(by, "?")
        if not math.isnan(s.value):
            found[ns] = found.get(ns, 0.0) + s.value
    return found


def bake(
    metrics: Metrics,
    namespaces: Sequence[str],
    applied: float,
    now: float,
    window_s: float,
    s: InstallSettings,
    side: Side = WAVE,
) -> Verdict:
    """The window ending now against the same length ending at apply, per namespace."""

    def read(
        at: float,
    ) -> tuple[dict[str, float], dict[str, float], dict[str, float], dict[str, float]]:
        return (
            _by_namespace(metrics.query(requests(namespaces, window_s, side), at=at), side.by),
            _by_namespace(metrics.query(errors_5xx(namespaces, window_s, side), at=at), side.by),
            _by_namespace(
                metrics.query(connection_failures(namespaces, window_s, side), at=at), side.by
            ),
            _by_namespace(metrics.query(p99_ms(namespaces, window_s, side), at=at), side.by),
        )

    req, err, fail, p99 = read(now)
    base_req, base_err, base_fail, base_p99 = read(applied)
    total = sum(req.values())
    if total < s.bake_min_requests:
        return too_little_traffic(total, s.bake_min_requests, "requests into the wave")
    breaches: list[str] = []
    judged: list[str] = []
    for ns in sorted(req):
        if req[ns] < MIN_NAMESPACE_REQUESTS or base_req.get(ns, 0.0) <= 0:
            continue
        judged.append(ns)
        ratio = err.get(ns, 0.0) / req[ns]
        base = base_err.get(ns, 0.0) / base_req[ns]
        if ratio > base * s.error_ratio_factor and ratio > base + s.error_ratio_margin:
            breaches.append(f"{ns}: 5xx {ratio:.1%} (baseline {base:.1%})")
        if fail.get(ns, 0.0) > base_fail.get(ns, 0.0) + s.connection_failure_margin:
            breaches.append(
                f"{ns}: {fail.get(ns, 0.0):.0f} connection failures "
                f"(baseline {base_fail.get(ns, 0.0):.0f})"
            )
        now_p99, base_p99_ns = p99.get(ns), base_p99.get(ns)
        if (
            now_p99 is not None
            and base_p99_ns is not None
            and now_p99 > base_p99_ns * s.p99_factor
            and now_p99 - base_p99_ns > s.p99_margin_ms
        ):
            breaches.append(f"{ns}: p99 {now_p99:.0f} ms (baseline {base_p99_ns:.0f} ms)")
    return conclude(
        breaches,
        judged,
        nothing_judged="no namespace of the wave had traffic both before and after; cannot compare",
        passed=f"5xx, p99 and connection failures within baseline for {', '.join(judged[:8])}",
    )
