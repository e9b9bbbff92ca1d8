"""The preflight report in a terminal: findings worst first, grouped, wrapped; JSON; exit codes.

Exit status: 0 nothing failed, 1 a check failed, 2 usage or config errors (nothing ran).
A 2,000-node cluster without Prometheus has 2,000 identical "steal time unknown"
results: findings of one check with the same status and fix are one finding — "on
2,000 nodes: node-1, node-2, node-3 … and 1,997 more" when their message is the same,
else the first few subjects each with its own message and how many more. Messages and
fixes are never cut; they wrap to the terminal's width. Passing checks are one line
each with how many subjects passed. JSON has every result.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import yaml

from bot.terminal.render import CliRenderer, TerminalRenderers
from bot.terminal.style import Style
from commands.core.wording import count, listing, number
from commands.preflight.model import CheckResult, PreflightReport, Status, report_to_dict

SHOWN_SUBJECTS = 3
SHOWN_MESSAGES = 8


def to_text(report: PreflightReport) -> str:
    return styled(report, Style())


def styled(report: PreflightReport, style: Style) -> str:
    summary = report.summary
    counts = ", ".join(
        style.paint(f"{number(summary[s.value])} {s.value}", s.value)
        if summary[s.value]
        else f"0 {s.value}"
        for s in (Status.FAIL, Status.WARN, Status.UNKNOWN, Status.PASS)
    )
    lines = style.wrap(
        f"Preflight of {report.cluster} for Istio {report.istio} ({report.profile} profile), "
        f"{report.generated_at}: {report.verdict}"
    )
    lines.append(counts)
    for group in findings(report):
        lines += ["", *_finding_lines(group, style)]
    passes = _passes(report)
    if passes:
        lines += ["", *style.wrap(", ".join(passes), "  ", first=style.paint("PASS", "pass") + " ")]
    for note in report.notes:
        lines += ["", *style.wrap(note, "      ", first="note: ")]
    lines += ["", "Sizing advice (IstioOperator overlay for istioctl install -f):"]
    lines += [f"# {reason}" for reason in report.recommendation.get("reasons", [])]
    lines.append(yaml.safe_dump(report.recommendation["istio_operator"], sort_keys=False).rstrip())
    return "\n".join(lines)


def findings(report: PreflightReport) -> list[list[CheckResult]]:
    """Results that are not a pass, one check's with the same status and fix together,
    worst first."""
    groups: dict[tuple[str, str, str], list[CheckResult]] = {}
    for check in report.worst_first():
        if check.status is Status.PASS:
            continue
        groups.setdefault((check.status.value, check.id, check.fix or ""), []).append(check)
    return sorted(groups.values(), key=lambda g: (g[0].status.rank, g[0].id, g[0].subject.label))


def _finding_lines(group: Sequence[CheckResult], style: Style) -> list[str]:
    first = group[0]
    status = style.paint(first.status.value.upper(), first.status.value)
    if len({c.message for c in group}) == 1:
        lines = style.wrap(f"{status} {first.id} on {_subjects(group)}", "    ", first="")
        lines += style.wrap(first.message, "  ")
    else:
        lines = [f"{status} {first.id} on {count(len(group), _kind(group))}"]
        for check in group[:SHOWN_MESSAGES]:
            lines += style.wrap(f"{check.subject.label}: {check.message}", "    ", first="  ")
        if len(group) > SHOWN_MESSAGES:
            more = number(len(group) - SHOWN_MESSAGES)
            lines.append(f"  … and {more} more (every one: --output json)")
    if first.fix:
        lines += style.wrap(first.fix, "       ", first="  fix: ")
    return lines


def _kind(group: Sequence[CheckResult]) -> str:
    kinds = {c.subject.kind.lower() for c in group}
    return kinds.pop() if len(kinds) == 1 else "subject"


def _subjects(group: Sequence[CheckResult]) -> str:
    if len(group) == 1:
        return f"{group[0].subject.kind.lower()} {group[0].subject.label}"
    names = [c.subject.label for c in group]
    return f"{count(len(group), _kind(group))}: {listing(names, SHOWN_SUBJECTS)}"


def _passes(report: PreflightReport) -> list[str]:
    by_check: dict[str, list[CheckResult]] = {}
    for check in report.checks:
        if check.status is Status.PASS:
            by_check.setdefault(check.id, []).append(check)
    return [
        f"{check_id} ({count(len(results), _kind(results))})"
        for check_id, results in sorted(by_check.items())
    ]


def to_json(report: PreflightReport) -> str:
    # Compact: the front end re-reads it to reword hints and decides the indentation.
    return json.dumps(report_to_dict(report), separators=(",", ":"))


def exit_status(report: PreflightReport) -> int:
    return 1 if report.failed else 0


def register(renderers: TerminalRenderers) -> None:
    renderers.add(
        PreflightReport,
        CliRenderer(text=to_text, json=to_json, exit_status=exit_status, styled=styled),
    )
