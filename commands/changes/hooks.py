"""What the change pipeline plugs into: verifiers per kind, notifiers, a group directory.

The pipeline is one piece of code for every kind of change; what differs per kind is
how it is written (an `Applier`, commands.changes.appliers; object writes unless a kind
registers its own) and how to judge it after apply (a `Verifier`), and what differs per
front end is how the world hears about it (a `ChangeNotifier`: Slack edits the proposal in place and
replies in its thread). Both are registered on the runtime's `ChangeHooks`, which lives
in `Services.changes` (a `ChangesKit`) next to the pipeline's settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from commands.changes.appliers import OBJECT_WRITES, Applier
from commands.changes.machine import PolicyRule
from commands.changes.model import ApprovalPolicy, Change
from commands.core.ports import Services


class VerdictOutcome(Enum):
    PASS = "pass"
    BREACH = "breach"
    HOLD = "hold"  # no data or too little traffic: never a pass, never a breach


@dataclass(frozen=True)
class Verdict:
    outcome: VerdictOutcome
    lines: tuple[str, ...] = ()
    # what a BREACH is called when the change fails on it: a kind whose check is not a
    # bake comparison (a rollout that never finished) names its own failure
    failure: str = "bake window breach"
    # a HOLD for want of data (too little traffic, no metrics) that an approver may accept
    # with a reason; a hold while something is still under way (a rollout) is not
    acceptable: bool = False


class Verifier(Protocol):
    """Judges an applied change of one kind after its bake window."""

    def bake_seconds(self, change: Change) -> float:
        """How long after apply to wait before judging."""
        ...

    def verify(self, change: Change, services: Services, now: float) -> Verdict:
        """Compare the bake window (applied_at → now) with the baseline before apply.

        May raise PortError (metrics down): the pipeline holds and says so."""
        ...


@dataclass(frozen=True)
class ChangeEvent:
    """One transition (or a note like a bake-window hold) of one change."""

    change: Change
    event: str
    actor: str
    detail: str = ""


class ChangeNotifier(Protocol):
    def change_event(self, event: ChangeEvent) -> None:
        """Tell people about a transition. Must not raise: a notifier that cannot reach
        its channel logs and carries on, the change itself is already recorded."""
        ...


class Directory(Protocol):
    def members(self, group: str) -> frozenset[str]:
        """User ids in a user group (`@handle` or `S…` id); empty when unknown."""
        ...


@dataclass
class ChangeHooks:
    """Per-runtime registrations (never module globals: two runtimes in one test)."""

    verifiers: dict[str, Verifier] = field(default_factory=dict)
    appliers: dict[str, Applier] = field(default_factory=dict)  # by kind; default ObjectWrites
    notifiers: list[ChangeNotifier] = field(default_factory=list)
    directory: Directory | None = None

    def register_verifier(self, kind: str, verifier: Verifier) -> None:
        self.verifiers[kind] = verifier

    def register_applier(self, kind: str, applier: Applier) -> None:
        """A kind applied by something other than object writes (e.g. Helm stages)."""
        self.appliers[kind] = applier

    def applier(self, kind: str) -> Applier:
        return self.appliers.get(kind, OBJECT_WRITES)

    def add_notifier(self, notifier: ChangeNotifier) -> None:
        self.notifiers.append(notifier)

    def members(self, group: str) -> frozenset[str]:
        return self.directory.members(group) if self.directory is not None else frozenset()


@dataclass(frozen=True)
class PipelineSettings:
    default_policy: ApprovalPolicy = field(default_factory=ApprovalPolicy)
    rules: tuple[PolicyRule, ...] = ()
    retention_s: float = 30 * 86400.0
    hold_retry_s: float = 60.0  # how soon to look again when a bake check had no data
    max_hold_s: float = 3600.0  # after this long without data, stop and leave it held
    verify_lease_s: float = 60.0  # one replica runs a due bake check at a time
    # a replica's work lease on a change it applies or rolls back, renewed every third;
    # once it expires, another replica's sweep takes the work over
    apply_lease_s: float = 30.0
    index_size: int = 500  # changes listed per cluster in history


@dataclass(frozen=True)
class ChangesKit:
    """The change pipeline's kit in `Services`: its settings and this runtime's hooks."""

    settings: PipelineSettings = field(default_factory=PipelineSettings)
    hooks: ChangeHooks = field(default_factory=ChangeHooks)
