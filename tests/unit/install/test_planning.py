"""Planning a staged install: values floors, wave order, explicit waves, refusals."""

from __future__ import annotations

from commands.changes.model import Gate, GateStatus
from commands.core.model import Caller, Failure, Role, UsageError
from commands.install.model import (
    KIND_CONTROL_PLANE,
    KIND_PROMOTE,
    KIND_RETIRE,
    KIND_WAVE,
    InstallView,
)
from commands.install.planning import MeshedNamespace, parse_waves, waves_for
from commands.install.values import istiod_values
from tests.unit.install.fakes import deployment, install_bed

ALICE = Caller("U_ALICE", Role.OPERATOR)


def test_values_never_go_below_the_floors_and_keep_bigger_sizing() -> None:
    small = {
        "spec": {
            "components": {
                "pilot": {
                    "k8s": {
                        "resources": {
                            "requests": {"cpu": "100m", "memory": "2Gi"},
                            "limits": {"cpu": "2", "memory": "512Mi"},
                        },
                        "hpaSpec": {"minReplicas": 1},
                    }
                }
            },
            "values": {"global": {"proxy": {"resources": {"requests": {"cpu": "10m"}}}}},
            "meshConfig": {"defaultConfig": {"concurrency": 2}},
        }
    }
    values = istiod_values(small, revision="1-30-3")
    assert values["revision"] == "1-30-3"
    assert values["pilot"]["resources"] == {
        "requests": {"cpu": "200m", "memory": "2Gi"},
        "limits": {"cpu": "2000m", "memory": "1Gi"},
    }
    assert values["pilot"]["autoscaleMin"] == 2
    assert values["global"]["proxy"]["resources"] == {
        "requests": {"cpu": "50m", "memory": "64Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi"},
    }
    assert values["meshConfig"]["defaultConfig"]["concurrency"] == 2
    empty = istiod_values({}, revision="r")
    assert empty["pilot"]["resources"]["limits"] == {"cpu": "1000m", "memory": "1Gi"}


def test_default_waves_go_lowest_traffic_first_then_fewest_pods() -> None:
    meshed = [
        MeshedNamespace("busy", 1, 100.0),
        MeshedNamespace("idle-big", 9, 0.0),
        MeshedNamespace("idle-small", 1, 0.0),
        MeshedNamespace("mid", 2, 5.0),
    ]
    waves = waves_for(meshed, [m.name for m in meshed], 2, None)
    assert not isinstance(waves, UsageError)
    assert [[m.name for m in w] for w in waves] == [["idle-small", "idle-big"], ["mid", "busy"]]


def test_explicit_and_labelled_waves_come_first_and_unknown_names_are_refused() -> None:
    meshed = [
        MeshedNamespace("a", 1, 1.0),
        MeshedNamespace("b", 1, 0.0, wave_label=1),
        MeshedNamespace("c", 1, 0.0),
    ]
    waves = waves_for(meshed, ["a", "b", "c", "d"], 5, (("d", "a"),))
    assert not isinstance(waves, UsageError)
    assert [[m.name for m in w] for w in waves] == [["d", "a"], ["b"], ["c"]]
    refused = waves_for(meshed, ["a"], 5, (("nope",),))
    assert isinstance(refused, UsageError) and "`nope`" in refused.problem
    assert parse_waves("a,b/c") == parse_waves("a,b;c") == (("a", "b"), ("c",))
    assert isinstance(parse_waves("a;a"), UsageError)
    assert isinstance(parse_waves(";"), UsageError)
    assert isinstance(parse_waves("Bad_Name"), UsageError)


def test_plan_lists_every_stage_with_waves_by_risk() -> None:
    bed = install_bed()
    result = bed.registry.dispatch("install plan version=1.30.3", ALICE, bed.services)
    assert isinstance(result, InstallView), result
    plan = result.plan
    assert plan.revision == "1-30-3" and plan.old_revision == "default"
    assert plan.old_version == "1.29.6" and plan.old_release == "istiod"
    kinds = [s.kind for s in plan.stages]
    assert kinds == [KIND_CONTROL_PLANE, KIND_WAVE, KIND_WAVE, KIND_PROMOTE, KIND_RETIRE]
    assert [s.namespaces for s in plan.stages[1:3]] == [("quiet", "cart"), ("shop", "pay")]
    assert plan.stages[1].pods == 3 and plan.stages[1].rps is not None
    assert plan.base_needed  # no Istio CRD in the fake cluster
    assert result.current == 0
    assert [s.state.value for s in result.stages] == ["pending"] * 5
    assert bed.preflight.runs == ["1.30.3"]


def test_gateways_get_their_own_stage() -> None:
    bed = install_bed()
    gw = deployment(
        "istio-ingress", "istio-ingressgateway", {"app": "gw", "istio": "ingressgateway"}
    )
    bed.cluster.add(gw, "deployments")
    result = bed.registry.dispatch("install plan version=1.30.3", ALICE, bed.services)
    assert isinstance(result, InstallView)
    assert result.plan.stages[1].workloads == ("istio-ingress/istio-ingressgateway",)


def test_bad_input_and_missing_helm_are_said_plainly() -> None:
    bed = install_bed()
    bad = bed.registry.dispatch("install plan version=latest", ALICE, bed.services)
    assert isinstance(bad, UsageError) and "1.30.3" in bad.problem and "install plan" in bad.usage
    unknown = bed.registry.dispatch("install plan version=1.31.0", ALICE, bed.services)
    assert isinstance(unknown, UsageError) and "1.29.6" in unknown.problem
    waves = bed.registry.dispatch("install plan version=1.30.3 waves=nope", ALICE, bed.services)
    assert isinstance(waves, UsageError) and "nope" in waves.problem
    no_helm = install_bed(helm_available=False)
    said = no_helm.registry.dispatch("install plan version=1.30.3", ALICE, no_helm.services)
    assert isinstance(said, Failure) and "meshbot[install]" in said.message


def test_failed_preflight_is_a_gate_on_the_plan() -> None:
    bed = install_bed()
    bed.preflight.gates = (Gate("node capacity", GateStatus.FAIL, "node-2 has no room"),)
    result = bed.registry.dispatch("install plan version=1.30.3", ALICE, bed.services)
    assert isinstance(result, InstallView)
    assert result.plan.preflight_failed and "override" in result.headline
