"""A timeouts audit as Slack messages (pure): a summary for the channel, details for its
thread. The summary lists the findings worst first, one line each with the id to fix
it by; the thread gives each finding's evidence and suggested fix, a few findings per
message. Every message stays within Slack's limits (50 blocks, 3,000 characters a
section, a plain-text fallback); a very long audit says how many were left out and
points at `meshbot timeouts audit --output json`.
"""

from __future__ import annotations

from functools import partial

from bot.slack.render import SlackMessage, channel_message
from commands.timeouts.model import Finding, Severity, TimeoutAudit

ICON = {
    Severity.ERROR: ":red_circle:",
    Severity.WARNING: ":large_orange_circle:",
    Severity.INFO: ":white_circle:",
}
SUMMARY_LINES = 25
PER_THREAD_MESSAGE = 8
MAX_THREAD_MESSAGES = 10


_message = partial(channel_message, overflow="_… cut to fit Slack_")


def counts_line(report: TimeoutAudit) -> str:
    c = report.counts
    return (
        f"{ICON[Severity.ERROR]} {c['error']} error   {ICON[Severity.WARNING]} {c['warning']} "
        f"warning   {ICON[Severity.INFO]} {c['info']} info"
    )


def summary(report: TimeoutAudit) -> SlackMessage:
    title = f"Timeouts audit {report.cluster} ({report.scope})"
    lines = [
        counts_line(report),
        f"{report.virtual_services} VirtualServices, {report.routes} routes, "
        f"{report.edges} call edges",
    ]
    for finding in report.findings[:SUMMARY_LINES]:
        lines.append(
            f"{ICON[finding.severity]} `{finding.id}` *{finding.rule}* — {finding.subject}"
        )
    more = len(report.findings) - SUMMARY_LINES
    if more > 0:
        lines.append(f"_… and {more} more in the thread_")
    if not report.findings:
        lines.append("No findings: timeouts and retries fit the apps and the traffic.")
    c = report.counts
    fallback = f"{title}: {c['error']} error, {c['warning']} warning, {c['info']} info"
    context = f"Evidence and fixes in the thread · `/mesh timeouts fix ID` · {report.generated_at}"
    return _message(fallback, lines, header=title, context=context)


def finding_lines(finding: Finding) -> list[str]:
    lines = [
        f"{ICON[finding.severity]} *{finding.rule}* `{finding.id}` — {finding.subject}",
        finding.message,
    ]
    lines += [f"      • {e}" for e in finding.evidence]
    if finding.suggestion is not None:
        for edit in finding.suggestion.edits:
            lines.append(f"      _fix:_ {edit.describe()}")
        for why in finding.suggestion.why:
            lines.append(f"      _why:_ {why}")
    elif finding.fix:
        lines.append(f"      _fix:_ {finding.fix}")
    if finding.run:
        lines.append(f"      _run:_ `/mesh {finding.run}`")
    return lines


def details(report: TimeoutAudit) -> list[SlackMessage]:
    messages: list[SlackMessage] = []
    findings = list(report.findings)
    shown = PER_THREAD_MESSAGE * MAX_THREAD_MESSAGES
    for start in range(0, min(len(findings), shown), PER_THREAD_MESSAGE):
        batch = findings[start : start + PER_THREAD_MESSAGE]
        lines: list[str] = []
        for finding in batch:
            lines += [*finding_lines(finding), ""]
        end = start + len(batch)
        messages.append(_message(f"Findings {start + 1}-{end} of {len(findings)}", lines))
    notes = [f":information_source: {n}" for n in report.notes]
    if len(findings) > shown:
        notes.append(
            f":information_source: {len(findings) - shown} more findings: run "
            "`meshbot timeouts audit --output json` for all of them"
        )
    if notes:
        messages.append(_message("Notes", notes))
    return messages
