"""`mtls status` in a terminal and as JSON.

Traffic numbers are counts over the readiness window (`increase(…[window])`), so they
are shown as "N requests in the last 1 h", never as a rate.
"""

from __future__ import annotations

from bot.changes.cli import dump
from bot.terminal.render import CliRenderer, TerminalRenderers
from bot.terminal.style import Style
from commands.core.wording import duration, number
from commands.mtls.model import MtlsStatus


def _mtls_text(result: MtlsStatus) -> str:
    return _styled(result, Style())


def _styled(result: MtlsStatus, style: Style) -> str:
    """Per namespace: mode and where it comes from, the verdict, then each gate on its own
    line (wrapped, never cut), the workload policies with their ports, and the plaintext
    sources by name."""
    window = duration(result.window_s)
    lines = style.wrap(
        f"mTLS on {result.cluster}: mesh-wide {result.mesh_mode}; traffic counted over "
        f"the last {window}"
    )
    for ns in result.namespaces:
        ready = ns.ready or ns.effective.mode == "STRICT"
        verdict = (
            "already STRICT"
            if ns.effective.mode == "STRICT"
            else ("ready for STRICT" if ns.ready else "not ready")
        )
        lines += [
            "",
            f"{style.paint(ns.namespace, 'bold')}  {ns.effective.mode} from {ns.effective.source}"
            f"  {style.paint(verdict, 'pass' if ready else 'fail')}",
        ]
        for gate in ns.gates:
            mark = style.paint(gate.status.value, gate.status.value)
            lines += style.wrap(gate.detail, "      ", first=f"  {mark} {gate.name}: ")
        for policy in ns.effective.workload_policies:
            lines += style.wrap(ns.effective.describe(policy), "      ", first="    ")
        for edge in ns.traffic.plaintext:
            lines += style.wrap(
                f"plaintext {edge.source} → {edge.destination}: {number(round(edge.requests))} "
                f"requests, {number(round(edge.connections))} connections in the last {window}",
                "      ",
                first="    ",
            )
    for note in result.notes:
        lines += ["", *style.wrap(note, "      ", first="note: ")]
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
        MtlsStatus,
        CliRenderer(text=_mtls_text, json=_mtls_json, exit_status=lambda r: 0, styled=_styled),
    )
