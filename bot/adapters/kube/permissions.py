"""Every Kubernetes API call meshbot makes, by capability, with why: the source of its RBAC.

The Helm chart's ClusterRoles are rendered from this list (``python -m
bot.adapters.kube.permissions --write helm/meshbot/files/rbac``), and tests hold both
ends to it: the chart's files must equal what this module renders, and every README
command run with the chart's ServiceAccount token against an API server that enforces
RBAC must meet no 403 while using every rule granted here. So a new API call cannot
ship without its rule, and a rule nobody uses cannot linger.

RBAC limits kinds and verbs, not fields: that the change pipeline only touches the
fields a change names (``spec.mtls.mode``, a route's ``timeout``/``retries``) is the
pipeline's guarantee (its diff is shown and approved), not the role's.

``install`` (the staged Istio install) is another matter: Helm installing Istio's base,
istiod and gateway charts creates CRDs, webhooks and ClusterRoles, so the role must hold
``escalate`` and ``bind`` on roles — as good as cluster-admin. It is rendered apart and
granted only with the chart's ``rbac.install: true``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

READ = ("get", "list", "watch")
HELM = ("get", "list", "watch", "create", "update", "patch", "delete")
ISTIO_SECURITY = "security.istio.io"
ISTIO_NETWORKING = "networking.istio.io"
ADMISSION = "admissionregistration.k8s.io"
RBAC_GROUP = "rbac.authorization.k8s.io"


@dataclass(frozen=True)
class ApiCall:
    """Verbs on resources of one API group, the code that makes the call, and why."""

    capability: str
    group: str
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    used_by: str
    why: str
    # granted to every authenticated user by the cluster's default roles
    # (system:basic-user, system:discovery): documented here, never rendered
    default_role: bool = False


# fmt: off
CALLS: tuple[ApiCall, ...] = (
    # -- status, discovery ---------------------------------------------------------------
    ApiCall("status", "", ("/version",), ("get",), "KubeCluster.server_version",
            "`status` and preflight read the server version", default_role=True),
    ApiCall("mtls, timeouts", "", ("/apis/*",), ("get",),
            "ObjectsMixin.served_versions; virtual_service_api_version",
            "which security.istio.io / networking.istio.io versions are served",
            default_role=True),
    # -- preflight ---------------------------------------------------------------------
    ApiCall("preflight", "", ("nodes",), ("list",), "InventoryMixin.list_nodes",
            "CPU flags, kernel, runtime, architecture, allocatable, conditions of every node"),
    ApiCall("preflight", "", ("pods",), ("list",),
            "InventoryMixin.list_pods; VirtualServicesMixin.app_timeout_annotations; "
            "WatchReadsMixin.meshed_pods_on_node; list_objects (mtls status)",
            "preflight sizes proxies and checks workloads; mtls status counts sidecars; "
            "timeouts reads app-timeout annotations of bare pods; steal alerts list the "
            "node's meshed pods"),
    ApiCall("preflight", "", ("namespaces",), ("list",),
            "InventoryMixin.list_namespaces; list_objects (mtls status)",
            "injection labels (preflight) and the namespaces mtls status reports on"),
    ApiCall("preflight", "", ("services",), ("list",),
            "InventoryMixin.list_services; VirtualServicesMixin.service_records",
            "Service ports without a protocol (preflight); which workloads a host selects "
            "(timeouts)"),
    ApiCall("preflight", "authorization.k8s.io", ("selfsubjectaccessreviews",), ("create",),
            "InventoryMixin.review_access",
            "install permissions, asked the way istioctl x precheck asks", default_role=True),
    ApiCall("preflight", "apps", ("deployments",), ("list",),
            "InventoryMixin.istio_control_plane; VirtualServicesMixin.app_timeout_annotations;"
            " list_objects (timeouts gateways)",
            "an existing istiod (preflight); app-timeout annotations and gateway workloads "
            "(timeouts)"),
    ApiCall("preflight", ADMISSION,
            ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"), ("list",),
            "InventoryMixin.istio_control_plane",
            "Istio webhooks left behind by an earlier install"),
    ApiCall("preflight", "apiextensions.k8s.io", ("customresourcedefinitions",), ("get",),
            "InventoryMixin.crd_served_versions", "Gateway API CRD versions"),
    # -- mtls ----------------------------------------------------------------------------
    ApiCall("mtls", ISTIO_SECURITY, ("peerauthentications",),
            ("get", "list", "create", "update", "delete"),
            "list_objects (mtls status); get_object, create_object, replace_object, "
            "delete_object (change pipeline: apply, dry run, rollback)",
            "effective mTLS mode; `mtls strict|permissive` writes the PeerAuthentication, "
            "rollback restores or deletes it (each write dry-run first)"),
    # -- timeouts ------------------------------------------------------------------------
    ApiCall("timeouts", ISTIO_NETWORKING, ("virtualservices",),
            ("get", "list", "create", "update", "delete"),
            "VirtualServicesMixin.list_virtual_services; get_object, create_object, "
            "replace_object, delete_object (change pipeline)",
            "the audit reads routes; `timeouts set|fix` patches a route or adds a "
            "VirtualService, rollback restores or deletes it (each write dry-run first)"),
    ApiCall("timeouts", ISTIO_NETWORKING, ("serviceentries", "gateways"), ("list",),
            "list_objects (timeouts audit)",
            "ServiceEntry hosts are real destinations; gateway-bound routes are judged apart"),
    ApiCall("timeouts", "apps", ("statefulsets", "daemonsets"), ("list",),
            "VirtualServicesMixin.app_timeout_annotations; list_objects (timeouts gateways)",
            "app-timeout annotations (StatefulSets); gateway workloads (DaemonSets)"),
)

# The staged Istio install (rbac.install): what Helm needs to install, upgrade and
# uninstall Istio's base, istiod and gateway charts with its default Secret storage and
# wait, plus moving namespaces between revisions and restarting their workloads.
INSTALL_CALLS: tuple[ApiCall, ...] = (
    ApiCall("install", "apiextensions.k8s.io", ("customresourcedefinitions",), HELM,
            "Helm (base chart)", "Istio's CRDs"),
    ApiCall("install", ADMISSION,
            ("mutatingwebhookconfigurations", "validatingwebhookconfigurations",
             "validatingadmissionpolicies", "validatingadmissionpolicybindings"), HELM,
            "Helm (base, istiod)", "sidecar injector and config validation"),
    ApiCall("install", RBAC_GROUP,
            ("clusterroles", "clusterrolebindings", "roles", "rolebindings"), HELM,
            "Helm (istiod, gateway)", "istiod's and the gateways' own roles"),
    ApiCall("install", RBAC_GROUP, ("clusterroles", "roles"), ("bind", "escalate"),
            "Helm (istiod, gateway)",
            "istiod's roles grant more than meshbot holds: creating them needs escalate/bind"),
    ApiCall("install", "",
            ("serviceaccounts", "configmaps", "services", "secrets"), HELM,
            "Helm (all charts)",
            "the charts' objects; Secrets are Helm's release records (default storage)"),
    ApiCall("install", "", ("namespaces",), HELM, "Helm create_namespace; revision relabel",
            "istio-system / gateway namespaces; istio.io/rev labels when a namespace moves"),
    ApiCall("install", "", ("pods",), ("get", "list", "watch"), "Helm wait (kstatus)",
            "readiness of the new control plane"),
    ApiCall("install", "apps", ("deployments", "daemonsets", "statefulsets"), HELM,
            "Helm (istiod, gateway); rollout restart",
            "istiod and gateways; restarting a namespace's workloads onto a new revision"),
    ApiCall("install", "apps", ("replicasets",), READ, "Helm wait (kstatus)",
            "a Deployment's rollout progress"),
    ApiCall("install", "autoscaling", ("horizontalpodautoscalers",), HELM, "Helm",
            "istiod and gateway autoscaling"),
    ApiCall("install", "policy", ("poddisruptionbudgets",), HELM, "Helm",
            "istiod and gateway disruption budgets"),
    ApiCall("install", "networking.k8s.io", ("networkpolicies",), HELM, "Helm",
            "global.networkPolicy.enabled"),
    ApiCall("install", "discovery.k8s.io", ("endpointslices",), HELM, "Helm",
            "remote istiod endpoints"),
)
# fmt: on


# Adapter methods no command calls, so nothing is granted for them: a command that starts
# calling one needs its rule above (the least-privilege test then shows the 403 otherwise).
NOT_GRANTED = {
    "patch_object": "no change is written as a patch: the pipeline replaces whole objects "
    "with resourceVersion preconditions",
}


def rules(calls: tuple[ApiCall, ...]) -> list[dict[str, Any]]:
    """ClusterRole rules for ``calls`` (default-role calls left out), merged and sorted:
    one rule per API group and verb set."""
    verbs_of: dict[tuple[str, str], set[str]] = {}
    for call in calls:
        if call.default_role:
            continue
        for resource in call.resources:
            verbs_of.setdefault((call.group, resource), set()).update(call.verbs)
    grouped: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for (group, resource), verbs in verbs_of.items():
        grouped.setdefault((group, tuple(sorted(verbs))), []).append(resource)
    return [
        {"apiGroups": [group], "resources": sorted(resources), "verbs": list(verbs)}
        for (group, verbs), resources in sorted(grouped.items())
    ]


def granted(calls: tuple[ApiCall, ...]) -> set[tuple[str, str, str]]:
    """Every (verb, group, resource) the rendered rules grant."""
    return {
        (verb, rule["apiGroups"][0], resource)
        for rule in rules(calls)
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


FILES = {"meshbot.yaml": CALLS, "install.yaml": INSTALL_CALLS}
HEADER = (
    "# Generated by `python -m bot.adapters.kube.permissions --write helm/meshbot/files/rbac`\n"
    "# from bot/adapters/kube/permissions.py. Do not edit: change the list there.\n"
)


def render(calls: tuple[ApiCall, ...]) -> str:
    return HEADER + yaml.safe_dump(rules(calls), sort_keys=False, default_flow_style=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="DIR", help="write the chart's rule files here")
    options = parser.parse_args(argv)
    if options.write is None:
        for name, calls in FILES.items():
            print(f"# {name}\n{render(calls)}")
        return 0
    out = Path(options.write)
    out.mkdir(parents=True, exist_ok=True)
    for name, calls in FILES.items():
        (out / name).write_text(render(calls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
