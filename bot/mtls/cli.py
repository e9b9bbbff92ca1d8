"""`mtls status` in a terminal and as JSON."""

from __future__ import annotations

from bot.changes.cli import dump
from bot.terminal.render import CliRenderer, TerminalRenderers
from commands.mtls.model import MtlsStatus


def _mtls_text(result: MtlsStatus) -> str:
    lines = [f"mTLS on {result.cluster} (mesh-wide mode {result.mesh_mode})"]
    for ns in result.namespaces:
        lines.append(
            f"{ns.namespace:<20} {ns.effective.mode:<10} from {ns.effective.source}; "
            f"{len(ns.coverage.without_sidecar)}/{ns.coverage.pods} pods without sidecar; "
            f"{ns.verdict}"
        )
        for edge in ns.traffic.plaintext:
            lines.append(
                f"    plaintext {edge.source} → {edge.destination}: "
                f"{edge.requests:.2f} req/s, {edge.connections:.2f} conn/s"
            )
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)


def _mtls_json(result: MtlsStatus) -> str:
    return dump(
        {
            "cluster": result.cluster,
            "mesh_mode": result.mesh_mode,
            "window_s": result.window_s,
            "namespaces": [
                {
                    "namespace": ns.namespace,
                    "mode": ns.effective.mode,
                    "source": ns.effective.source,
                    "conflicts": list(ns.effective.conflicts),
                    "pods": ns.coverage.pods,
                    "without_sidecar": list(ns.coverage.without_sidecar),
                    "traffic": ns.traffic.total,
                    "traffic_error": ns.traffic.error,
                    "plaintext": [
                        {
                            "source": e.source,
                            "destination": e.destination,
                            "requests_per_s": e.requests,
                            "connections_per_s": e.connections,
                        }
                        for e in ns.traffic.plaintext
                    ],
                    "ready": ns.ready,
                    "verdict": ns.verdict,
                }
                for ns in result.namespaces
            ],
            "notes": list(result.notes),
        }
    )


def register(renderers: TerminalRenderers) -> None:
    renderers.add(
        MtlsStatus, CliRenderer(text=_mtls_text, json=_mtls_json, exit_status=lambda r: 0)
    )
