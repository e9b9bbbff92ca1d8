"""What people see of a change a takeover could not finish: the Slack message edited in
place, the thread line with its Rollback button, and `meshbot change ID`."""

from __future__ import annotations

from bot.changes.cli import change_text
from bot.changes.render import event_reply, proposal_message
from commands.changes.hooks import ChangeEvent
from commands.changes.machine import attach_message
from commands.changes.model import Change, ChangeState
from tests.unit.changes.fakes import KillAt
from tests.unit.changes.test_takeover import Rig, pa, two_objects


def interrupted() -> tuple[Rig, Change]:
    rig = Rig()
    change = rig.propose(*two_objects())
    rig.kill_approving(change, KillAt(rig.cluster, at=1, landed=True))
    rig.cluster.add(pa("extra", "DISABLE"), "peerauthentications")
    rig.sweep_after_the_lease()
    return rig, rig.now(change)


def test_slack_shows_interrupted_with_what_was_written_and_a_rollback_button() -> None:
    rig, found = interrupted()
    change = attach_message(found, "C_OPS", "1.0")
    change_id = change.id
    assert change.state is ChangeState.INTERRUPTED
    parent = proposal_message(change)
    text = str(parent.blocks)
    assert ":warning: *interrupted*" in text
    assert "written: PeerAuthentication shop/default" in text
    assert "left alone: PeerAuthentication shop/extra" in text
    assert [
        e["action_id"] for b in parent.blocks if b["type"] == "actions" for e in b["elements"]
    ] == ["change_rollback"]
    line = event_reply(ChangeEvent(change, "interrupted", "meshbot", change.reason))
    assert line is not None and line.text.startswith(f"{change_id}: :warning: Interrupted part-way")
    assert "change_rollback" in str(line.blocks)
    taken = event_reply(ChangeEvent(change, "taken over", "meshbot", rig.detail("taken over")))
    assert taken is not None and "Taken over: replica-doomed stopped while applying" in taken.text


def test_the_cli_says_interrupted_and_why() -> None:
    _, change = interrupted()
    text = change_text(change, timeline=True)
    assert "state interrupted" in text
    assert "  interrupted: replica-doomed stopped while applying" in text
    assert "taken over by meshbot — replica-doomed stopped while applying" in text
    assert "interrupted by meshbot" in text


def test_an_approval_applied_by_another_replica_says_so_in_the_thread() -> None:
    rig = Rig()
    change = rig.propose()
    rig.kill_approving(change, store=KillAt(rig.store, at=3, methods=("update",)))
    rig.sweep_after_the_lease()
    applying = next(e for e in rig.notifier.events if e.event == "applying")
    line = event_reply(applying)
    assert line is not None
    assert line.text.endswith(
        "then writing (approved, but the replica that was to apply it stopped first; "
        "replica-live applies it)"
    )
