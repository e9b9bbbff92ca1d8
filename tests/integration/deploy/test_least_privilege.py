"""meshbot's ClusterRole is enough for every README command, and no more than that.

The role is built from bot.adapters.kube.permissions (the list the Helm chart renders),
bound to a ServiceAccount in the test server, and meshbot runs with that account's
token over HTTPS while the server enforces RBAC. Every command works; no request is
refused; every granted rule is used by some command. So a new API call cannot ship
without its rule, and a rule no command needs cannot stay. (The Helm-installed chart
gets the same check in test_chart_helm.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.adapters.kube import permissions
from bot.app.config import load_settings
from bot.app.runtime import build_runtime
from bot.core.dispatch import run_command
from bot.sandbox.kube import KubeTestServer
from commands.core.model import Caller, Role
from commands.preflight.model import PreflightReport, Status
from tests.fixtures.prometheus import LivePrometheus
from tests.fixtures.seeds import MESHBOT_ACCOUNT
from tests.integration.deploy.readme_commands import (
    assert_least_privilege,
    config_text,
    run_all,
    seed,
)

USER = "system:serviceaccount:meshbot:meshbot"


@pytest.mark.scenario("timeouts-three-hop")
def test_every_readme_command_works_under_meshbots_role_and_uses_all_of_it(
    kube_server_with_istio: KubeTestServer,
    prometheus: LivePrometheus,
    clean_redis: str,
    key_prefix: str,
    tmp_path: Path,
) -> None:
    server = kube_server_with_istio
    seed(server)
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "meshbot"},
        "rules": permissions.rules(permissions.CALLS),
    }
    server.load_seed(MESHBOT_ACCOUNT + "---\n" + yaml.safe_dump(role))
    token = server.create_token("meshbot", "meshbot")
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", token=token)
    config = tmp_path / "meshbot.yaml"
    config.write_text(config_text(kubeconfig, prometheus.url, key_prefix))
    prometheus.wait_scraped_for(3)

    run_all(config, clean_redis, server)

    assert_least_privilege(server, USER)
    ssl_requests = [r for r in server.requests if r.user == USER]
    assert len(ssl_requests) > 20


def test_a_rule_taken_away_shows_up_as_a_refusal(
    kube_server_with_istio: KubeTestServer, tmp_path: Path, clean_redis: str, key_prefix: str
) -> None:
    """The check above would catch a missing rule: without `list nodes`, preflight's node
    read is refused, the user is told to grant the chart's ClusterRole, and the server's
    decisions name the refusal."""
    from bot.adapters.kube import KubeCluster
    from commands.preflight.model import InventoryForbidden

    server = kube_server_with_istio
    rules = [dict(r) for r in permissions.rules(permissions.CALLS)]
    core = next(r for r in rules if r["apiGroups"] == [""] and "nodes" in r["resources"])
    core["resources"] = [r for r in core["resources"] if r != "nodes"]
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "meshbot"},
        "rules": rules,
    }
    server.load_seed(MESHBOT_ACCOUNT + "---\n" + yaml.safe_dump(role))
    kubeconfig = server.write_kubeconfig(
        tmp_path / "kc", token=server.create_token("meshbot", "meshbot")
    )
    cluster = KubeCluster("mesh", kubeconfig=str(kubeconfig))
    try:
        assert cluster.list_namespaces()
        with pytest.raises(InventoryForbidden, match="403"):
            cluster.list_nodes()
    finally:
        cluster.close()
    config = tmp_path / "meshbot.yaml"
    config.write_text(
        f"redis: {{key_prefix: {key_prefix}}}\nclusters: {{mesh: {{kubeconfig: {kubeconfig}}}}}\n"
    )
    settings = load_settings(config, env={"REDIS_URL": clean_redis})
    with build_runtime(settings) as runtime:
        report = run_command(runtime, "preflight", Caller("U_ALICE", Role.VIEWER))
    assert isinstance(report, PreflightReport)
    refused = [c for c in report.checks if c.status is Status.UNKNOWN and "403" in c.message]
    assert refused, report.checks
    assert refused[0].fix == (
        "grant the ClusterRole from the Helm chart (helm/meshbot, values `rbac.create`), "
        "see README 'Install in a cluster'"
    )
    with pytest.raises(AssertionError, match="list nodes"):
        assert_least_privilege(server, USER)
