"""Changes → Slack messages (Block Kit), with no I/O.

A proposal is one channel message edited in place as the change moves (state, who
approved, the Rollback button once something was written); each step is also a short
reply in its thread. Buttons carry only the change id. The diff goes in a code block;
a long one shows its first lines and says where the rest is (bot/changes/diffview.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.changes.diffview import proposal_diff, view_diff
from bot.slack.render import MAX_BLOCKS, SlackMessage, chunk_lines
from commands.changes.hooks import ChangeEvent
from commands.changes.machine import ROLLBACK_FROM
from commands.changes.model import (
    Change,
    ChangeActed,
    ChangeState,
    ChangeView,
    GateStatus,
    History,
)
from commands.core.model import ActionOutcome

APPROVE = "change_approve"
REJECT = "change_reject"
ROLLBACK = "change_rollback"
GATE_ICON = {
    GateStatus.PASS: ":white_check_mark:",
    GateStatus.FAIL: ":x:",
    GateStatus.UNKNOWN: ":grey_question:",
}
STATE_ICON = {
    ChangeState.PROPOSED: ":hourglass_flowing_sand:",
    ChangeState.APPROVED: ":thumbsup:",
    ChangeState.APPLYING: ":gear:",
    ChangeState.APPLIED: ":gear:",
    ChangeState.VERIFYING: ":stopwatch:",
    ChangeState.VERIFIED: ":white_check_mark:",
    ChangeState.FAILED: ":rotating_light:",
    ChangeState.INTERRUPTED: ":warning:",
    ChangeState.ROLLING_BACK: ":rewind:",
    ChangeState.ROLLED_BACK: ":leftwards_arrow_with_hook:",
    ChangeState.REJECTED: ":no_entry_sign:",
    ChangeState.EXPIRED: ":zzz:",
    ChangeState.SUPERSEDED: ":arrows_counterclockwise:",
}


def when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text[:3000]))


def _status_line(change: Change) -> str:
    icon = STATE_ICON[change.state]
    line = f"{icon} *{change.state.value}*"
    if change.state is ChangeState.PROPOSED:
        line += (
            f" — {len(change.approvals)} of {change.policy.approvals} approvals,"
            f" expires {when(change.expires_at)}"
        )
    if change.approvals:
        line += " · approved by " + ", ".join(f"<@{a.user_id}>" for a in change.approvals)
    if change.rejection is not None:
        line += f" · rejected by <@{change.rejection.user_id}>"
    if change.state is ChangeState.VERIFYING and change.verify_at is not None:
        line += f" · bake window until {when(change.verify_at)}"
    if change.reason and change.state in (ChangeState.FAILED, ChangeState.INTERRUPTED):
        line += f"\n{change.reason}"
    return line


def rollback_button(change_id: str) -> ButtonElement:
    return ButtonElement(
        text="Rollback",
        action_id=ROLLBACK,
        value=change_id,
        style="danger",
        confirm=ConfirmObject(
            title="Roll back this change?",
            text=f"Restore every object {change_id} wrote, exactly as it was before.",
            confirm="Roll back",
            deny="Cancel",
        ),
    )


def _buttons(change: Change) -> list[Block]:
    if change.state is ChangeState.PROPOSED:
        elements = []
        if not change.blocked:
            elements.append(
                ButtonElement(text="Approve", action_id=APPROVE, value=change.id, style="primary")
            )
        elements.append(ButtonElement(text="Reject", action_id=REJECT, value=change.id))
        return [ActionsBlock(block_id="change_actions", elements=elements)]
    if change.state in ROLLBACK_FROM and change.wrote_objects:
        return [ActionsBlock(block_id="change_actions", elements=[rollback_button(change.id)])]
    return []


def change_blocks(change: Change, *, with_timeline: bool = False) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text=change.title[:150])]
    blocks.append(
        section(
            f"`{change.id}` · {change.kind} · cluster *{change.cluster}* · "
            f"proposed by <@{change.requester}>\n{_status_line(change)}"
        )
    )
    if change.summary:
        blocks.append(section("\n".join(change.summary)))
    if with_timeline:
        blocks.extend(section(text) for text in view_diff(change))
    else:
        blocks.append(section(proposal_diff(change).text))
    if change.gates:
        lines = [f"{GATE_ICON[g.status]} *{g.name}*: {g.detail}" for g in change.gates]
        if change.override is not None:
            by = change.override
            lines.append(f":warning: gates overridden by <@{by.user_id}>: {by.override}")
        elif change.blocked and change.state is ChangeState.PROPOSED:
            lines.append(
                f":lock: Blocked by gates. An approver may approve anyway with a reason: "
                f'`/mesh change approve {change.id} override="why it is safe"`'
            )
        blocks.extend(section(chunk) for chunk in chunk_lines(["*Gates*", *lines]))
    if change.risks:
        risks = [f"• {r.text}" for r in change.risks]
        blocks.extend(section(chunk) for chunk in chunk_lines(["*Risks*", *risks]))
    if change.verification:
        blocks.append(section("*Bake window*\n" + "\n".join(change.verification)))
    if with_timeline:
        entries = [
            f"{when(t.at)} · {t.event} · {'meshbot' if t.actor == 'meshbot' else f'<@{t.actor}>'}"
            + (f" — {t.detail}" if t.detail else "")
            for t in change.timeline
        ]
        blocks.extend(section(chunk) for chunk in chunk_lines(["*Timeline*", *entries]))
    buttons = _buttons(change)
    room = MAX_BLOCKS - len(buttons)
    return [*blocks[:room], *buttons]


def proposal_message(change: Change) -> SlackMessage:
    """The channel message for a change; re-rendered on every transition (chat.update)."""
    text = f"{change.title} ({change.id}): {change.state.value}"
    return SlackMessage(text, [b.to_dict() for b in change_blocks(change)], ephemeral=False)


def view_message(view: ChangeView) -> SlackMessage:
    change = view.change
    blocks = [
        b.to_dict()
        for b in change_blocks(change, with_timeline=True)
        if not isinstance(b, ActionsBlock)
    ]
    return SlackMessage(f"{change.title} ({change.id}): {change.state.value}", blocks)


EVENT_TEXT = {
    "approved": ":thumbsup: <@{actor}> approved ({detail})",
    "rejected": ":no_entry_sign: <@{actor}> rejected it{reason}",
    "expired": ":zzz: Expired without enough approvals; nothing was applied",
    "superseded": ":arrows_counterclockwise: Superseded {detail}; nothing was applied",
    "applying": ":gear: Applying: re-reading the live objects, dry run, then writing{note}",
    "applied": ":gear: Applied: {detail}",
    "verifying": ":stopwatch: Bake window running until {verify_at}",
    "verified": ":white_check_mark: Verified: {detail}",
    "hold accepted": ":white_check_mark: Held bake accepted by <@{actor}>: {detail}",
    "hold": ":pause_button: Holding, not passing: {detail}",
    "failed": ":rotating_light: Failed: {detail}",
    "taken over": ":arrows_counterclockwise: Taken over: {detail}",
    "takeover waiting": ":hourglass: {detail}",
    "interrupted": ":warning: Interrupted part-way — {detail}",
    "breach": ":rotating_light: {detail}",  # "bake window breach: …", "rollout failed: …"
    "rolling back": ":rewind: <@{actor}> started a rollback{reason}",
    "rolled back": ":leftwards_arrow_with_hook: Rolled back: {detail}",
    "rollback refused": ":no_entry: Rollback refused, nothing written: {detail}",
    "rollback failed": ":rotating_light: {detail}",
}


def event_reply(event: ChangeEvent) -> SlackMessage | None:
    """The thread reply for one transition; None for events the parent already shows."""
    template = EVENT_TEXT.get(event.event)
    if template is None:
        return None
    change = event.change
    text = template.format(
        actor=event.actor,
        detail=event.detail or "",
        reason=f": {event.detail}" if event.detail else "",
        note=f" ({event.detail})" if event.detail else "",
        verify_at=when(change.verify_at) if change.verify_at else "—",
    )
    blocks: list[Block] = [section(text)]
    if (
        event.event in ("applied", "breach", "failed", "interrupted")
        and change.wrote_objects
        and (change.state in ROLLBACK_FROM)
    ):
        blocks.append(
            ActionsBlock(block_id="change_actions", elements=[rollback_button(change.id)])
        )
    return SlackMessage(
        f"{change.id}: {text}"[:3000], [b.to_dict() for b in blocks], ephemeral=False
    )


def acted_message(acted: ChangeActed) -> SlackMessage:
    icon = {
        ActionOutcome.DONE: ":white_check_mark:",
        ActionOutcome.NOOP: ":information_source:",
        ActionOutcome.REFUSED: ":no_entry:",
    }[acted.outcome]
    text = f"{icon} {acted.message}"
    return SlackMessage(text[:3000], [section(text).to_dict()])


def history_message(history: History) -> SlackMessage:
    title = "Recent changes" + (f" in {history.cluster}" if history.cluster else "")
    if not history.rows:
        lines = ["No changes yet."]
    else:
        lines = [
            f"{STATE_ICON[r.state]} `{r.id}` {when(r.created_at)} · *{r.cluster}* · {r.title} · "
            f"{r.state.value} · by <@{r.requester}>"
            for r in history.rows
        ]
    blocks: list[Block] = [HeaderBlock(text=title)]
    blocks.extend(section(chunk) for chunk in chunk_lines(lines)[: MAX_BLOCKS - 1])
    return SlackMessage(title, [b.to_dict() for b in blocks])
