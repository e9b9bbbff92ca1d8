"""Where install plans live, and the one way a plan record changes.

Why this exists: a plan is read by every replica (a click lands anywhere) and changed by
a few of them (a stage's change id, the plan message, abort). Each change is one atomic
`Store.update` of the record under the cluster's hash tag, so two replicas never
overwrite each other's stage; the plan's stages hold change ids, the changes hold the
truth about each stage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from commands.changes.model import Change, MessageRef
from commands.changes.pipeline import Pipeline
from commands.core.errors import StoreUnavailable
from commands.core.ports import Services
from commands.install.model import InstallPlan, InstallView, StageState, StageView, stage_state

RETENTION_S = 90 * 86400.0


CURRENT_KEY = "install:current"  # per cluster: the plan that may move the cluster now


def plan_key(plan_id: str) -> str:
    return f"install:{plan_id}"


class Plans:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.store = services.store

    def add(self, plan: InstallPlan) -> None:
        self.store.put(plan_key(plan.id), plan.to_json(), cluster=plan.cluster, ttl_s=RETENTION_S)

    def make_current(self, plan: InstallPlan) -> InstallPlan | None:
        """Make `plan` the cluster's current install, unless another one is under way (a
        stage proposed or further, not aborted, not finished): then that one, and
        `plan` is not stored. One install per cluster at a time; a plan never started is
        replaced."""
        seen = self.store.get(CURRENT_KEY, cluster=plan.cluster)
        if seen is not None:
            other = self.find(str(seen))
            if other is not None and under_way(self.services, other):
                return other
        if not self.store.compare_and_set(
            CURRENT_KEY, seen, plan.id, cluster=plan.cluster, ttl_s=RETENTION_S
        ):
            now = self.store.get(CURRENT_KEY, cluster=plan.cluster)
            return self.find(str(now)) if now is not None else None
        self.add(plan)
        return None

    def find(self, plan_id: str) -> InstallPlan | None:
        for cluster in sorted(self.services.clusters):
            raw = self.store.get(plan_key(plan_id), cluster=cluster)
            if raw is not None:
                return InstallPlan.from_json(raw)
        return None

    def update(
        self, plan: InstallPlan, change: Callable[[InstallPlan], InstallPlan | None]
    ) -> InstallPlan:
        """Apply `change` atomically to the stored plan (None: leave it); the plan now."""

        def step(raw: object) -> object:
            if raw is None:
                return None
            changed = change(InstallPlan.from_json(raw))
            return None if changed is None else changed.to_json()

        _, now = self.store.update(plan_key(plan.id), step, cluster=plan.cluster, ttl_s=RETENTION_S)
        if now is None:
            raise StoreUnavailable(f"install plan {plan.id} vanished from the store")
        return InstallPlan.from_json(now)


def view(
    services: Services, plan: InstallPlan, headline: str = "", *, fresh: bool = False
) -> InstallView:
    """The plan with each stage's state read from its change, and the stage that needs
    attention: the first one not verified (None once every stage is, or when aborted)."""
    records = Pipeline(services).ledger.records
    stages = []
    for index, stage in enumerate(plan.stages):
        change: Change | None = None
        if stage.change_id:
            change = records.get(stage.change_id, plan.cluster)
        stages.append(StageView(index, stage, stage_state(change), change))
    current = next((s.index for s in stages if s.state is not StageState.VERIFIED), None)
    if plan.aborted:
        current = None
    return InstallView(plan, tuple(stages), current, headline, fresh)


def attach_message(services: Services, plan: InstallPlan, channel: str, ts: str) -> InstallPlan:
    """Remember where the plan message is, so every later step edits it in place."""
    return Plans(services).update(plan, lambda p: replace(p, message=MessageRef(channel, ts)))


def under_way(services: Services, plan: InstallPlan) -> bool:
    if plan.aborted or not any(s.change_id for s in plan.stages):
        return False
    return view(services, plan).current is not None
