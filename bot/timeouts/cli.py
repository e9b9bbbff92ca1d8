"""The timeouts audit in a terminal: a table worst first, stable JSON, and an exit code a
CI job can gate on (1 when a finding of severity error exists, else 0)."""

from __future__ import annotations

import json

from bot.terminal.render import CliRenderer, TerminalRenderers
from commands.timeouts.model import TimeoutAudit


def to_text(report: TimeoutAudit) -> str:
    counts = report.counts
    lines = [
        f"Timeouts audit of {report.cluster} ({report.scope}), {report.generated_at}: "
        f"{report.virtual_services} VirtualServices, {report.routes} routes, "
        f"{report.edges} call edges ({report.api_version or 'no networking.istio.io'})",
        f"{counts['error']} error, {counts['warning']} warning, {counts['info']} info",
    ]
    if not report.findings:
        lines.append("No findings.")
    rows = [("SEVERITY", "ID", "RULE", "SUBJECT")]
    rows += [(f.severity.value.upper(), f.id, f.rule, f.subject) for f in report.findings]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    if report.findings:
        lines.append("")
        for index, row in enumerate(rows):
            lines.append("  ".join(row[i].ljust(widths[i]) for i in range(3)) + "  " + row[3])
            if index == 0:
                continue
            finding = report.findings[index - 1]
            indent = " " * (widths[0] + 2)
            lines.append(indent + finding.message)
            for evidence in finding.evidence:
                lines.append(indent + "  · " + evidence)
            if finding.suggestion is not None:
                for edit in finding.suggestion.edits:
                    lines.append(indent + "  fix: " + edit.describe())
                for why in finding.suggestion.why:
                    lines.append(indent + "  why: " + why)
            elif finding.fix:
                lines.append(indent + "  fix: " + finding.fix)
            if finding.run:
                lines.append(indent + f"  run: meshbot {finding.run}")
    for note in report.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def to_json(report: TimeoutAudit) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False)


def exit_status(report: TimeoutAudit) -> int:
    return 1 if report.has_errors else 0


def register(renderers: TerminalRenderers) -> None:
    renderers.add(TimeoutAudit, CliRenderer(text=to_text, json=to_json, exit_status=exit_status))
