"""The timeouts audit in a terminal: findings worst first, stable JSON, and an exit code a
CI job can gate on (1 when a finding of severity error exists, else 0)."""

from __future__ import annotations

import json

from bot.terminal.render import CliRenderer, TerminalRenderers
from bot.terminal.style import Style
from commands.timeouts.model import TimeoutAudit


def to_text(report: TimeoutAudit) -> str:
    return styled(report, Style())


def styled(report: TimeoutAudit, style: Style) -> str:
    """Findings worst first, each with its message, evidence and fix wrapped, never cut."""
    counts = report.counts
    lines = style.wrap(
        f"Timeouts audit of {report.cluster} ({report.scope}), {report.generated_at}: "
        f"{report.virtual_services} VirtualServices, {report.routes} routes, "
        f"{report.edges} call edges ({report.api_version or 'no networking.istio.io'})"
    )
    lines.append(f"{counts['error']} error, {counts['warning']} warning, {counts['info']} info")
    if not report.findings:
        lines.append("No findings.")
    for finding in report.findings:
        severity = style.paint(finding.severity.value.upper(), finding.severity.value)
        lines.append("")
        head = f"{severity} {finding.id} {finding.rule} on {finding.subject}"
        lines += style.wrap(head, "    ", first="")
        lines += style.wrap(finding.message, "  ", first="  ")
        for evidence in finding.evidence:
            lines += style.wrap(evidence, "      ", first="    · ")
        if finding.suggestion is not None:
            for edit in finding.suggestion.edits:
                lines += style.wrap(edit.describe(), "       ", first="  fix: ")
            for why in finding.suggestion.why:
                lines += style.wrap(why, "       ", first="  why: ")
        elif finding.fix:
            lines += style.wrap(finding.fix, "       ", first="  fix: ")
        if finding.run:
            # in backticks, so the terminal's dialect says it the command line's way
            lines.append(f"  run: `/mesh {finding.run}`")
    for note in report.notes:
        lines += ["", *style.wrap(note, "      ", first="note: ")]
    return "\n".join(lines)


def to_json(report: TimeoutAudit) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False)


def exit_status(report: TimeoutAudit) -> int:
    return 1 if report.has_errors else 0


def register(renderers: TerminalRenderers) -> None:
    renderers.add(
        TimeoutAudit,
        CliRenderer(text=to_text, json=to_json, exit_status=exit_status, styled=styled),
    )
