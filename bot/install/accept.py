"""*Accept held bake* on the plan message: a modal asks the approver why, then the same
`install advance ID override="why"` a typed command runs.

Why this exists: a wave that serves too little traffic holds forever, and accepting it
needs a reason, which a button cannot carry. So the button (its value only the plan id)
opens a modal — after checking the clicker may accept at all, so the requester or a
non-approver is told at once — and the modal's submission runs the command as the
submitter, whose role is checked again there and by the change pipeline. The answer
goes to the submitter alone; the plan message is edited by the pipeline's notifier.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.blocks import InputBlock, PlainTextInputElement, SectionBlock
from slack_sdk.models.views import View

from bot.core.dispatch import run_command
from bot.core.runtime import Runtime
from bot.install.render import ACCEPT_HOLD, acted_message
from bot.slack.access import AccessPolicy
from bot.slack.errors import guarded
from bot.slack.posting import respond_with
from bot.slack.render import SlackMessage, render
from commands.core.model import Role
from commands.install.model import InstallActed
from commands.install.planning import is_plan_id
from commands.install.plans import Plans, view

log = logging.getLogger(__name__)
CALLBACK = "install_accept_hold_reason"
REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"


def reason_modal(plan_id: str, stage_title: str) -> View:
    return View(
        type="modal",
        callback_id=CALLBACK,
        private_metadata=plan_id,
        title="Accept held bake",
        submit="Accept",
        close="Cancel",
        blocks=[
            SectionBlock(
                text=f"*{stage_title[:200]}* holds: too little traffic to judge its bake. "
                "Accepting counts it as verified by you, in the audit and on the plan."
            ),
            InputBlock(
                block_id=REASON_BLOCK,
                label="Why is it safe to go on?",
                element=PlainTextInputElement(
                    action_id=REASON_INPUT, max_length=500, placeholder="batch jobs, no traffic"
                ),
            ),
        ],
    )


def _held_stage(runtime: Runtime, plan_id: str, user: str, role: Role | None) -> str:
    """The title of the held stage this clicker may accept; ValueError saying why not
    (in the change pipeline's order: the requester first, then the role)."""
    plan = Plans(runtime.services).find(plan_id)
    if plan is None:
        raise ValueError(f"there is no install plan `{plan_id}`")
    shown = view(runtime.services, plan)
    current = None if shown.current is None else shown.stages[shown.current]
    if current is None or not current.held or current.change is None:
        raise ValueError(f"{plan_id} has no held stage now")
    if current.change.requester == user:
        raise ValueError(
            f"you proposed {current.change.id}; someone else must accept its held bake"
        )
    if role is None or role.value < Role.APPROVER.value:
        raise ValueError("accepting a held bake needs the approver role")
    return current.stage.title


def register(app: App, runtime: Runtime, access: AccessPolicy) -> None:
    def on_click(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()
        action = (body.get("actions") or [{}])[0]
        plan_id = str(action.get("value", "")).strip().lower()
        user = str((body.get("user") or {}).get("id", ""))
        channel = (body.get("container") or {}).get("channel_id")
        trigger = str(body.get("trigger_id", ""))

        def work() -> None:
            if not is_plan_id(plan_id):
                log.warning("ignored an accept-hold click with a malformed value")
                return
            caller = access.caller(user, channel)  # re-checked on every click
            try:
                title = _held_stage(runtime, plan_id, user, caller.role)
            except ValueError as refused:
                said = f":no_entry: {refused}"
                respond_with(respond, SlackMessage(said, [SectionBlock(text=said).to_dict()]))
                return
            client.views_open(trigger_id=trigger, view=reason_modal(plan_id, title))

        runtime.after_acks(guarded(work, "accept-hold click", respond))

    def on_submit(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        submitted = body.get("view") or {}
        values = ((submitted.get("state") or {}).get("values") or {}).get(REASON_BLOCK) or {}
        reason = str((values.get(REASON_INPUT) or {}).get("value") or "").strip()
        if not reason:
            ack(response_action="errors", errors={REASON_BLOCK: "Say why it is safe to go on"})
            return
        ack()
        plan_id = str(submitted.get("private_metadata", "")).strip().lower()
        user = str((body.get("user") or {}).get("id", ""))

        def work() -> None:
            if not is_plan_id(plan_id):
                log.warning("ignored an accept-hold submission with a malformed plan id")
                return
            plan = Plans(runtime.services).find(plan_id)
            channel = plan.message.channel if plan is not None and plan.message else None
            caller = access.caller(user, channel)  # checked again on submission
            quoted = reason.replace('"', "'")
            result = run_command(runtime, f'install advance {plan_id} override="{quoted}"', caller)
            answer = acted_message(result) if isinstance(result, InstallActed) else render(result)
            if channel is None:
                return
            try:
                client.chat_postEphemeral(
                    channel=channel, user=user, text=answer.text, blocks=answer.blocks
                )
            except (SlackApiError, SlackClientError) as exc:
                log.warning("could not answer an accept-hold submission: %s", exc)

        runtime.after_acks(work)

    app.action(ACCEPT_HOLD)(on_click)
    app.view(CALLBACK)(on_submit)
