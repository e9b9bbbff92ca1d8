"""The staged install in Slack: one plan message, edited in place, with a thread.

`install plan` posts the plan message in the channel it was asked in; from then on every
transition of any stage's change edits that message (`chat.update`) and adds a line to
its thread — through a change notifier, so a bake verdict reached on a timer shows up
the same way as a click. Stage changes are never posted on their own (they carry no
message of their own, so the change pipeline's Slack notifier leaves them alone). The
buttons carry only ids: Start / Advance / Abort the plan id, Approve / Reject / Rollback
the change id (handled by bot.changes.slack); a click is acked at once and dispatched as
the typed command, so the clicker's role is checked again on every click.
"""

from __future__ import annotations

import logging

from slack_bolt import App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.changes.render import event_reply, section
from bot.core.runtime import Runtime
from bot.install import accept
from bot.install.render import ABORT, ADVANCE, START, acted_message, plan_message
from bot.slack.access import AccessPolicy
from bot.slack.clicks import Click, on_buttons
from bot.slack.delivery import Deliveries, Reply, post_with_thread
from bot.slack.posting import post, respond_with, update
from bot.slack.render import SlackMessage, render
from commands.changes.hooks import ChangeEvent, ChangesKit
from commands.core.errors import PortError
from commands.core.model import ActionOutcome, Caller, Result, Role
from commands.core.registry import Context
from commands.install.commands import BOT, auto_advance
from commands.install.model import KINDS, InstallActed, InstallPlan, InstallView
from commands.install.planning import is_plan_id
from commands.install.plans import Plans, attach_message, view

log = logging.getLogger(__name__)
COMMAND_OF = {START: "install start {}", ADVANCE: "install advance {}", ABORT: "install abort {}"}


def show(runtime: Runtime, client: WebClient, plan: InstallPlan) -> None:
    """Edit the plan message to the plan's true state now (no message yet: nothing)."""
    if plan.message is None:
        return
    try:
        fresh = Plans(runtime.services).find(plan.id) or plan
        update(
            client,
            plan.message.channel,
            plan.message.ts,
            plan_message(view(runtime.services, fresh)),
        )
    except (SlackApiError, SlackClientError, PortError) as exc:
        log.warning("could not show install plan %s in Slack: %s", plan.id, exc)


class InstallNotifier:
    """Every transition of a stage's change: the plan message edited, a thread line."""

    def __init__(self, runtime: Runtime, client: WebClient) -> None:
        self._runtime = runtime
        self._client = client

    def change_event(self, event: ChangeEvent) -> None:
        change = event.change
        if change.kind not in KINDS or not change.verify.get("install"):
            return
        try:
            plan = Plans(self._runtime.services).find(str(change.verify["install"]))
        except PortError as exc:
            log.warning("could not read install plan of %s: %s", change.id, exc)
            return
        if plan is None or plan.message is None:
            return
        show(self._runtime, self._client, plan)
        reply = event_reply(event)
        if reply is not None:
            index = int(change.verify.get("stage", 0))
            title = plan.stages[index].title if index < len(plan.stages) else change.title
            line = SlackMessage(f"{title}: {reply.text}"[:3000], reply.blocks, ephemeral=False)
            try:
                post(self._client, plan.message.channel, line, thread_ts=plan.message.ts)
            except (SlackApiError, SlackClientError) as exc:
                log.warning("could not post %s of %s in Slack: %s", event.event, change.id, exc)
        if event.event == "verified":
            self._runtime.after_acks(lambda: self._auto_advance(change.id, plan))

    def _auto_advance(self, change_id: str, plan: InstallPlan) -> None:
        runtime = self._runtime
        ctx = Context(Caller(BOT, Role.OPERATOR), runtime.registry, runtime.services)
        try:
            acted = auto_advance(ctx, change_id)
        except PortError as exc:
            log.warning("auto-advance of %s failed: %s", plan.id, exc)
            return
        if acted is not None:
            show(runtime, self._client, plan)


def deliver_view(reply: Reply, result: Result) -> None:
    assert isinstance(result, InstallView)
    message = plan_message(result)
    if not result.fresh:
        respond_with(reply.respond, SlackMessage(message.text, message.blocks, ephemeral=True))
        return
    ts = post_with_thread(reply, message, (), "install plan")
    if ts is not None and reply.channel_id is not None:
        attach_message(reply.runtime.services, result.plan, reply.channel_id, ts)
        said = f":white_check_mark: Planned {result.plan.id}: the plan is posted in this channel"
        respond_with(reply.respond, SlackMessage(said, [section(said).to_dict()]))


def deliver_acted(reply: Reply, result: Result) -> None:
    assert isinstance(result, InstallActed)
    respond_with(reply.respond, acted_message(result))
    if result.view is not None:
        show(reply.runtime, reply.client, result.view.plan)


def register(app: App, runtime: Runtime, access: AccessPolicy, deliveries: Deliveries) -> None:
    kit = runtime.services.kit(ChangesKit)
    kit.hooks.notifiers[:] = [n for n in kit.hooks.notifiers if not isinstance(n, InstallNotifier)]
    kit.hooks.add_notifier(InstallNotifier(runtime, app.client))
    deliveries.add(InstallView, deliver_view)
    deliveries.add(InstallActed, deliver_acted)

    def answer(click: Click, result: Result, respond: Respond) -> None:
        if isinstance(result, InstallActed):
            if result.outcome is not ActionOutcome.DONE:
                respond_with(respond, acted_message(result))
            if result.view is not None:
                show(runtime, app.client, result.view.plan)
            return
        respond_with(respond, render(result))

    on_buttons(app, runtime, access, COMMAND_OF, is_plan_id, answer)
    accept.register(app, runtime, access)
