"""Every command of the README's command table, run against a cluster, checked as a user.

Shared by the least-privilege tests: run with the ServiceAccount token of meshbot's
ClusterRole (loaded straight from bot.adapters.kube.permissions, or installed by Helm
from the chart), every command must work, every change must really reach the cluster
and come back on rollback, and the API server's RBAC decisions must show no refusal
and every granted rule used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.adapters.kube import permissions
from bot.app.config import load_settings
from bot.app.runtime import build_runtime
from bot.core.dispatch import outcome_of, run_command
from bot.sandbox.kube import KubeTestServer
from commands.changes.model import ActionOutcome, ChangeActed, ChangeProposed
from commands.core.model import Caller, Failure, Result, Role, StatusReport
from commands.mtls.model import MtlsStatus
from commands.preflight.model import PreflightReport
from commands.timeouts.model import TimeoutAudit

TIMEOUTS_SEED = Path(__file__).resolve().parents[3] / "bot" / "sandbox" / "seeds" / "timeouts.yaml"
# what the audit's gateway hop and the app-timeout reads look at, beside the seed
EXTRA = """
apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istio-ingressgateway, namespace: istio-system, labels: {app: istio-ingressgateway}}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  template:
    metadata: {labels: {istio: ingressgateway, app: istio-ingressgateway}}
    spec: {containers: [{name: istio-proxy, image: docker.io/istio/proxyv2:1.30.3}]}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: stripe, namespace: payments}
spec: {hosts: [api.stripe.com], ports: [{number: 443, name: https, protocol: TLS}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: ledger, namespace: payments, annotations: {meshbot.io/app-timeout: 4s}}
spec:
  serviceName: ledger
  selector: {matchLabels: {app: ledger}}
  template:
    metadata: {labels: {app: ledger}}
    spec: {containers: [{name: ledger, image: registry.example.com/ledger:1}]}
---
apiVersion: v1
kind: Node
metadata: {name: node-a, labels: {kubernetes.io/arch: amd64, kubernetes.io/os: linux}}
status:
  allocatable: {cpu: "4", memory: 16Gi}
  conditions: [{type: Ready, status: "True"}]
  nodeInfo: {kubeletVersion: v1.33.2, kernelVersion: 6.1.0, architecture: amd64}
---
apiVersion: v1
kind: Pod
metadata: {name: checkout-1, namespace: shop, labels: {app: checkout}}
spec:
  nodeName: node-a
  containers:
  - {name: checkout, image: registry.example.com/shop/checkout:3.1.0}
  - {name: istio-proxy, image: docker.io/istio/proxyv2:1.30.3}
status: {phase: Running}
"""
ALICE = Caller("U_ALICE", Role.OPERATOR)  # proposes
BOB = Caller("U_BOB", Role.APPROVER)  # approves: never one's own change


def seed(server: KubeTestServer) -> None:
    """The timeouts seed and a little more (needs Istio's CRDs loaded)."""
    server.load_seed(TIMEOUTS_SEED)
    server.load_seed(EXTRA)


def config_text(kubeconfig: Path, prometheus_url: str, key_prefix: str) -> str:
    return (
        f"redis: {{key_prefix: {key_prefix}}}\n"
        "clusters:\n"
        f"  mesh: {{kubeconfig: {kubeconfig}, "
        f'prometheus: {{url: "{prometheus_url}"}}}}\n'
        "timeouts: {window: 1m}\n"
        "access: {operators: [U_ALICE], approvers: [U_BOB]}\n"
    )


@dataclass
class Run:
    """What the command table did: each command's text and result."""

    results: list[tuple[str, Result]] = field(default_factory=list)

    def add(self, text: str, result: Result) -> Result:
        self.results.append((text, result))
        return result


def run_all(config: Path, redis_url: str, server: KubeTestServer) -> Run:
    """Every README command; asserts what a user would see at each step."""
    settings = load_settings(config, env={"REDIS_URL": redis_url})
    run = Run()
    with build_runtime(settings) as runtime:

        def do(text: str, caller: Caller = ALICE) -> Any:
            result = run.add(text, run_command(runtime, text, caller))
            assert outcome_of(result) == "ok", (text, result)
            return result

        do("help")
        do("help mtls strict")
        do("version")
        status = do("status")
        assert isinstance(status, StatusReport)
        assert "unreachable" not in str(status), status

        report = do("preflight istio=1.30")
        assert isinstance(report, PreflightReport)
        unknown = [c for c in report.checks if c.status.value == "unknown" and "403" in c.message]
        assert not unknown, unknown
        assert any(c.id == "cluster.install-permissions" for c in report.checks)

        mtls = do("mtls status namespace=all")
        assert isinstance(mtls, MtlsStatus)

        # mtls strict → approve (applies: the PeerAuthentication is created) → rollback
        proposed = do("mtls strict namespace=shop")
        assert isinstance(proposed, ChangeProposed)
        change = proposed.change.id
        do(f"change {change}")
        do("history")
        approved = do(f'change approve {change} override="least-privilege proof"', BOB)
        assert isinstance(approved, ChangeActed) and approved.outcome is ActionOutcome.DONE
        assert _mode(server) == "STRICT", approved.message
        rejected = do("mtls permissive namespace=shop")
        assert isinstance(rejected, ChangeProposed)
        acted = do(f"change reject {rejected.change.id} reason=proof")
        assert isinstance(acted, ChangeActed) and acted.outcome is ActionOutcome.DONE
        assert _mode(server) == "STRICT"
        rolled = do(f'change rollback {change} reason="proof"')
        assert isinstance(rolled, ChangeActed) and rolled.outcome is ActionOutcome.DONE
        assert _mode(server) is None, rolled.message

        audit = do("timeouts audit")
        assert isinstance(audit, TimeoutAudit) and audit.edges > 0, audit
        assert not [n for n in audit.notes if "could not read" in n], audit.notes

        # a route with a VirtualService: replaced, then replaced back
        fixable = next(
            f
            for f in audit.findings
            if f.run and f.run.startswith("timeouts fix") and f.subject.startswith("payments/")
        )
        fix = do(fixable.run)
        assert isinstance(fix, ChangeProposed)
        before = _vs(server, "payments", "payments")
        done = do(f'change approve {fix.change.id} override="proof"', BOB)
        assert isinstance(done, ChangeActed) and done.outcome is ActionOutcome.DONE, done
        assert _vs(server, "payments", "payments") != before
        do(f"change rollback {fix.change.id}")
        assert _vs(server, "payments", "payments")["spec"] == before["spec"]  # type: ignore[index]

        # a host without one: a VirtualService created, then deleted on rollback
        created = do(
            "timeouts set service=checkout.shop.svc.cluster.local timeout=5s retries=1 "
            "per-try=2s force=true"
        )
        assert isinstance(created, ChangeProposed)
        made = do(f'change approve {created.change.id} override="proof"', BOB)
        assert isinstance(made, ChangeActed) and made.outcome is ActionOutcome.DONE, made
        new = [r for r in created.change.objects]
        assert server.get_object(new[0].ref.api_version, "virtualservices", new[0].ref.name, "shop")
        do(f"change rollback {created.change.id}")
        assert not server.get_object(
            new[0].ref.api_version, "virtualservices", new[0].ref.name, "shop"
        )

        do("watch status")
    return run


def _mode(server: KubeTestServer) -> str | None:
    obj = server.get_object("security.istio.io/v1", "peerauthentications", "default", "shop")
    return None if obj is None else obj["spec"]["mtls"]["mode"]


def _vs(server: KubeTestServer, name: str, namespace: str) -> dict[str, Any] | None:
    return server.get_object("networking.istio.io/v1", "virtualservices", name, namespace)


def assert_least_privilege(server: KubeTestServer, user: str) -> None:
    """No request of ``user`` was refused, and every rule meshbot's role grants was used."""
    decisions = [d for d in server.rbac.decisions if d.user == user and not d.review]
    assert decisions, f"no request was made as {user}"
    refused = sorted({_label(d.attributes) for d in decisions if not d.allowed})
    assert not refused, f"refused under meshbot's role: {refused}"
    used = {
        (d.attributes.verb, d.attributes.group, d.attributes.resource)
        for d in decisions
        if d.allowed and d.attributes.is_resource
    }
    unused = sorted(permissions.granted(permissions.CALLS) - used)
    assert not unused, f"granted but never used by any README command: {unused}"


def _label(a: Any) -> str:
    if not a.is_resource:
        return f"{a.verb} {a.path}"
    where = f" in {a.namespace}" if a.namespace else ""
    group = f".{a.group}" if a.group else ""
    return f"{a.verb} {a.resource}{group}{where}"


__all__ = ["ALICE", "BOB", "Failure", "Run", "assert_least_privilege", "run_all", "seed"]
