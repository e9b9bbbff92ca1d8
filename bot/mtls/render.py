"""`mtls status` → a Slack message (Block Kit), with no I/O."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject

from bot.changes.render import GATE_ICON, section
from bot.slack.render import MAX_BLOCKS, SlackMessage, chunk_lines
from commands.core.wording import duration
from commands.mtls.model import MtlsStatus


def mtls_status_message(status: MtlsStatus) -> SlackMessage:
    title = f"mTLS status in {status.cluster} (mesh: {status.mesh_mode})"
    lines: list[str] = list(status.notes)
    for report in status.namespaces:
        icon = ":white_check_mark:" if report.ready or report.effective.mode == "STRICT" else ":x:"
        lines.append(f"{icon} *{report.namespace}* — {report.effective.mode} · {report.verdict}")
        for gate in report.gates:
            lines.append(f"    {GATE_ICON[gate.status]} {gate.name}: {gate.detail}")
        for edge in report.traffic.plaintext[:10]:
            lines.append(
                f"    plaintext {edge.source} → {edge.destination}: "
                f"{edge.requests:.0f} requests, {edge.connections:.0f} connections"
            )
        for policy in report.effective.workload_policies:
            lines.append(f"    {report.effective.describe(policy)}")
    blocks: list[Block] = [HeaderBlock(text=title[:150])]
    blocks.extend(section(chunk) for chunk in chunk_lines(lines)[: MAX_BLOCKS - 2])
    blocks.append(
        ContextBlock(
            elements=[MarkdownTextObject(text=f"plaintext window: {duration(status.window_s)}")]
        )
    )
    ready = sum(1 for r in status.namespaces if r.ready)
    return SlackMessage(
        f"{title}: {ready} of {len(status.namespaces)} namespaces ready",
        [b.to_dict() for b in blocks],
    )
