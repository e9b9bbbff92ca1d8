"""The regression corpus on a real API: each case's objects created in the Kubernetes
test server serving Istio 1.30's CRDs (so every shape is one Istio's schema accepts),
then `meshbot timeouts audit --output json` through the official client. The findings
must be exactly the ones Istio's semantics imply (the corpus' expectations): none that
delegation, gateway binding, redirect/directResponse or host resolution contradicts.

Cases that need live traffic run on fakes only (tests/unit/timeouts/test_corpus.py), as
do cases that rely on creation order (the server stamps its own creationTimestamp) and
the few shapes only a cluster without Istio's validation holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.app.cli import main
from bot.sandbox.kube import KubeTestServer
from tests.unit.timeouts.corpus_runner import Case, cases

ON_A_CLUSTER = [
    c
    for c in cases()
    if c.kube_valid
    and not {"edges", "apps", "p99"} & set(c.raw)
    and not any("creationTimestamp" in (o.get("metadata") or {}) for o in c.objects)
]


def services_of(case: Case) -> list[dict[str, Any]]:
    found = []
    for short in case.raw.get("services") or []:
        name, namespace = short.split(".")
        found.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 8080}]},
            }
        )
    return found


@pytest.fixture
def audit_json(
    kube_server_with_istio: KubeTestServer,
    kubeconfig: Path,
    tmp_path: Path,
    clean_redis: str,
    key_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Any:
    config = tmp_path / "meshbot.yaml"
    config.write_text(
        f"redis: {{key_prefix: {key_prefix}}}\n"
        f"clusters:\n  prod: {{kubeconfig: {kubeconfig}, context: sandbox}}\n"
    )
    monkeypatch.setenv("REDIS_URL", clean_redis)

    def run(case: Case) -> tuple[int, dict[str, Any]]:
        kube_server_with_istio.load_objects([*services_of(case), *case.objects])
        code = main(["timeouts", "audit", "--output", "json", "--config", str(config)])
        return code, json.loads(capsys.readouterr().out)

    return run


def test_most_of_the_corpus_runs_on_the_cluster() -> None:
    assert len(ON_A_CLUSTER) >= 30
    kinds = {o["kind"] for c in ON_A_CLUSTER for o in c.objects}
    assert {"VirtualService", "Gateway", "ServiceEntry"} <= kinds
    delegates = [
        o
        for c in ON_A_CLUSTER
        for o in c.objects
        if o["kind"] == "VirtualService" and not o["spec"].get("hosts")
    ]
    assert len(delegates) >= 8


@pytest.mark.parametrize("case", ON_A_CLUSTER, ids=lambda c: c.name)
def test_audit_json_on_the_cluster_gives_exactly_the_implied_findings(
    case: Case, audit_json: Any
) -> None:
    code, report = audit_json(case)
    found = sorted((f["rule"], f["severity"], f["subject"]) for f in report["findings"])
    wanted = sorted(
        (e["rule"], e["severity"], e["subject"]) for e in case.expect.get("findings") or []
    )
    assert found == wanted, f"{case.name}: {case.raw.get('description', '')}"
    assert code == (1 if any(s == "error" for _, s, _ in wanted) else 0)
    assert all(f["fix"] for f in report["findings"])
    for note in case.expect.get("notes") or []:
        assert any(note in n for n in report["notes"]), (note, report["notes"])
