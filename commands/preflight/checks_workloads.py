"""Namespace and workload checks, over the namespaces the mesh will go on.

These are the things that break a workload the moment it gets a sidecar: a Pod
Security `restricted` namespace without istio-cni (istio-init needs NET_ADMIN and
NET_RAW), a container running as the proxy's UID 1337, a container port the sidecar
owns, a Service port whose protocol Istio must guess, a hostNetwork pod. Offending
subjects get one result each; a namespace with none gets one `pass`, so a 30,000-pod
cluster does not produce 30,000 lines that say nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from commands.preflight.model import (
    CheckResult,
    NamespaceInfo,
    PodInfo,
    ServiceInfo,
    Status,
    Subject,
)
from commands.preflight.releases import PROXY_UID, SIDECAR_PORTS, protocol_of

PSS_ENFORCE = "pod-security.kubernetes.io/enforce"


def pod_security(namespaces: Sequence[NamespaceInfo], with_cni: bool) -> list[CheckResult]:
    results = []
    for ns in namespaces:
        level = ns.labels.get(PSS_ENFORCE)
        subject = Subject("Namespace", ns.name)
        evidence = {"enforce": level, "istio_cni": with_cni}
        if level == "restricted" and not with_cni:
            results.append(
                CheckResult(
                    "namespace.pod-security",
                    Status.FAIL,
                    subject,
                    "Pod Security `restricted` forbids istio-init's NET_ADMIN/NET_RAW: "
                    "pods here cannot get sidecars without istio-cni",
                    evidence,
                    "enable istio-cni (components.cni.enabled: true, or the ambient profile), "
                    "or lower the namespace to `baseline`",
                )
            )
        else:
            results.append(
                CheckResult(
                    "namespace.pod-security",
                    Status.PASS,
                    subject,
                    f"Pod Security {level or 'not enforced'}"
                    + (" (istio-cni handles redirection)" if level == "restricted" else ""),
                    evidence,
                )
            )
    return results


def _per_namespace(
    check_id: str,
    namespaces: Sequence[NamespaceInfo],
    offenders: dict[str, list[CheckResult]],
    checked: dict[str, int],
    what: str,
) -> list[CheckResult]:
    results: list[CheckResult] = []
    for ns in namespaces:
        found = offenders.get(ns.name)
        if found:
            results.extend(found)
        else:
            results.append(
                CheckResult(
                    check_id,
                    Status.PASS,
                    Subject("Namespace", ns.name),
                    f"{checked.get(ns.name, 0)} {what} checked, none affected",
                    {"checked": checked.get(ns.name, 0)},
                )
            )
    return results


def pod_checks(pods: Sequence[PodInfo], namespaces: Sequence[NamespaceInfo]) -> list[CheckResult]:
    """UID 1337, sidecar port collisions and hostNetwork, for pods in `namespaces`."""
    scope = {ns.name for ns in namespaces}
    uid: dict[str, list[CheckResult]] = defaultdict(list)
    ports: dict[str, list[CheckResult]] = defaultdict(list)
    host: dict[str, list[CheckResult]] = defaultdict(list)
    checked: dict[str, int] = defaultdict(int)
    for pod in pods:
        if pod.namespace not in scope:
            continue
        checked[pod.namespace] += 1
        subject = Subject("Pod", pod.name, pod.namespace)
        as_proxy = [name for name, user in pod.uids if user == PROXY_UID and name != "istio-proxy"]
        if as_proxy:
            uid[pod.namespace].append(
                CheckResult(
                    "pod.proxy-uid",
                    Status.FAIL,
                    subject,
                    f"container {', '.join(as_proxy)} runs as UID {PROXY_UID}, the proxy's: "
                    "its traffic would bypass the sidecar (IST0144)",
                    {"containers": as_proxy, "uid": PROXY_UID},
                    "run the container as another UID (securityContext.runAsUser)",
                )
            )
        clashes = [
            {"container": name, "port": port}
            for name, port in pod.ports
            if port in SIDECAR_PORTS and name != "istio-proxy"
        ]
        if clashes:
            shown = ", ".join(f"{c['container']}:{c['port']}" for c in clashes)
            ports[pod.namespace].append(
                CheckResult(
                    "pod.port-collision",
                    Status.FAIL,
                    subject,
                    f"container port {shown} is one the sidecar owns",
                    {"ports": clashes, "sidecar_ports": sorted(SIDECAR_PORTS)},
                    "move the application to a port outside 15000-15090",
                )
            )
        if pod.host_network:
            host[pod.namespace].append(
                CheckResult(
                    "pod.host-network",
                    Status.WARN,
                    subject,
                    "hostNetwork pod: it gets no sidecar and stays outside the mesh",
                    {"hostNetwork": True},
                    "exclude it from STRICT mTLS peers, or run it without hostNetwork",
                )
            )
    results = _per_namespace("pod.proxy-uid", namespaces, uid, checked, "pods")
    results += _per_namespace("pod.port-collision", namespaces, ports, checked, "pods")
    results += _per_namespace("pod.host-network", namespaces, host, checked, "pods")
    return results


def service_protocols(
    services: Sequence[ServiceInfo], namespaces: Sequence[NamespaceInfo]
) -> list[CheckResult]:
    scope = {ns.name for ns in namespaces}
    offenders: dict[str, list[CheckResult]] = defaultdict(list)
    checked: dict[str, int] = defaultdict(int)
    for svc in services:
        if svc.namespace not in scope:
            continue
        checked[svc.namespace] += 1
        unnamed = [p for p in svc.ports if protocol_of(p.name, p.app_protocol) is None]
        if not unnamed:
            continue
        shown = ", ".join(f"{p.port} ({p.name or 'no name'})" for p in unnamed)
        offenders[svc.namespace].append(
            CheckResult(
                "service.protocol",
                Status.WARN,
                Subject("Service", svc.name, svc.namespace),
                f"port {shown} has no protocol name or appProtocol: Istio must sniff the "
                "protocol, which adds latency and breaks server-first protocols",
                {"ports": [{"port": p.port, "name": p.name} for p in unnamed]},
                "name the port `<protocol>[-suffix]` (e.g. http-web, tcp-db) or set appProtocol",
            )
        )
    return _per_namespace("service.protocol", namespaces, offenders, checked, "services")
