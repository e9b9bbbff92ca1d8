"""The regression corpus: many VirtualService shapes (match blocks, delegates, gateways,
mirror, redirect, directResponse, fault, weighted routes, TCP/TLS, external hosts),
each with exactly the findings Istio's semantics imply, in all three API versions. A
rule change that breaks one of them fails here, naming the case."""

from __future__ import annotations

import pytest

from tests.unit.timeouts.corpus_runner import VERSIONS, Case, cases, route_rows, run

CASES = cases()


def _ids(case: Case) -> str:
    return case.name


def test_the_corpus_is_large_enough_to_mean_something() -> None:
    assert len(CASES) >= 40
    kinds = {o.get("kind") for c in CASES for o in c.objects}
    assert {"VirtualService", "Gateway", "ServiceEntry"} <= kinds
    versions = {o.get("apiVersion") for c in CASES for o in c.objects}
    assert {f"networking.istio.io/{v}" for v in VERSIONS} <= versions


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_findings_are_what_istio_semantics_imply(case: Case, version: str) -> None:
    report = run(case, version)
    found = sorted((f.rule, f.severity.value, f.subject) for f in report.findings)
    wanted = sorted(
        (e["rule"], e["severity"], e["subject"]) for e in case.expect.get("findings") or []
    )
    assert found == wanted, f"{case.name}: {case.raw.get('description', '')}"
    for expected in case.expect.get("findings") or []:
        finding = next(
            f
            for f in report.findings
            if (f.rule, f.severity.value, f.subject)
            == (expected["rule"], expected["severity"], expected["subject"])
        )
        assert expected.get("message", "") in finding.message, finding.message
        assert expected.get("fix", "") in finding.fix, finding.fix
        evidence = "\n".join(finding.evidence)
        assert expected.get("evidence", "") in evidence, evidence
    for finding in report.findings:
        assert finding.fix, f"{finding.rule} has no fix line"
    for note in case.expect.get("notes") or []:
        assert any(note in n for n in report.notes), (note, report.notes)


@pytest.mark.parametrize("case", [c for c in CASES if "routes" in c.expect], ids=_ids)
def test_routes_are_the_ones_envoy_gets(case: Case) -> None:
    rows = route_rows(case)
    wanted = case.expect["routes"]
    assert [r["subject"] for r in rows] == [w["subject"] for w in wanted]
    for row, want in zip(rows, wanted, strict=True):
        for key, value in want.items():
            assert row[key] == value, (row["subject"], key, row[key], value)
