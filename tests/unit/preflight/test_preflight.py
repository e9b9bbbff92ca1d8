"""The preflight core over in-memory fakes: which checks fail, warn or say unknown, and why."""

from __future__ import annotations

from commands.core.model import Caller, Failure, Role, UsageError
from commands.core.ports import Services
from commands.core.registry import Registry
from commands.preflight.commands import register
from commands.preflight.model import (
    ControlPlane,
    ControlPlaneRevision,
    NamespaceInfo,
    PreflightReport,
    PreflightSettings,
    ServiceInfo,
    ServicePort,
    Status,
)
from tests.unit.preflight.fakes import (
    FakeInventory,
    FakePrometheus,
    node,
    pod,
    preflight_services,
)

VIEWER = Caller("U_VIEWER", Role.VIEWER)


def run(services: Services, text: str = "preflight") -> PreflightReport:
    result = dispatch(services, text)
    assert isinstance(result, PreflightReport), result
    return result


def dispatch(services: Services, text: str) -> object:
    registry = Registry()
    register(registry)
    return registry.dispatch(text, VIEWER, services)


def statuses(report: PreflightReport, check_id: str) -> dict[str, Status]:
    return {c.subject.label: c.status for c in report.checks if c.id == check_id}


def not_passing(report: PreflightReport) -> set[tuple[str, str, str]]:
    return {
        (c.id, c.subject.label, c.status.value)
        for c in report.checks
        if c.status is not Status.PASS
    }


def healthy_prometheus(*names: str) -> FakePrometheus:
    return FakePrometheus(
        steal_avg={n: 0.5 for n in names},
        steal_worst={n: 1.0 for n in names},
        flags={n: ["aes", "avx2"] for n in names},
    )


def test_a_healthy_cluster_passes_everything_and_a_viewer_may_run_it() -> None:
    report = run(preflight_services(prometheus=healthy_prometheus("n1")))
    assert not_passing(report) == set()
    assert report.summary["fail"] == 0 and report.summary["pass"] > 5
    assert report.istio == "1.30" and report.profile == "default"


def test_cluster_choice_unknown_cluster_and_several_clusters_are_usage_errors() -> None:
    services = preflight_services(extra_clusters=["staging"])
    missing = dispatch(services, "preflight")
    assert isinstance(missing, UsageError)
    assert "prod" in missing.problem and "staging" in missing.problem
    unknown = dispatch(services, "preflight cluster=nope")
    assert isinstance(unknown, UsageError) and "unknown cluster `nope`" in unknown.problem
    assert isinstance(dispatch(services, "preflight cluster=staging"), PreflightReport)


def test_an_unknown_istio_version_names_the_known_ones() -> None:
    result = dispatch(preflight_services(), "preflight istio=1.99")
    assert isinstance(result, UsageError)
    assert "1.99" in result.problem and "1.30" in result.problem and "1.24" in result.problem
    bad_profile = dispatch(preflight_services(), "preflight profile=demo")
    assert isinstance(bad_profile, UsageError) and "ambient" in bad_profile.problem


def test_kubernetes_version_against_the_release_table() -> None:
    old = run(preflight_services(FakeInventory(version="v1.29.4")))
    assert statuses(old, "cluster.kubernetes-version") == {"prod": Status.FAIL}
    outside = run(preflight_services(FakeInventory(version="v1.30.9")), "preflight istio=1.29")
    assert statuses(outside, "cluster.kubernetes-version") == {"prod": Status.WARN}
    fine = run(preflight_services(FakeInventory(version="v1.33.2")), "preflight istio=1.28")
    assert statuses(fine, "cluster.kubernetes-version") == {"prod": Status.PASS}


def test_denied_install_permissions_are_named() -> None:
    report = run(preflight_services(FakeInventory(denied={"clusterroles", "deployments"})))
    [check] = [c for c in report.checks if c.id == "cluster.install-permissions"]
    assert check.status is Status.FAIL
    assert check.evidence["denied"] == [
        "create clusterroles.rbac.authorization.k8s.io",
        "create deployments.apps in istio-system",
    ]


def test_a_list_we_may_not_read_makes_that_check_unknown_and_the_rest_runs() -> None:
    report = run(preflight_services(FakeInventory(forbidden={"pods", "services"})))
    assert statuses(report, "pod.*") == {"prod": Status.UNKNOWN}
    assert statuses(report, "service.protocol") == {"prod": Status.UNKNOWN}
    assert statuses(report, "node.conditions") == {"n1": Status.PASS}
    assert not report.failed
    fix = next(c.fix for c in report.checks if c.id == "pod.*")
    assert fix == (
        "grant the ClusterRole from the Helm chart (helm/meshbot, values `rbac.create`), "
        "see README 'Install in a cluster'"
    )


def test_an_unreachable_api_server_is_a_failure_not_a_report() -> None:
    result = dispatch(preflight_services(FakeInventory(down=True)), "preflight")
    assert isinstance(result, Failure) and "unreachable" in result.message


def test_prometheus_down_makes_steal_unknown_with_the_reason_and_flags_come_from_labels() -> None:
    report = run(preflight_services(prometheus=FakePrometheus(down=True)))
    [steal] = [c for c in report.checks if c.id == "node.steal"]
    assert steal.status is Status.UNKNOWN and "unreachable" in steal.message
    assert statuses(report, "node.cpu-flags") == {"n1": Status.PASS}
    assert any("Prometheus" in note for note in report.notes)


def test_steal_thresholds_average_and_worst_window() -> None:
    names = ["calm", "spiky", "noisy", "awful"]
    prom = FakePrometheus(
        steal_avg={"calm": 1, "spiky": 2, "noisy": 6, "awful": 12},
        steal_worst={"calm": 2, "spiky": 15, "noisy": 8, "awful": 20},
    )
    cluster = FakeInventory(nodes=[node(n) for n in names])
    report = run(preflight_services(cluster, prom))
    assert statuses(report, "node.steal") == {
        "calm": Status.PASS,
        "spiky": Status.WARN,
        "noisy": Status.WARN,
        "awful": Status.FAIL,
    }
    stricter = PreflightSettings(steal_warn_pct=0.5, steal_fail_pct=1.5)
    report = run(preflight_services(cluster, prom, stricter))
    assert statuses(report, "node.steal")["calm"] is Status.WARN
    assert len(prom.asked) == 6  # three queries per run, whatever the node count


def test_cpu_flags_from_labels_prometheus_or_unknown() -> None:
    nodes = [
        node("labelled"),
        node("no-aes", flags=["SSE4"]),
        node("from-prom", flags=None),
        node("prom-without-aes", flags=None),
        node("nothing", flags=None),
        node("graviton", flags=["AES"], arch="arm64"),
    ]
    prom = FakePrometheus(flags={"from-prom": ["aes", "avx2"], "prom-without-aes": []})
    report = run(preflight_services(FakeInventory(nodes=nodes), prom))
    assert statuses(report, "node.cpu-flags") == {
        "labelled": Status.PASS,
        "no-aes": Status.WARN,
        "from-prom": Status.PASS,
        "prom-without-aes": Status.WARN,
        "nothing": Status.UNKNOWN,
        "graviton": Status.PASS,
    }
    [unknown] = [
        c for c in report.checks if c.id == "node.cpu-flags" and c.status is Status.UNKNOWN
    ]
    assert unknown.fix and "node-feature-discovery" in unknown.fix


def test_headroom_counts_sidecars_of_meshed_pods_and_ambient_node_agents() -> None:
    nodes = [node("small", cpu_m=1000), node("big")]
    pods = [pod("shop", f"p{i}", "small", cpu_m=200) for i in range(4)]  # 800m used
    pods.append(pod("kube-system", "dns", "small", cpu_m=150))  # not meshed, but uses CPU
    cluster = FakeInventory(nodes=nodes, pods=pods)
    sidecars = run(preflight_services(cluster))
    assert statuses(sidecars, "node.headroom") == {"small": Status.FAIL, "big": Status.PASS}
    [small] = [c for c in sidecars.checks if c.id == "node.headroom" and c.subject.name == "small"]
    assert small.evidence["meshed_pods"] == 4 and small.evidence["mesh_adds_cpu_m"] == 200
    only_kube = run(preflight_services(cluster), "preflight namespace=kube-system")
    # one meshed pod: its 50m sidecar fits exactly, leaving nothing: a warning, not a failure
    assert statuses(only_kube, "node.headroom")["small"] is Status.WARN
    ambient = run(preflight_services(cluster), "preflight profile=ambient")
    [agents] = [c for c in ambient.checks if c.id == "node.headroom" and c.subject.name == "big"]
    assert agents.evidence["mesh_adds_cpu_m"] == 300 and agents.evidence["meshed_pods"] == 0


def test_node_conditions_architecture_and_runtime() -> None:
    nodes = [
        node("pressed", pressure=["DiskPressure"]),
        node("down", ready="False"),
        node("s390", arch="s390x"),
        node("docker", runtime="docker://20.10"),
    ]
    report = run(preflight_services(FakeInventory(nodes=nodes)))
    assert statuses(report, "node.conditions")["pressed"] is Status.FAIL
    assert statuses(report, "node.conditions")["down"] is Status.FAIL
    assert statuses(report, "node.architecture")["s390"] is Status.FAIL
    assert statuses(report, "node.container-runtime")["docker"] is Status.WARN


def test_nftables_redirection_needs_kernel_5_13() -> None:
    nodes = [node("old", kernel="5.10.0-28-amd64"), node("new")]
    settings = PreflightSettings(redirection="nftables")
    report = run(preflight_services(FakeInventory(nodes=nodes), settings=settings))
    assert statuses(report, "node.kernel") == {"old": Status.FAIL, "new": Status.PASS}


def test_workload_checks_in_the_namespaces_to_be_meshed_only() -> None:
    namespaces = [
        NamespaceInfo("shop", {"istio-injection": "enabled"}),
        NamespaceInfo("secure", {"pod-security.kubernetes.io/enforce": "restricted"}),
        NamespaceInfo("kube-system", {}),
    ]
    pods = [
        pod("shop", "uid", uids=(("app", 1337),)),
        pod("shop", "port", ports=(("app", 15021), ("app", 8080))),
        pod("shop", "host", host_network=True),
        pod("shop", "meshed", has_sidecar=True, uids=(("istio-proxy", 1337),)),
        pod("kube-system", "agent", host_network=True, uids=(("a", 1337),)),
    ]
    services = [
        ServiceInfo("shop", "web", (ServicePort(80, "http-web", None),)),
        ServiceInfo(
            "shop", "raw", (ServicePort(9000, "metrics", None), ServicePort(1, None, "tcp"))
        ),
    ]
    cluster = FakeInventory(namespaces=namespaces, pods=pods, services=services)
    report = run(preflight_services(cluster, healthy_prometheus("n1")))
    assert not_passing(report) == {
        ("namespace.pod-security", "secure", "fail"),
        ("pod.proxy-uid", "shop/uid", "fail"),
        ("pod.port-collision", "shop/port", "fail"),
        ("pod.host-network", "shop/host", "warn"),
        ("service.protocol", "shop/raw", "warn"),
    }
    ambient = run(preflight_services(cluster), "preflight profile=ambient")
    assert statuses(ambient, "namespace.pod-security")["secure"] is Status.PASS
    narrowed = run(
        preflight_services(cluster, healthy_prometheus("n1")), "preflight namespace=secure"
    )
    assert {c[0] for c in not_passing(narrowed)} == {"namespace.pod-security"}
    missing = dispatch(preflight_services(cluster), "preflight namespace=nope")
    assert isinstance(missing, UsageError) and "nope" in missing.problem


def test_existing_control_plane_gateway_api_and_injection_labels() -> None:
    plane = ControlPlane(
        (ControlPlaneRevision("1-24", "istio-system", "1.24.2", 2),),
        ("istio-sidecar-injector-1-24",),
    )
    namespaces = [
        NamespaceInfo("a", {"istio.io/rev": "1-24"}),
        NamespaceInfo("b", {"istio.io/rev": "1-30"}),
        NamespaceInfo("c", {"istio-injection": "enabled", "istio.io/rev": "1-24"}),
    ]
    crds = {"gateways.gateway.networking.k8s.io": ["v1alpha2", "v1beta1"]}
    cluster = FakeInventory(plane=plane, namespaces=namespaces, crds=crds)
    report = run(preflight_services(cluster))
    assert statuses(report, "cluster.control-plane") == {"prod": Status.FAIL}  # 1.24 → 1.30
    assert statuses(report, "cluster.gateway-api") == {"prod": Status.WARN}
    assert statuses(report, "namespace.injection-label") == {
        "a": Status.PASS,
        "b": Status.WARN,
        "c": Status.WARN,
    }
    near = run(preflight_services(cluster), "preflight istio=1.26")
    [check] = [c for c in near.checks if c.id == "cluster.control-plane"]
    assert check.status is Status.WARN and "--revision 1-26" in (check.fix or "")
