"""Node-level checks: what `istioctl x precheck` never looks at.

The mesh's cost lands on the nodes — TLS without AES-NI, proxies on CPU-starved or
noisy-neighbour nodes, nodes without room for the proxies — so each node gets one
result per check, with the evidence and a fix. Missing data is `unknown` with how to
get it, never `pass`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from commands.preflight.model import (
    CheckResult,
    NodeInfo,
    PodInfo,
    PreflightSettings,
    Status,
    Subject,
)
from commands.preflight.queries import NodeMetrics
from commands.preflight.releases import NFTABLES_MIN_KERNEL, SUPPORTED_ARCHITECTURES
from commands.preflight.sizing import mem_text

NFD = "feature.node.kubernetes.io/cpu-cpuid."
PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure")
HOW_TO_GET_FLAGS = (
    "deploy node-feature-discovery (labels feature.node.kubernetes.io/cpu-cpuid.*) or run "
    "node_exporter with --collector.cpu.info so Prometheus has node_cpu_flag_info"
)


def _subject(node: NodeInfo) -> Subject:
    return Subject("Node", node.name)


def _has_nfd(labels: dict[str, str]) -> bool:
    return any(key.startswith(NFD) for key in labels)


def cpu_flags(node: NodeInfo, metrics: NodeMetrics) -> CheckResult:
    arm = node.architecture == "arm64"
    wanted = ("AES",) if arm else ("AESNI", "AVX2")
    if _has_nfd(node.labels):
        have = {flag: node.labels.get(NFD + flag) == "true" for flag in wanted}
        source = "node-feature-discovery labels"
    elif node.name in metrics.flags:
        flags = metrics.flags[node.name]
        have = {flag: ("aes" if flag in ("AESNI", "AES") else "avx2") in flags for flag in wanted}
        source = "node_cpu_flag_info"
    else:
        why = metrics.error or "no node_cpu_flag_info series for this node"
        return CheckResult(
            "node.cpu-flags",
            Status.UNKNOWN,
            _subject(node),
            "CPU flags unknown: no node-feature-discovery labels and no node_cpu_flag_info",
            {"source": None, "prometheus": why},
            HOW_TO_GET_FLAGS,
        )
    missing = [flag for flag, ok in have.items() if not ok]
    evidence = {"source": source, **{flag: ok for flag, ok in have.items()}}
    if missing:
        return CheckResult(
            "node.cpu-flags",
            Status.WARN,
            _subject(node),
            f"CPU lacks {', '.join(missing)}: mTLS encryption costs noticeably more CPU here",
            evidence,
            "schedule meshed workloads on nodes with AES-NI/AVX2 (node affinity on the "
            "feature.node.kubernetes.io/cpu-cpuid labels) or move to a newer instance type",
        )
    return CheckResult(
        "node.cpu-flags", Status.PASS, _subject(node), f"{' and '.join(wanted)} present", evidence
    )


def _hypervisor(node: NodeInfo, metrics: NodeMetrics) -> bool | None:
    if _has_nfd(node.labels):  # NFD sets the HYPERVISOR label only on VMs
        return node.labels.get(NFD + "HYPERVISOR") == "true"
    if node.name in metrics.flags:
        return "hypervisor" in metrics.flags[node.name]
    return None


def steal(node: NodeInfo, metrics: NodeMetrics, settings: PreflightSettings) -> CheckResult:
    hypervisor = _hypervisor(node, metrics)
    avg = metrics.steal_avg.get(node.name)
    worst = metrics.steal_worst.get(node.name)
    if avg is None:
        why = metrics.error or 'no node_cpu_seconds_total{mode="steal"} series for this node'
        return CheckResult(
            "node.steal",
            Status.UNKNOWN,
            _subject(node),
            f"steal time unknown: {why}",
            {"hypervisor": hypervisor, "reason": why},
            "run node_exporter on every node and label its series with the node name "
            f"(`{settings.node_label}`), or map instances to nodes in preflight.instance_to_node",
        )
    worst = avg if worst is None else worst
    evidence = {
        "avg_pct_1h": round(avg, 2),
        "worst_5m_pct": round(worst, 2),
        "warn_pct": settings.steal_warn_pct,
        "fail_pct": settings.steal_fail_pct,
        "hypervisor": hypervisor,
    }
    text = f"steal {avg:.1f}% over the last hour, worst 5 minutes {worst:.1f}%"
    fix = (
        "move to dedicated or larger instances, or keep meshed workloads off this node; "
        "steal means the hypervisor gives this VM's CPU to others"
    )
    if avg >= settings.steal_fail_pct:
        return CheckResult("node.steal", Status.FAIL, _subject(node), text, evidence, fix)
    if avg >= settings.steal_warn_pct or worst >= settings.steal_fail_pct:
        return CheckResult("node.steal", Status.WARN, _subject(node), text, evidence, fix)
    return CheckResult("node.steal", Status.PASS, _subject(node), text, evidence)


@dataclass
class NodeLoad:
    """What already runs on each node: requests, and the pods that would get a sidecar."""

    cpu_m: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    mem: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    to_mesh: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @classmethod
    def of(cls, pods: Sequence[PodInfo], meshed: set[str]) -> NodeLoad:
        load = cls()
        for pod in pods:
            if pod.node is None:
                continue
            load.cpu_m[pod.node] += pod.cpu_request_m
            load.mem[pod.node] += pod.mem_request
            if pod.namespace in meshed and not pod.host_network and not pod.has_sidecar:
                load.to_mesh[pod.node] += 1
        return load


def headroom(
    nodes: Sequence[NodeInfo],
    pods: Sequence[PodInfo],
    meshed: set[str],
    per_pod: tuple[int, int],
    per_node: tuple[int, int],
    settings: PreflightSettings,
) -> list[CheckResult]:
    """Allocatable minus current requests, against what the mesh adds on each node."""
    load = NodeLoad.of(pods, meshed)
    return [node_headroom(node, load, per_pod, per_node, settings) for node in nodes]


def node_headroom(
    node: NodeInfo,
    load: NodeLoad,
    per_pod: tuple[int, int],
    per_node: tuple[int, int],
    settings: PreflightSettings,
) -> CheckResult:
    subject = _subject(node)
    if node.allocatable_cpu_m is None or node.allocatable_mem is None:
        return CheckResult(
            "node.headroom",
            Status.UNKNOWN,
            subject,
            "node reports no allocatable CPU/memory",
            {},
            "check the kubelet on this node",
        )
    count = load.to_mesh[node.name]
    add_cpu = per_pod[0] * count + per_node[0]
    add_mem = per_pod[1] * count + per_node[1]
    free_cpu = node.allocatable_cpu_m - load.cpu_m[node.name]
    free_mem = node.allocatable_mem - load.mem[node.name]
    left_cpu = free_cpu - add_cpu
    left_mem = free_mem - add_mem
    evidence = {
        "allocatable_cpu_m": node.allocatable_cpu_m,
        "requested_cpu_m": load.cpu_m[node.name],
        "mesh_adds_cpu_m": add_cpu,
        "allocatable_memory": mem_text(node.allocatable_mem),
        "requested_memory": mem_text(load.mem[node.name]),
        "mesh_adds_memory": mem_text(add_mem),
        "meshed_pods": count,
    }
    text = (
        f"{free_cpu}m CPU and {mem_text(max(free_mem, 0))} free; the mesh adds "
        f"{add_cpu}m and {mem_text(add_mem)} ({count} sidecars"
        + (", ztunnel, istio-cni)" if per_node[0] else ")")
    )
    fix = (
        "add capacity or move pods off this node before meshing; pods that no longer "
        "fit with their sidecar stay Pending when restarted"
    )
    warn_cpu = node.allocatable_cpu_m * settings.headroom_warn_pct / 100
    warn_mem = node.allocatable_mem * settings.headroom_warn_pct / 100
    if left_cpu < 0 or left_mem < 0:
        return CheckResult("node.headroom", Status.FAIL, subject, text, evidence, fix)
    if left_cpu < warn_cpu or left_mem < warn_mem:
        return CheckResult("node.headroom", Status.WARN, subject, text, evidence, fix)
    return CheckResult("node.headroom", Status.PASS, subject, text, evidence)


def _kernel_tuple(kernel: str) -> tuple[int, int] | None:
    parts = kernel.split(".")
    try:
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()))
    except (IndexError, ValueError):
        return None


def kernel(node: NodeInfo, settings: PreflightSettings) -> CheckResult:
    found = _kernel_tuple(node.kernel)
    evidence = {"kernel": node.kernel or None, "redirection": settings.redirection}
    if settings.redirection != "nftables":
        return CheckResult(
            "node.kernel",
            Status.PASS,
            _subject(node),
            f"kernel {node.kernel or '?'}: iptables redirection has no minimum kernel",
            evidence,
        )
    need = ".".join(map(str, NFTABLES_MIN_KERNEL))
    if found is None:
        return CheckResult(
            "node.kernel", Status.UNKNOWN, _subject(node), "kernel version unknown", evidence, None
        )
    if found < NFTABLES_MIN_KERNEL:
        return CheckResult(
            "node.kernel",
            Status.FAIL,
            _subject(node),
            f"kernel {node.kernel} is below {need}, which nftables redirection needs",
            evidence,
            "upgrade the node image, or use iptables redirection",
        )
    return CheckResult(
        "node.kernel", Status.PASS, _subject(node), f"kernel {node.kernel} ≥ {need}", evidence
    )


def architecture(node: NodeInfo) -> CheckResult:
    arch = node.architecture or node.labels.get("kubernetes.io/arch", "")
    if arch in SUPPORTED_ARCHITECTURES:
        return CheckResult(
            "node.architecture", Status.PASS, _subject(node), f"{arch}", {"architecture": arch}
        )
    return CheckResult(
        "node.architecture",
        Status.FAIL if arch else Status.UNKNOWN,
        _subject(node),
        f"architecture {arch or 'unknown'}: Istio images exist for amd64 and arm64 only",
        {"architecture": arch or None},
        "keep meshed workloads off this node (nodeSelector kubernetes.io/arch)",
    )


def container_runtime(node: NodeInfo) -> CheckResult:
    runtime = node.runtime
    name = runtime.split("://")[0] if runtime else ""
    evidence = {"runtime": runtime or None}
    if name in ("containerd", "cri-o"):
        return CheckResult("node.container-runtime", Status.PASS, _subject(node), runtime, evidence)
    if not name:
        return CheckResult(
            "node.container-runtime",
            Status.UNKNOWN,
            _subject(node),
            "runtime not reported",
            evidence,
        )
    return CheckResult(
        "node.container-runtime",
        Status.WARN,
        _subject(node),
        f"runtime {runtime}: Istio is tested on containerd and CRI-O",
        evidence,
        "move to containerd or CRI-O",
    )


def conditions(node: NodeInfo) -> CheckResult:
    by_type = {c.type: c for c in node.conditions}
    evidence = {c.type: c.status for c in node.conditions}
    if node.unschedulable:
        evidence["unschedulable"] = "True"
    ready = by_type.get("Ready")
    if ready is None:
        return CheckResult(
            "node.conditions", Status.UNKNOWN, _subject(node), "no Ready condition", evidence
        )
    problems = [t for t in PRESSURES if by_type.get(t) and by_type[t].status == "True"]
    if ready.status != "True":
        problems.insert(0, f"not Ready ({ready.reason or ready.status})")
    if problems:
        return CheckResult(
            "node.conditions",
            Status.FAIL,
            _subject(node),
            ", ".join(problems),
            evidence,
            "fix or drain the node first: new proxies and restarted pods land on it",
        )
    return CheckResult(
        "node.conditions", Status.PASS, _subject(node), "Ready, no pressure", evidence
    )


def node_checks(
    nodes: Sequence[NodeInfo], metrics: NodeMetrics, settings: PreflightSettings
) -> list[CheckResult]:
    results: list[CheckResult] = []
    for node in nodes:
        results.append(cpu_flags(node, metrics))
        results.append(steal(node, metrics, settings))
        results.append(kernel(node, settings))
        results.append(architecture(node))
        results.append(container_runtime(node))
        results.append(conditions(node))
    return results
