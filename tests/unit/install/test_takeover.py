"""A replica killed in the middle of an install stage: another replica's sweep finishes
the stage (or says exactly what was written) once the dead one's work lease expires."""

from __future__ import annotations

import pytest

from commands.changes.model import ChangeState
from commands.changes.pipeline import Pipeline
from tests.unit.changes.fakes import KillAt, ReplicaKilled
from tests.unit.install.fakes import install_bed, ns_ref, replica
from tests.unit.install.test_stages import ALICE, BOB, control_plane_verified, planned, run


def test_a_replica_killed_mid_wave_is_finished_by_another() -> None:
    bed = install_bed()
    plan_id = planned(bed)
    control_plane_verified(bed, plan_id)
    wave = run(bed, f"install advance {plan_id}").view.stages[1].change  # type: ignore[union-attr]
    assert wave is not None
    doomed = Pipeline(replica(bed, "replica-doomed", cluster=KillAt(bed.cluster, at=2)))
    with pytest.raises(ReplicaKilled):
        doomed.approve(wave.id, BOB)
    stuck = Pipeline(bed.services).find(wave.id)
    assert stuck is not None and stuck.state is ChangeState.APPLYING
    labels = [bed.cluster.live(ns_ref(ns))["metadata"]["labels"] for ns in ("quiet", "cart")]  # type: ignore[index]
    assert [("istio.io/rev" in x) for x in labels] == [True, False]  # half-way
    bed.clock.advance(31)
    Pipeline(replica(bed, "replica-live")).run_due()
    finished = Pipeline(bed.services).find(wave.id)
    assert finished is not None and finished.state is ChangeState.VERIFYING
    assert "taken over" in [e.event for e in finished.timeline]
    for ns in ("quiet", "cart"):
        assert bed.cluster.live(ns_ref(ns))["metadata"]["labels"]["istio.io/rev"] == "1-30-3"  # type: ignore[index]


def test_a_replica_killed_during_the_helm_install_leaves_a_truthful_record() -> None:
    bed = install_bed()
    plan_id = planned(bed)
    change = run(bed, f"install start {plan_id}").view.stages[0].change  # type: ignore[union-attr]
    assert change is not None
    dying_helm = KillAt(bed.helm, at=2, methods=("install",), landed=True)
    doomed = Pipeline(replica(bed, "replica-doomed", helm=dying_helm))
    with pytest.raises(ReplicaKilled):
        doomed.approve(change.id, BOB)
    assert ("istio-system", "istiod-1-30-3") in bed.helm.releases  # the install landed
    bed.clock.advance(31)
    Pipeline(replica(bed, "replica-live")).run_due()
    after = Pipeline(bed.services).find(change.id)
    assert after is not None and after.state is ChangeState.VERIFYING, after.timeline[-1]
    assert len([c for c in bed.helm.calls if c.startswith("install istiod")]) == 1
    rolled = Pipeline(bed.services).rollback(change.id, ALICE, "test")
    assert "istiod-1-30-3" in rolled.message
    assert ("istio-system", "istiod-1-30-3") not in bed.helm.releases
