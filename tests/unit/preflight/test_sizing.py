"""Sizing advice: the base overlay in manifests/istio/, and how size and load adjust it."""

from __future__ import annotations

from pathlib import Path

import yaml

from commands.preflight.sizing import BASE, recommend
from tests.unit.preflight.fakes import node, pod

ROOT = Path(__file__).resolve().parents[3]


def test_the_production_overlay_file_is_the_base_the_advice_starts_from() -> None:
    on_disk = yaml.safe_load((ROOT / "manifests/istio/production.yaml").read_text())
    assert on_disk == BASE
    ambient = yaml.safe_load((ROOT / "manifests/istio/ambient.yaml").read_text())
    assert ambient["spec"]["components"]["ztunnel"]["enabled"] is True


def test_a_small_cluster_keeps_the_base_values() -> None:
    sizing = recommend([node("a"), node("b")], [pod("shop", "p")], 1, 3, "default")
    spec = sizing.istio_operator["spec"]
    assert spec["values"]["global"]["proxy"]["resources"] == {
        "requests": {"cpu": "50m", "memory": "64Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi"},
    }
    assert spec["components"]["pilot"]["k8s"]["hpaSpec"]["minReplicas"] == 2
    assert spec["meshConfig"]["defaultConfig"]["concurrency"] == 1
    assert (sizing.proxy_cpu_m, sizing.per_node_cpu_m) == (50, 0)


def test_a_large_busy_cluster_gets_bigger_proxies_istiod_and_three_replicas() -> None:
    nodes = [node(f"n{i}", cpu_m=15900, zone="abc"[i % 3]) for i in range(60)]
    pods = [pod("shop", f"p{i}", f"n{i % 60}", cpu_m=500) for i in range(6000)]
    sizing = recommend(nodes, pods, 6000, 1500, "default")
    spec = sizing.istio_operator["spec"]
    proxy = spec["values"]["global"]["proxy"]["resources"]
    assert proxy["requests"] == {"cpu": "100m", "memory": "128Mi"}
    assert proxy["limits"] == {"cpu": "1000m", "memory": "512Mi"}
    pilot = spec["components"]["pilot"]["k8s"]
    assert pilot["resources"]["requests"] == {"cpu": "1000m", "memory": "2Gi"}
    assert pilot["hpaSpec"]["minReplicas"] == 3
    assert spec["components"]["ingressGateways"][0]["k8s"]["hpaSpec"]["minReplicas"] == 3
    assert any("6000 proxies" in r for r in sizing.reasons)


def test_ambient_puts_ztunnel_and_cni_on_every_node_instead_of_sidecars() -> None:
    sizing = recommend([node("a")], [pod("shop", "p")], 1, 1, "ambient")
    components = sizing.istio_operator["spec"]["components"]
    assert components["cni"] == {"enabled": True} and components["ztunnel"]["enabled"]
    assert sizing.proxy_cpu_m == 0 and sizing.per_node_cpu_m == 300


def test_small_nodes_cap_the_proxy_cpu_limit() -> None:
    sizing = recommend([node("tiny", cpu_m=1910)], [], 0, 0, "default")
    limits = sizing.istio_operator["spec"]["values"]["global"]["proxy"]["resources"]["limits"]
    assert limits["cpu"] == "400m"
