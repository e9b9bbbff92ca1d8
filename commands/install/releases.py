"""Helm releases as change-pipeline items: how a control-plane or retire stage is written.

Why this exists: the change pipeline stores every item of a change as a reference and a
`before`/`after` snapshot, and its `Applier` contract (commands.changes.appliers) is how
a kind writes. A Helm release is such an item: its reference names the release (under a
pseudo API group, `helm.sh/v3`, that no cluster serves and nothing sends to one), its
snapshot is the chart, version and values Helm reports. So an install stage is proposed,
approved, applied, taken over after a crash and rolled back exactly like an object
change: rollback of an install uninstalls exactly that release, rollback of a retire
installs the old release again with the values it had.
"""

from __future__ import annotations

from typing import Any

from commands.changes.appliers import ApplyOutcome, Found, Inspected, Inspection, Plan
from commands.changes.ledger import Ledger
from commands.changes.model import (
    Change,
    ChangeProposed,
    ObjectChange,
    ObjectRef,
    Proposal,
    Snapshot,
)
from commands.changes.proposing import new_change, supersede_older
from commands.changes.writes import Restore
from commands.core.errors import PortError
from commands.core.model import Caller, Failure, Result, Text
from commands.core.ports import Cluster
from commands.install.ports import Helm, HelmClients, Release

JSON = Any
HELM_API = "helm.sh/v3"


def release_ref(namespace: str, name: str) -> ObjectRef:
    return ObjectRef(HELM_API, "HelmRelease", "releases", name, namespace)


def is_release(ref: ObjectRef) -> bool:
    return ref.api_version == HELM_API


def release_json(release: Release | None) -> JSON | None:
    """What a snapshot keeps of a release (None: absent). Failed releases count as what
    they are, so a half-done install is never taken for a done one."""
    if release is None:
        return None
    return {
        "chart": release.chart,
        "version": release.chart_version,
        "values": dict(release.values),
        "status": release.status,
    }


def desired_release(chart: str, version: str, values: JSON) -> JSON:
    return {"chart": chart, "version": version, "values": values, "status": "deployed"}


def same_release(expected: JSON | None, live: JSON | None) -> bool:
    """Live is the expected release: same chart, version and status, and every value
    given is live (Helm's adapter may add defaults, e.g. the image hub, to what it got)."""
    if expected is None or live is None:
        return expected is None and live is None
    same = all(expected.get(k) == live.get(k) for k in ("chart", "version", "status"))
    return same and _within(expected.get("values") or {}, live.get("values") or {})


def _within(given: JSON, live: JSON) -> bool:
    if isinstance(given, dict) and isinstance(live, dict):
        return all(k in live and _within(v, live[k]) for k, v in given.items())
    return bool(given == live)


def describe_drift(ref: ObjectRef, expected: JSON | None, live: JSON | None) -> str:
    def said(r: JSON | None) -> str:
        if r is None:
            return "absent"
        return f"{r.get('chart')} {r.get('version')} ({r.get('status')})"

    return f"{ref.label}: expected {said(expected)}, found {said(live)}"


def propose_releases(ledger: Ledger, helm: Helm, proposal: Proposal, requester: Caller) -> Result:
    """Read the releases, let Helm render the installs (dry run), store the change."""
    try:
        lives = [
            release_json(helm.release(o.ref.namespace or "", o.ref.name)) for o in proposal.objects
        ]
        if all(
            same_release(o.desired, live) for o, live in zip(proposal.objects, lives, strict=True)
        ):
            return Text(f"Nothing to change: {proposal.title} is already in place")
        for o in proposal.objects:
            if o.desired is not None:
                helm.install(
                    o.ref.namespace or "",
                    o.ref.name,
                    o.desired["chart"],
                    o.desired["version"],
                    o.desired["values"],
                    dry_run=True,
                )
    except PortError as exc:
        return Failure(f"Helm's dry run refused this stage, so nothing was proposed: {exc}")
    objects = tuple(
        ObjectChange(o.ref, o.desired, live)
        for o, live in zip(proposal.objects, lives, strict=True)
    )
    change = new_change(ledger, proposal, objects, proposal.cluster, requester)
    ledger.add(change)
    supersede_older(ledger, change, change.created_at)
    return ChangeProposed(change)


class HelmReleases:
    """The `Applier` of install-control-plane and install-retire: Helm releases."""

    def __init__(self, clients: HelmClients, timeout_s: float = 300.0) -> None:
        self.clients = clients
        self.timeout_s = timeout_s

    def _helm(self, cluster: Cluster) -> Helm:
        return self.clients.for_cluster(cluster.name)

    def _live(self, helm: Helm, ref: ObjectRef) -> JSON | None:
        return release_json(helm.release(ref.namespace or "", ref.name))

    def plan(self, cluster: Cluster, change: Change) -> Plan:
        try:
            helm = self._helm(cluster)
            lives = [self._live(helm, o.ref) for o in change.objects]
        except PortError as exc:
            return Plan(refused=f"could not read the Helm releases, nothing written: {exc}")
        drifted = [
            describe_drift(o.ref, o.observed, live)
            for o, live in zip(change.objects, lives, strict=True)
            if not same_release(o.observed, live)
        ]
        if drifted:
            return Plan(
                refused="refused as drift: the releases changed since the proposal, "
                "nothing written: " + "; ".join(drifted)
            )
        return Plan(
            tuple(
                Snapshot(o.ref, live, o.desired)
                for o, live in zip(change.objects, lives, strict=True)
            )
        )

    def write(self, cluster: Cluster, change: Change, plan: tuple[Snapshot, ...]) -> ApplyOutcome:
        written: list[Snapshot] = []
        try:
            helm = self._helm(cluster)
        except PortError as exc:
            return ApplyOutcome((), str(exc))
        for item in plan:
            try:
                live = self._live(helm, item.ref)
                if same_release(item.after, live):
                    written.append(Snapshot(item.ref, item.before, live))
                    continue
                if not same_release(item.before, live) and live is not None:
                    if live.get("status") != "deployed":  # a half-done install of ours
                        helm.uninstall(item.ref.namespace or "", item.ref.name)
                    else:
                        return ApplyOutcome(
                            tuple(written),
                            f"{describe_drift(item.ref, item.before, live)} since apply began",
                        )
                after = self._make(helm, item.ref, item.after)
            except PortError as exc:
                return ApplyOutcome(tuple(written), f"writing {item.ref.label} failed: {exc}")
            written.append(Snapshot(item.ref, item.before, after))
        return ApplyOutcome(tuple(written))

    def _make(self, helm: Helm, ref: ObjectRef, target: JSON | None) -> JSON | None:
        namespace = ref.namespace or ""
        if target is None:
            helm.uninstall(namespace, ref.name, timeout_s=self.timeout_s)
            return None
        if helm.release(namespace, ref.name) is not None:
            helm.uninstall(namespace, ref.name, timeout_s=self.timeout_s)
        installed = helm.install(
            namespace,
            ref.name,
            target["chart"],
            target["version"],
            target["values"],
            timeout_s=self.timeout_s,
        )
        return release_json(installed)

    def inspect(self, cluster: Cluster, items: tuple[Snapshot, ...]) -> Inspection:
        helm = self._helm(cluster)
        found = []
        for item in items:
            live = self._live(helm, item.ref)
            if same_release(item.after, live):
                found.append(Inspected(item, Found.AFTER, live))
            elif same_release(item.before, live):
                found.append(Inspected(item, Found.BEFORE, live))
            else:
                found.append(Inspected(item, Found.OTHER, live))
        return Inspection(tuple(found))

    def undo(self, cluster: Cluster, snapshots: tuple[Snapshot, ...]) -> Restore:
        restored: list[str] = []
        failed: list[tuple[Snapshot, str]] = []
        try:
            helm = self._helm(cluster)
        except PortError as exc:
            return Restore((), tuple((s, str(exc)) for s in snapshots))
        for snap in reversed(snapshots):
            try:
                if not same_release(snap.before, self._live(helm, snap.ref)):
                    self._make(helm, snap.ref, snap.before)
                restored.append(snap.ref.label)
            except PortError as exc:
                failed.append((snap, str(exc)))
        return Restore(tuple(restored), tuple(failed))
