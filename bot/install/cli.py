"""Install plans in a terminal and as JSON, for pipelines that drive an install.

`meshbot install plan … --output json` prints the plan with every stage's state and
change id, so a pipeline can follow an install with `install status ID --output json`
and approve its stages elsewhere (never its own: the requester cannot approve).
"""

from __future__ import annotations

from typing import Any

from bot.changes.cli import dump
from bot.terminal.render import CliRenderer, TerminalRenderers
from bot.terminal.style import Style
from commands.core.model import ActionOutcome
from commands.install.model import InstallActed, InstallView


def view_json(view: InstallView) -> dict[str, Any]:
    plan = view.plan
    return {
        "id": plan.id,
        "cluster": plan.cluster,
        "version": plan.version,
        "revision": plan.revision,
        "old_revision": plan.old_revision,
        "old_version": plan.old_version,
        "charts": plan.charts,
        "aborted": plan.aborted,
        "current_stage": None if view.current is None else view.current + 1,
        "preflight": [g.to_json() for g in plan.preflight],
        "notes": list(plan.notes),
        "values": plan.values,
        "stages": [
            {
                "number": s.index + 1,
                "kind": s.stage.kind,
                "title": s.stage.title,
                "state": s.state.value,
                "change_id": s.stage.change_id,
                "namespaces": list(s.stage.namespaces),
                "workloads": list(s.stage.workloads),
                "pods": s.stage.pods,
                "rps": s.stage.rps,
                "approvers": list(s.approvers),
            }
            for s in view.stages
        ],
    }


def view_text(view: InstallView, style: Style | None = None) -> str:
    style = style or Style()
    plan = view.plan
    lines = [
        f"{plan.id}  Istio {plan.old_version or plan.old_revision} → {plan.version} on "
        f"{plan.cluster} (revision {plan.revision})",
        f"  charts: {plan.charts}",
    ]
    if view.headline:
        lines += style.wrap(view.headline, "  ", first="  ")
    for gate in plan.preflight:
        mark = style.paint(f"{gate.status.value:<7}", gate.status.value)
        lines += style.wrap(f"{gate.name}: {gate.detail}", " " * 12, first=f"  {mark} ")
    lines += [f"  note: {n}" for n in plan.notes]
    for s in view.stages:
        pointer = "→" if view.current == s.index else " "
        change = f" {s.stage.change_id}" if s.stage.change_id else ""
        approved = f" approved by {', '.join(s.approvers)}" if s.approvers else ""
        lines += style.wrap(
            f"{s.index + 1}. {s.stage.title} — {s.state.value}{change}{approved}",
            "      ",
            first=f"{pointer} ",
        )
    if plan.aborted:
        lines.append("aborted")
    return "\n".join(lines)


def register(renderers: TerminalRenderers) -> None:
    renderers.add(
        InstallView,
        CliRenderer(
            text=view_text,
            json=lambda r: dump(view_json(r)),
            exit_status=lambda r: 0,
            styled=lambda r, style: view_text(r, style),
        ),
    )
    renderers.add(
        InstallActed,
        CliRenderer(
            text=lambda r: r.message + ("\n\n" + view_text(r.view) if r.view is not None else ""),
            json=lambda r: dump(
                {
                    "plan_id": r.plan_id,
                    "action": r.action,
                    "outcome": r.outcome.value,
                    "message": r.message,
                    "plan": None if r.view is None else view_json(r.view),
                }
            ),
            exit_status=lambda r: 0 if r.outcome is not ActionOutcome.REFUSED else 1,
        ),
    )
