"""`mtls status` in a terminal and as JSON.

Traffic numbers are counts over the readiness window (`increase(…[window])`), so they
are shown as "N requests in the last 1 h", never as a rate.
"""

from __future__ import annotations

from bot.changes.cli import dump
from bot.terminal.render import CliRenderer, TerminalRenderers
from commands.core.evidence import duration_text
from commands.mtls.model import MtlsStatus


def _mtls_text(result: MtlsStatus) -> str:
    window = duration_text(result.window_s)
    lines = [
        f"mTLS on {result.cluster} (mesh-wide mode {result.mesh_mode}; "
        f"traffic counted over the last {window})"
    ]
    for ns in result.namespaces:
        lines.append(
            f"{ns.namespace:<20} {ns.effective.mode:<10} from {ns.effective.source}; "
            f"{len(ns.coverage.without_sidecar)}/{ns.coverage.pods} pods without sidecar; "
            f"{ns.verdict}"
        )
        for policy in ns.effective.workload_policies:
            lines.append(f"    {ns.effective.describe(policy)}")
        for edge in ns.traffic.plaintext:
            # counts over the window (increase()), not rates
            lines.append(
                f"    plaintext {edge.source} → {edge.destination}: {edge.requests:.0f} "
                f"requests, {edge.connections:.0f} connections in the last {window}"
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
                    "workload_policies": [
                        {
                            "policy": p.label,
                            "selector": p.selector_text,
                            "mode": p.mode,
                            "ports": dict(p.port_modes),
                            "summary": ns.effective.describe(p),
                        }
                        for p in ns.effective.workload_policies
                    ],
                    "traffic": ns.traffic.total,
                    "traffic_error": ns.traffic.error,
                    "history_s": ns.traffic.history.covered_s if ns.traffic.history else None,
                    "plaintext": [
                        {
                            "source": e.source,
                            "destination": e.destination,
                            "requests": e.requests,
                            "connections": e.connections,
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
