"""The preflight report in a terminal: a table worst first, stable JSON, exit codes.

Exit status: 0 nothing failed, 1 a check failed, 2 usage or config errors (nothing ran).
Passing results are folded to one row per check in the text table so a 2,000-node
cluster prints what needs attention, not 12,000 lines of `pass`; JSON has everything.
"""

from __future__ import annotations

import json

import yaml

from bot.terminal.render import CliRenderer, TerminalRenderers
from commands.preflight.model import PreflightReport, Status, report_to_dict

_MESSAGE_WIDTH = 110


def to_text(report: PreflightReport) -> str:
    summary = report.summary
    lines = [
        f"Preflight of {report.cluster} for Istio {report.istio} ({report.profile} profile), "
        f"{report.generated_at}",
        f"{summary['fail']} fail, {summary['warn']} warn, {summary['unknown']} unknown, "
        f"{summary['pass']} pass",
        "",
    ]
    rows: list[tuple[str, str, str, str]] = []
    passes: dict[str, int] = {}
    for check in report.worst_first():
        if check.status is Status.PASS:
            passes[check.id] = passes.get(check.id, 0) + 1
            continue
        message = check.message
        if check.fix:
            message += f" — fix: {check.fix}"
        if len(message) > _MESSAGE_WIDTH * 2:
            message = message[: _MESSAGE_WIDTH * 2 - 1] + "…"
        rows.append((check.status.value.upper(), check.id, _subject(check.subject), message))
    for check_id, count in sorted(passes.items()):
        rows.append(("PASS", check_id, f"{count} subject{'s' if count != 1 else ''}", ""))
    header = ("STATUS", "CHECK", "SUBJECT", "MESSAGE")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        cells = [row[i].ljust(widths[i]) for i in range(3)]
        lines.append("  ".join(cells) + ("  " + row[3] if row[3] else ""))
    for note in report.notes:
        lines.append(f"note: {note}")
    lines += ["", "Sizing advice (IstioOperator overlay for istioctl install -f):"]
    for reason in report.recommendation.get("reasons", []):
        lines.append(f"# {reason}")
    lines.append(yaml.safe_dump(report.recommendation["istio_operator"], sort_keys=False).rstrip())
    return "\n".join(lines)


def _subject(subject: object) -> str:
    kind = getattr(subject, "kind", "")
    label = getattr(subject, "label", "")
    return f"{kind.lower()}/{label}"


def to_json(report: PreflightReport) -> str:
    return json.dumps(report_to_dict(report), indent=2)


def exit_status(report: PreflightReport) -> int:
    return 1 if report.failed else 0


def register(renderers: TerminalRenderers) -> None:
    renderers.add(PreflightReport, CliRenderer(text=to_text, json=to_json, exit_status=exit_status))
