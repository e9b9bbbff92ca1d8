"""The chart's generated parts match their sources in the code, and the config schema in
values.schema.json is the one meshbot validates with (no Helm needed)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import jsonschema
import yaml

from bot.adapters.kube import KubeCluster, permissions
from bot.app import chart_schema
from bot.app.config import FileConfig

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "helm" / "meshbot"


def test_the_charts_rbac_files_are_rendered_from_the_list_of_api_calls() -> None:
    for name, calls in permissions.FILES.items():
        on_disk = (CHART / "files" / "rbac" / name).read_text()
        assert on_disk == permissions.render(calls), (
            f"helm/meshbot/files/rbac/{name} is stale: run "
            "`python -m bot.adapters.kube.permissions --write helm/meshbot/files/rbac`"
        )


def test_every_adapter_method_that_calls_the_api_is_in_the_list() -> None:
    named = " ".join(c.used_by for c in permissions.CALLS)
    public = {
        name
        for name, member in inspect.getmembers(KubeCluster, inspect.isfunction)
        if not name.startswith("_") and name != "close"
    }
    assert public, "no adapter methods found"
    missing = sorted(m for m in public - set(permissions.NOT_GRANTED) if m not in named)
    assert not missing, f"adapter methods with no entry in permissions.CALLS: {missing}"


def test_install_rules_cover_every_kind_istios_charts_create() -> None:
    kinds = {
        ("apiextensions.k8s.io", "customresourcedefinitions"),
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
        ("admissionregistration.k8s.io", "validatingadmissionpolicies"),
        ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("rbac.authorization.k8s.io", "clusterrolebindings"),
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "rolebindings"),
        ("", "serviceaccounts"),
        ("", "configmaps"),
        ("", "services"),
        ("", "secrets"),
        ("", "namespaces"),
        ("apps", "deployments"),
        ("apps", "daemonsets"),
        ("autoscaling", "horizontalpodautoscalers"),
        ("policy", "poddisruptionbudgets"),
        ("networking.k8s.io", "networkpolicies"),
        ("discovery.k8s.io", "endpointslices"),
    }
    granted = permissions.granted(permissions.INSTALL_CALLS)
    for group, resource in kinds:
        for verb in ("create", "get", "patch", "delete"):
            assert (verb, group, resource) in granted, (verb, group, resource)
    # namespace relabel and workload restarts
    assert ("patch", "", "namespaces") in granted
    assert ("patch", "apps", "statefulsets") in granted
    # and none of it in meshbot's own role
    assert not any(
        v in {"patch", "create"} and g == "apps"
        for v, g, _ in permissions.granted(permissions.CALLS)
    )


def test_values_schema_carries_meshbots_config_schema() -> None:
    on_disk = (CHART / "values.schema.json").read_text()
    assert on_disk == chart_schema.render(CHART / "values.schema.json"), (
        "helm/meshbot/values.schema.json is stale: run `python -m bot.app.chart_schema --write`"
    )
    schema = json.loads(on_disk)
    validator = jsonschema.Draft202012Validator(schema)
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    assert list(validator.iter_errors(defaults)) == []
    example = yaml.safe_load((ROOT / "manifests" / "meshbot.example.yaml").read_text())
    FileConfig.model_validate(example)  # meshbot accepts it …
    assert list(validator.iter_errors({**defaults, "config": example})) == []  # … and so does Helm
    typo = {**defaults, "config": {"clusters": {"prod": {"in_clsuter": True}}}}
    errors = [(list(e.absolute_path), e.message) for e in validator.iter_errors(typo)]
    assert errors == [
        (
            ["config", "clusters", "prod"],
            "Additional properties are not allowed ('in_clsuter' was unexpected)",
        )
    ]
