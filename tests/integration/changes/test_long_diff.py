"""A long diff reaches the approver whole: the proposal message shows its first lines
and says how many more there are and where; the thread gets every line — as a few
code-block replies, or as a `.diff` file when longer, or (no `files:write`) as the
first replies plus a line naming what is missing and the command that prints it.
Real slack_sdk WebClient against the Slack emulator; the change is proposed by the
real pipeline over in-memory ports."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from bot.changes.diffpost import post_whole_diff
from bot.changes.diffview import THREAD_MESSAGES, proposal_diff
from bot.changes.render import proposal_message
from bot.sandbox.slack import SlackEmulator
from bot.slack.posting import post
from commands.changes.hooks import ChangeHooks, PipelineSettings
from commands.changes.model import Change, ChangeProposed, ObjectChange, ObjectRef, Proposal
from commands.changes.pipeline import Pipeline
from commands.core.model import Caller, Role
from tests.unit.changes.fakes import MovingClock, ObjectCluster, change_services

API = "security.istio.io/v1"
REF = ObjectRef(API, "PeerAuthentication", "peerauthentications", "default", "shop")


def long_change(ports: int) -> Change:
    """A PeerAuthentication with `ports` port-level modes: one diff line each."""
    cluster = ObjectCluster()
    body: dict[str, Any] = {
        "apiVersion": API,
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "shop"},
        "spec": {
            "mtls": {"mode": "STRICT"},
            "portLevelMtls": {str(8000 + i): {"mode": "PERMISSIVE"} for i in range(ports)},
        },
    }
    services = change_services(
        cluster, clock=MovingClock(), settings=PipelineSettings(), hooks=ChangeHooks()
    )
    proposal = Proposal("test", "prod", "many ports", (ObjectChange(REF, body),))
    result = Pipeline(services).propose(proposal, Caller("U_ALICE", Role.OPERATOR))
    assert isinstance(result, ChangeProposed), result
    return result.change


def posted(client: WebClient, change: Change) -> str:
    head = post(client, "C_OPS", proposal_message(change))
    ts = str(head["ts"])
    post_whole_diff(client, "C_OPS", ts, change)
    return ts


def blocks_text(message: Any) -> str:
    return "\n".join(b["text"]["text"] for b in message.blocks or [] if b.get("type") == "section")


def test_a_short_diff_is_whole_in_the_message_and_nothing_goes_to_the_thread(
    slack_emulator: SlackEmulator, slack_web_client: WebClient
) -> None:
    change = long_change(3)
    ts = posted(slack_web_client, change)
    head = slack_emulator.message("C_OPS", ts)
    assert head is not None and "+ spec.portLevelMtls.8002.mode: PERMISSIVE" in blocks_text(head)
    assert slack_emulator.thread("C_OPS", ts) == []


def test_a_long_diff_goes_whole_into_the_thread_in_code_blocks(
    slack_emulator: SlackEmulator, slack_web_client: WebClient
) -> None:
    change = long_change(150)
    assert not proposal_diff(change).complete
    ts = posted(slack_web_client, change)
    head = blocks_text(slack_emulator.message("C_OPS", ts))
    total = len(change.diff)
    shown = sum(1 for line in change.diff if line in head)
    assert (
        f"more lines ({shown} of {total} shown): the whole diff is in this message's thread" in head
    )
    replies = slack_emulator.thread("C_OPS", ts)
    assert 1 < len(replies) <= THREAD_MESSAGES
    thread = "\n".join(blocks_text(r) for r in replies)
    assert all(line in thread for line in change.diff)  # every line, none cut
    assert f"part {len(replies)} of {len(replies)}" in thread


def test_a_very_long_diff_is_attached_as_a_file(
    slack_emulator: SlackEmulator, slack_web_client: WebClient
) -> None:
    change = long_change(1200)
    ts = posted(slack_web_client, change)
    (attached,) = slack_emulator.files()
    assert attached.name == f"{change.id}.diff" and attached.thread_ts == ts
    assert attached.data is not None
    assert attached.data.decode().splitlines() == list(change.diff)


def test_when_slack_refuses_the_file_the_thread_says_what_is_missing(
    slack_emulator: SlackEmulator, slack_web_client: WebClient
) -> None:
    change = long_change(1200)
    slack_emulator.fail("files.getUploadURLExternal", status=200)
    ts = posted(slack_web_client, change)
    replies = slack_emulator.thread("C_OPS", ts)
    assert len(replies) == THREAD_MESSAGES + 1
    note = replies[-1].text
    assert "more lines of the diff could not be attached here" in note
    assert f"`meshbot change {change.id}` prints the whole diff" in note


def test_change_view_and_terminal_say_where_the_rest_is_or_print_all() -> None:
    from bot.changes.cli import change_text
    from bot.changes.diffview import view_diff

    change = long_change(3000)
    sections = view_diff(change)
    assert len(sections) <= 20 and all(len(s) <= 3000 for s in sections)
    shown = sum(1 for line in change.diff if line in "\n".join(sections))
    assert (
        f"{len(change.diff) - shown} more lines ({shown} of {len(change.diff)} shown)"
        in (sections[-1])
    )
    assert f"the whole diff is printed by `meshbot change {change.id}`" in sections[-1]
    text = change_text(change, timeline=False)
    assert all(f"    {line}" in text for line in change.diff)  # the terminal prints every line
    small = long_change(100)
    assert "more lines" not in "\n".join(view_diff(small))
