"""How a preflight report reads: CLI table and JSON schema, exit codes, Slack messages
that stay readable and within Slack's limits for a 2,000-node cluster."""

from __future__ import annotations

import json
import re

from bot.preflight.cli import exit_status, to_json, to_text
from bot.preflight.render import details, summary
from bot.sandbox.slack.limits import validate_message
from commands.core.model import Caller, Role
from commands.core.registry import Registry
from commands.preflight.commands import register
from commands.preflight.model import PreflightReport, Status
from tests.unit.preflight.fakes import FakeInventory, FakePrometheus, node, pod, preflight_services


def report_for(cluster: FakeInventory, prom: FakePrometheus | None = None) -> PreflightReport:
    registry = Registry()
    register(registry)
    result = registry.dispatch(
        "preflight", Caller("me", Role.VIEWER), preflight_services(cluster, prom)
    )
    assert isinstance(result, PreflightReport), result
    return result


def big_cluster() -> PreflightReport:
    nodes = [
        node(f"node-{i:04d}", flags=None if i % 50 == 0 else ("AESNI", "AVX2")) for i in range(2000)
    ]
    nodes += [node(f"sick-{i}", ready="False") for i in range(47)]
    pods = [pod("shop", f"p{i}", f"node-{i % 2000:04d}") for i in range(6000)]
    prom = FakePrometheus(
        steal_avg={n.name: 1.0 for n in nodes}, steal_worst={n.name: 2.0 for n in nodes}
    )
    return report_for(FakeInventory(nodes=nodes, pods=pods), prom)


def test_json_follows_the_documented_schema_worst_first() -> None:
    report = report_for(FakeInventory(nodes=[node("ok"), node("sick", ready="False")]))
    data = json.loads(to_json(report))
    assert set(data) == {
        "cluster",
        "istio",
        "profile",
        "generated_at",
        "summary",
        "checks",
        "recommendation",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["generated_at"])
    assert set(data["summary"]) == {"pass", "warn", "fail", "unknown"}
    first = data["checks"][0]
    assert set(first) == {"id", "status", "subject", "message", "evidence", "fix"}
    assert first["status"] == "fail" and first["subject"] == {
        "kind": "Node",
        "name": "sick",
        "namespace": None,
    }
    order = [c["status"] for c in data["checks"]]
    rank = {"fail": 0, "warn": 1, "unknown": 2, "pass": 3}
    assert order == sorted(order, key=rank.__getitem__)
    assert data["recommendation"]["istio_operator"]["kind"] == "IstioOperator"
    assert sum(data["summary"].values()) == len(data["checks"])


def test_exit_status_is_one_only_when_a_check_fails() -> None:
    assert exit_status(report_for(FakeInventory(nodes=[node("sick", ready="False")]))) == 1
    assert exit_status(report_for(FakeInventory())) == 0  # unknown steal is not a failure


def test_text_lists_findings_worst_first_with_fixes_passes_folded_and_the_overlay() -> None:
    text = to_text(report_for(FakeInventory(nodes=[node("ok"), node("sick", ready="False")])))
    lines = text.splitlines()
    heads = [line for line in lines if line.startswith(("FAIL", "WARN", "UNKNOWN", "PASS"))]
    assert heads[0] == "FAIL node.conditions on node sick"
    first = lines.index(heads[0])
    assert lines[first + 2].startswith("  fix: fix or drain the node first")
    passes = " ".join(lines[lines.index(heads[-1]) :])
    assert heads[-1].startswith("PASS") and "node.conditions (1 node)" in passes
    assert "subjects" not in passes.split("Sizing")[0]
    assert "kind: IstioOperator" in text
    assert "…" not in text and max(len(line) for line in lines) <= 100


def test_identical_findings_on_many_nodes_are_one_finding_naming_a_few() -> None:
    nodes = [node(f"n-{i}") for i in range(1, 2001)]
    text = to_text(report_for(FakeInventory(nodes=nodes)))
    steal = [line for line in text.splitlines() if line.startswith("UNKNOWN node.steal")]
    assert steal == ["UNKNOWN node.steal on 2,000 nodes: n-1, n-10, n-100 … and 1,997 more"]
    findings = text.split("Sizing advice")[0].splitlines()
    assert len(findings) < 25, findings
    assert max(len(line) for line in text.splitlines()) <= 100


def test_a_cluster_without_nodes_is_unknown_for_every_node_check_never_ready() -> None:
    report = report_for(FakeInventory(nodes=[]))
    node_results = [c for c in report.checks if c.id.startswith("node.")]
    assert {c.id for c in node_results} >= {"node.steal", "node.conditions", "node.headroom"}
    assert {c.status for c in node_results} == {Status.UNKNOWN}
    assert report.verdict.startswith("not known to be ready")
    assert "Every check passed" not in json.dumps(summary(report).blocks)


def test_slack_summary_of_2000_nodes_groups_by_check_and_stays_within_limits() -> None:
    report = big_cluster()
    head = summary(report, top=10)
    assert validate_message(head.text, head.blocks, None).ok
    body = "\n".join(b["text"]["text"] for b in head.blocks if b["type"] == "section")
    assert "*node.conditions* — 47 fail" in body and "and 37 more" in body
    assert body.index("node.conditions") < body.index("node.cpu-flags")  # failing first
    assert len(body) < 3000
    thread = details(report, top=10)
    assert 3 <= len(thread) <= 12
    for message in thread:
        assert validate_message(message.text, message.blocks, None).ok, message.text
    assert any("and 37 more" in json.dumps(m.blocks) for m in thread)
