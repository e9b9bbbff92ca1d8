"""A preflight report as Slack messages (pure): a summary for the channel, details for its
thread. Grouped by check, not by node, so a 2,000-node cluster still gives a readable
message: each check names its top subjects and "and 37 more"; every message stays
within Slack's limits (50 blocks, 3,000 characters a section); the full report goes
in the thread as a JSON file.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import yaml

from bot.slack.render import SlackMessage, channel_message
from commands.preflight.model import CheckResult, PreflightReport, Status

ICON = {
    Status.FAIL: ":red_circle:",
    Status.WARN: ":large_orange_circle:",
    Status.UNKNOWN: ":white_circle:",
    Status.PASS: ":large_green_circle:",
}
MAX_TEXT = 2900


_message = partial(channel_message, overflow="_… more in the JSON file_")


def counts_line(report: PreflightReport) -> str:
    s = report.summary
    return (
        f"{ICON[Status.FAIL]} {s['fail']} fail   {ICON[Status.WARN]} {s['warn']} warn   "
        f"{ICON[Status.UNKNOWN]} {s['unknown']} unknown   {ICON[Status.PASS]} {s['pass']} pass"
    )


def _names(results: Sequence[CheckResult], top: int) -> str:
    shown = ", ".join(f"`{r.subject.label}`" for r in results[:top])
    more = len(results) - top
    return shown + (f" and {more} more" if more > 0 else "")


def summary(report: PreflightReport, top: int = 10) -> SlackMessage:
    """The channel message: counts by status, then every non-passing check, failing first."""
    title = (
        f"Preflight {report.cluster} → Istio {report.istio} ({report.profile}): {report.verdict}"
    )
    lines = [counts_line(report)]
    for check_id, status, results in report.groups():
        bad = [r for r in results if r.status is status]
        if status is Status.PASS:
            continue
        lines.append(f"{ICON[status]} *{check_id}* — {len(bad)} {status.value}: {_names(bad, top)}")
    if report.verdict == "ready" and len(lines) == 1:
        lines.append("Every check passed.")
    s = report.summary
    fallback = (
        f"{title}: {s['fail']} fail, {s['warn']} warn, {s['unknown']} unknown, {s['pass']} pass"
    )
    return _message(
        fallback,
        lines,
        header=title,
        context=f"Details by check in the thread, full report attached as JSON · "
        f"{report.generated_at}",
    )


def _result_line(result: CheckResult) -> str:
    line = f"{ICON[result.status]} `{result.subject.label}` {result.message}"
    if result.fix:
        line += f"\n      _fix:_ {result.fix}"
    return line


def details(report: PreflightReport, top: int = 10) -> list[SlackMessage]:
    """Thread replies: one per non-passing check, then the passing ones, then sizing."""
    messages = []
    passing = []
    for check_id, status, results in report.groups():
        if status is Status.PASS:
            passing.append(f"{ICON[Status.PASS]} *{check_id}* — {len(results)} subjects")
            continue
        bad = [r for r in results if r.status is not Status.PASS]
        lines = [f"*{check_id}* — {len(bad)} of {len(results)} not passing"]
        lines += [_result_line(r) for r in bad[:top]]
        if len(bad) > top:
            lines.append(f"_… and {len(bad) - top} more (see the JSON file)_")
        ok = len(results) - len(bad)
        if ok:
            lines.append(f"{ICON[Status.PASS]} {ok} passing")
        messages.append(_message(f"{check_id}: {len(bad)} not passing", lines))
    if passing:
        messages.append(_message("Passing checks", ["*Passing checks*", *passing]))
    if report.notes:
        messages.append(_message("Notes", [f":information_source: {n}" for n in report.notes]))
    messages.append(sizing(report))
    return messages


def sizing(report: PreflightReport) -> SlackMessage:
    overlay = yaml.safe_dump(report.recommendation["istio_operator"], sort_keys=False)
    if len(overlay) > MAX_TEXT - 10:
        overlay = overlay[: MAX_TEXT - 20] + "\n# … (full overlay in the JSON file)"
    reasons = [f"• {r}" for r in report.recommendation.get("reasons", [])]
    return _message(
        "Sizing advice",
        [
            "*Sizing advice* (IstioOperator overlay for `istioctl install -f`)",
            *reasons,
            f"```{overlay}```",
        ],
    )
