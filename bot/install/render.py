"""An install plan → one Slack message (Block Kit), with no I/O.

The plan message is posted once and edited in place for the life of the install: every
stage on one line with its state and approvers, the current stage's gates, risks and
buttons (the change pipeline's Approve / Reject / Rollback, carrying only the change
id; Start / Advance / Abort carrying only the plan id — both looked up server-side).
Three hundred namespaces make about a hundred waves: stage lines are packed into a few
sections so the message stays within Slack's limits (50 blocks, 3,000 characters each).
"""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
)

from bot.changes.render import APPROVE, GATE_ICON, REJECT, rollback_button, section, when
from bot.slack.render import MAX_BLOCKS, SlackMessage, chunk_lines
from commands.changes.machine import ROLLBACK_FROM
from commands.changes.model import ChangeState
from commands.core.model import ActionOutcome
from commands.install.model import InstallActed, InstallView, StageState, StageView

START = "install_start"
ADVANCE = "install_advance"
ABORT = "install_abort"
STAGE_ICON = {
    StageState.PENDING: ":white_circle:",
    StageState.PROPOSED: ":hourglass_flowing_sand:",
    StageState.APPLYING: ":gear:",
    StageState.BAKING: ":stopwatch:",
    StageState.VERIFIED: ":white_check_mark:",
    StageState.FAILED: ":rotating_light:",
    StageState.ROLLED_BACK: ":leftwards_arrow_with_hook:",
}
MAX_STAGE_SECTIONS = 4
# Slack refuses a message whose blocks exceed 13,000 characters of JSON in all; the
# stage list gets this much of it, the rest is header, preflight, current stage, buttons.
STAGE_BUDGET = 6500


def stage_line(view: InstallView, s: StageView) -> str:
    marker = " :point_left:" if view.current == s.index else ""
    line = f"{STAGE_ICON[s.state]} *{s.index + 1}. {s.stage.title}* — {s.state.value}"
    if s.change is not None:
        line += f" `{s.change.id}`"
    if s.approvers:
        line += " · approved by " + ", ".join(f"<@{u}>" for u in s.approvers)
    return line + marker


def stage_lines(view: InstallView) -> list[str]:
    """Every stage on a line; when that is too long for one message, the stages around
    the current one, the failed ones and the last two, with runs of the others folded
    into one line each (`status ID` lists them all)."""
    lines = [stage_line(view, s) for s in view.stages]
    if sum(len(line) + 1 for line in lines) <= STAGE_BUDGET:
        return lines
    last = len(view.stages) - 1
    here = view.current if view.current is not None else last
    keep = {0, last - 1, last, *range(max(0, here - 1), min(last, here + 3) + 1)}
    keep |= {s.index for s in view.stages if s.state in (StageState.FAILED, StageState.ROLLED_BACK)}
    shown: list[str] = []
    folded: list[StageView] = []
    for s in view.stages:
        if s.index in keep:
            if folded:
                shown.append(_folded(folded))
                folded = []
            shown.append(lines[s.index])
        else:
            folded.append(s)
    if folded:
        shown.append(_folded(folded))
    shown.append(f"_all {len(lines)} stages: `/mesh install status {view.plan.id}`_")
    return shown


def _folded(stages: list[StageView]) -> str:
    counts: dict[str, int] = {}
    for s in stages:
        counts[s.state.value] = counts.get(s.state.value, 0) + 1
    said = ", ".join(f"{n} {state}" for state, n in counts.items())
    return f"… stages {stages[0].index + 1} to {stages[-1].index + 1}: {said}"


def _current_lines(view: InstallView) -> list[str]:
    if view.current is None:
        return []
    s = view.stages[view.current]
    change = s.change
    lines = [f"*Now: {s.stage.title}*"]
    if change is None:
        lines.append("Not proposed yet.")
        return lines
    if change.state is ChangeState.PROPOSED:
        lines.append(
            f"{len(change.approvals)} of {change.policy.approvals} approvals · expires "
            f"{when(change.expires_at)} · proposed by <@{change.requester}>"
        )
    if change.state is ChangeState.VERIFYING and change.verification:
        lines.append("bake: " + "; ".join(change.verification)[:500])
    if change.reason and s.state is StageState.FAILED:
        lines.append(f":rotating_light: {change.reason[:1500]}")
    for gate in change.gates:
        if gate.status.value != "pass" or change.state is ChangeState.PROPOSED:
            lines.append(f"{GATE_ICON[gate.status]} {gate.name}: {gate.detail}"[:400])
    if change.override is not None:
        lines.append(
            f":warning: gates overridden by <@{change.override.user_id}>: "
            f"{change.override.override}"
        )
    elif change.blocked and change.state is ChangeState.PROPOSED:
        lines.append(
            ":lock: Blocked by preflight. An approver may approve anyway with a reason: "
            f'`/mesh change approve {change.id} override="why it is safe"`'
        )
    lines += [f"risk: {r.text}"[:400] for r in change.risks[:3]]
    lines.append(f"`{len(change.diff)}` diff lines: `/mesh change {change.id}` shows them")
    return lines


def _buttons(view: InstallView) -> list[Block]:
    plan = view.plan
    elements: list[ButtonElement] = []
    current = None if view.current is None else view.stages[view.current]
    change = None if current is None else current.change
    if current is not None and current.state in (StageState.PENDING, StageState.ROLLED_BACK):
        first = view.current == 0 and current.state is StageState.PENDING
        elements.append(
            ButtonElement(
                text="Start" if first else "Advance",
                action_id=START if first else ADVANCE,
                value=plan.id,
                style="primary",
            )
        )
    if change is not None and change.state is ChangeState.PROPOSED:
        if not change.blocked:
            elements.append(
                ButtonElement(text="Approve", action_id=APPROVE, value=change.id, style="primary")
            )
        elements.append(ButtonElement(text="Reject", action_id=REJECT, value=change.id))
    if change is not None and change.state in ROLLBACK_FROM and change.wrote_objects:
        elements.append(rollback_button(change.id))
    if current is not None and not plan.aborted:
        elements.append(
            ButtonElement(
                text="Abort",
                action_id=ABORT,
                value=plan.id,
                style="danger",
                confirm=ConfirmObject(
                    title="Abort this install?",
                    text="Roll back the current stage (or withdraw its proposal) and stop. "
                    "Verified stages stay as they are.",
                    confirm="Abort",
                    deny="Cancel",
                ),
            )
        )
    return [ActionsBlock(block_id="install_actions", elements=elements)] if elements else []


def plan_message(view: InstallView) -> SlackMessage:
    plan = view.plan
    title = f"Istio {plan.old_version or plan.old_revision} → {plan.version} on {plan.cluster}"
    state = "aborted" if plan.aborted else ("done" if view.current is None else "in progress")
    blocks: list[Block] = [HeaderBlock(text=title[:150])]
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"`{plan.id}` · revision `{plan.revision}` beside `{plan.old_revision}` "
                    f"· {state} · planned by <@{plan.requester}> · {plan.charts}"[:3000]
                )
            ]
        )
    )
    if view.headline:
        blocks.append(section(view.headline))
    preflight = [f"{GATE_ICON[g.status]} {g.name}: {g.detail}"[:300] for g in plan.preflight]
    notes = [f":information_source: {n}"[:300] for n in plan.notes]
    blocks.extend(section(c) for c in chunk_lines([*preflight, *notes])[:2])
    blocks.extend(section(c) for c in chunk_lines(stage_lines(view))[:MAX_STAGE_SECTIONS])
    blocks.extend(section(c) for c in chunk_lines(_current_lines(view))[:3])
    blocks.extend(_buttons(view))
    blocks = blocks[:MAX_BLOCKS]
    text = f"{title}: {state}"
    return SlackMessage(text, [b.to_dict() for b in blocks], ephemeral=False)


def acted_message(acted: InstallActed) -> SlackMessage:
    icon = {
        ActionOutcome.DONE: ":white_check_mark:",
        ActionOutcome.NOOP: ":information_source:",
        ActionOutcome.REFUSED: ":no_entry:",
    }[acted.outcome]
    text = f"{icon} {acted.message}"[:3000]
    return SlackMessage(text, [section(text).to_dict()])
