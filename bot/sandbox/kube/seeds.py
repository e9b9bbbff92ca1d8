"""Seed clusters: loading multi-document YAML, and generating a large cluster on demand.

Tests and the demo start from a described cluster state (bot/sandbox/seeds/*.yaml)
instead of scripting API calls; benchmarks need thousands of nodes and tens of thousands
of pods, generated deterministically rather than committed as a giant file.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from . import errors

if TYPE_CHECKING:
    from .server import KubeTestServer

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def seed_path(name: str) -> Path:
    """Path of a shipped seed ("healthy", "problems") or of a given file."""
    shipped = SEEDS_DIR / f"{name}.yaml"
    return shipped if shipped.is_file() else Path(name)


def parse_yaml(source: str | Path) -> list[dict[str, Any]]:
    """Documents of a YAML file path or YAML text; ``kind: List`` documents are flattened."""
    if isinstance(source, Path) or ("\n" not in source and Path(source).is_file()):
        text = Path(source).read_text()
    else:
        text = source
    docs: list[dict[str, Any]] = []
    for doc in yaml.load_all(text, Loader=_Loader):
        if not isinstance(doc, dict):
            continue
        if doc.get("kind") == "List" or (
            str(doc.get("kind", "")).endswith("List") and "items" in doc
        ):
            docs.extend(d for d in doc.get("items") or [] if isinstance(d, dict))
        else:
            docs.append(doc)
    return docs


def _order(doc: dict[str, Any]) -> int:
    return {"CustomResourceDefinition": 0, "Namespace": 1}.get(doc.get("kind", ""), 2)


def load_documents(server: KubeTestServer, docs: list[dict[str, Any]]) -> int:
    """Create each object; CRDs and namespaces go first, missing namespaces are created.

    Status given in a seed is kept (nodes' conditions, pods' phase): that is what makes a
    seed describe a cluster state rather than a set of requests.
    """
    with server.store.lock:  # one step for the controllers: they see the whole seed at once
        return _load_sorted(server, docs)


def _load_sorted(server: KubeTestServer, docs: list[dict[str, Any]]) -> int:
    table, writer, store = server.table, server.writer, server.store
    ns_rt = table.get("", "v1", "namespaces")
    assert ns_rt is not None
    count = 0
    for doc in sorted(docs, key=_order):
        api_version = doc.get("apiVersion", "")
        group = api_version.rpartition("/")[0]
        version = api_version.rpartition("/")[2]
        rt = next(
            (r for r in table.versions_of_kind(group, doc.get("kind", "")) if r.version == version),
            None,
        )
        if rt is None:
            raise ValueError(f"seed object of unknown kind {api_version} {doc.get('kind')}")
        namespace = None
        if rt.namespaced:
            namespace = (doc.get("metadata") or {}).get("namespace") or "default"
            if store.get(("", "namespaces"), ("", namespace)) is None:
                writer.create(ns_rt, None, {"metadata": {"name": namespace}})
        try:
            _create_or_replace(server, rt, namespace, doc)
        except errors.ApiError as exc:
            name = (doc.get("metadata") or {}).get("name")
            raise ValueError(
                f"seed object {doc.get('kind')} {namespace}/{name}: {exc.message}"
            ) from exc
        count += 1
    return count


def _create_or_replace(
    server: KubeTestServer, rt: Any, namespace: str | None, doc: dict[str, Any]
) -> None:
    """Create; an object that already exists (e.g. namespace default) is replaced."""
    name = (doc.get("metadata") or {}).get("name", "")
    old = server.store.get(rt.key, (namespace or "", name))
    if old is None:
        server.writer.create(rt, namespace, doc, copy_body=False, admit=False)
        return
    doc.setdefault("metadata", {})["resourceVersion"] = old["metadata"]["resourceVersion"]
    server.writer.update(rt, namespace, name, doc)


# -- the large generated cluster ---------------------------------------------------------------

_APPS = ["api", "web", "worker", "cache", "auth", "search", "billing", "orders", "cart", "feed"]


def _node(i: int, rnd: random.Random) -> dict[str, Any]:
    name = f"node-{i:05d}"
    cpu, mem = rnd.choice([(8, 32), (16, 64), (32, 128)])
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "topology.kubernetes.io/zone": f"zone-{'abc'[i % 3]}",
        "node.kubernetes.io/instance-type": f"m.{cpu}x",
    }
    if i % 10:
        labels["feature.node.kubernetes.io/cpu-cpuid.AESNI"] = "true"
        labels["feature.node.kubernetes.io/cpu-cpuid.AVX2"] = "true"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"podCIDR": f"10.{i // 250}.{i % 250}.0/24"},
        "status": {
            "capacity": {"cpu": str(cpu), "memory": f"{mem}Gi", "pods": "110"},
            "allocatable": {"cpu": f"{cpu * 1000 - 100}m", "memory": f"{mem - 1}Gi", "pods": "110"},
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady"},
                {
                    "type": "MemoryPressure",
                    "status": "False",
                    "reason": "KubeletHasSufficientMemory",
                },
            ],
            "nodeInfo": {
                "machineID": f"{i:032x}",
                "systemUUID": f"ec2{i:05x}-0000-4000-8000-000000000000",
                "bootID": f"{i:08x}-1111-4222-8333-444455556666",
                "kernelVersion": "6.8.0-1015-aws",
                "osImage": "Ubuntu 24.04.1 LTS",
                "containerRuntimeVersion": "containerd://1.7.27",
                "kubeletVersion": "v1.33.2",
                "kubeProxyVersion": "v1.33.2",
                "architecture": "amd64",
                "operatingSystem": "linux",
            },
        },
    }


def _pod(i: int, namespace: str, node: str, rnd: random.Random) -> dict[str, Any]:
    app = _APPS[i % len(_APPS)]
    cpu = rnd.choice([50, 100, 250, 500])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{app}-{i:06d}",
            "namespace": namespace,
            "labels": {"app": app, "pod-template-hash": f"{i % 997:x}"},
        },
        "spec": {
            "nodeName": node,
            "serviceAccountName": "default",
            "containers": [
                {
                    "name": app,
                    "image": f"registry.example.com/{app}:1.{i % 7}",
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "resources": {
                        "requests": {"cpu": f"{cpu}m", "memory": f"{cpu * 2}Mi"},
                        "limits": {"cpu": f"{cpu * 2}m", "memory": f"{cpu * 4}Mi"},
                    },
                }
            ],
        },
        "status": {"phase": "Running", "podIP": f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"},
    }


def generate_large_cluster(
    nodes: int = 2000, pods: int = 30000, seed: int = 0
) -> list[dict[str, Any]]:
    """A deterministic cluster: ``nodes`` nodes, ~50 namespaces, ``pods`` pods spread over
    the nodes with ``spec.nodeName`` and resource requests."""
    rnd = random.Random(seed)
    namespaces = [f"team-{i:02d}" for i in range(50)]
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"team": ns}}}
        for ns in namespaces
    ]
    node_names = [f"node-{i:05d}" for i in range(nodes)]
    docs.extend(_node(i, rnd) for i in range(nodes))
    for i in range(pods):
        docs.append(_pod(i, namespaces[i % len(namespaces)], node_names[rnd.randrange(nodes)], rnd))
    return docs
