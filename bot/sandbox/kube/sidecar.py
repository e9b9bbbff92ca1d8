"""What Istio's injection templates add to a pod, in outline (see ``injection``).

The parts other tools read are rendered as Istio's ``sidecar`` and ``gateway`` templates
render them: the ``istio-proxy`` container (image, proxy args, readiness probe on
15021, resources from ``global.proxy.resources`` or the ``sidecar.istio.io/proxyCPU``…
annotations), ``istio-init`` (or ``istio-validation`` with CNI), the volumes, the
canonical-name/revision and tlsMode labels, ``istio.io/rev`` and
``kubectl.kubernetes.io/default-container`` annotations, and ``sidecar.istio.io/status``
exactly as istiod writes it (``{"initContainers":…,"containers":…,"volumes":…,
"imagePullSecrets":…,"revision":…}``, Go's field order, ``null`` for empty lists).
"""

from __future__ import annotations

import json
import re
from typing import Any

STATUS = "sidecar.istio.io/status"
KNOWN_IMAGE_TYPES = ("distroless", "debug")
SIDECAR_VOLUMES = (
    "workload-socket",
    "credential-socket",
    "workload-certs",
    "istio-envoy",
    "istio-data",
    "istio-podinfo",
    "istio-token",
    "istiod-ca-cert",
    "istio-ca-crl",
)
GATEWAY_VOLUMES = SIDECAR_VOLUMES[:-1]
PROXY_MOUNTS = {
    "workload-socket": "/var/run/secrets/workload-spiffe-uds",
    "credential-socket": "/var/run/secrets/credential-uds",
    "workload-certs": "/var/run/secrets/workload-spiffe-credentials",
    "istiod-ca-cert": "/var/run/secrets/istio",
    "istio-data": "/var/lib/istio/data",
    "istio-envoy": "/etc/istio/proxy",
    "istio-token": "/var/run/secrets/tokens",
    "istio-podinfo": "/etc/istio/pod",
}


RESOURCE_ANNOTATIONS = {
    ("requests", "cpu"): "sidecar.istio.io/proxyCPU",
    ("requests", "memory"): "sidecar.istio.io/proxyMemory",
    ("limits", "cpu"): "sidecar.istio.io/proxyCPULimit",
    ("limits", "memory"): "sidecar.istio.io/proxyMemoryLimit",
}


def image_url(hub: str, name: str, tag: str, image_type: str) -> str:
    """istiod's imageURL: the variant replaces a known one already on the tag."""
    if image_type:
        for known in KNOWN_IMAGE_TYPES:
            if tag.endswith("-" + known):
                tag = tag[: -(len(known) + 1)]
                break
        if image_type != "default":
            tag = f"{tag}-{image_type}"
    return f"{hub}/{name}:{tag}"


def proxy_image(values: dict[str, Any], annotations: dict[str, str]) -> str:
    glob = values.get("global") or {}
    configured = str((glob.get("proxy") or {}).get("image") or "proxyv2")
    wanted = annotations.get("sidecar.istio.io/proxyImage", configured)
    if "/" in wanted:
        return wanted
    image_type = annotations.get("sidecar.istio.io/proxyImageType", glob.get("variant") or "")
    tag = glob.get("tag")
    return image_url(
        str(glob.get("hub") or ""), configured, "" if tag is None else str(tag), image_type
    )


def _resources(values: dict[str, Any], annotations: dict[str, str]) -> dict[str, Any]:
    if any(a in annotations for a in RESOURCE_ANNOTATIONS.values()):
        out: dict[str, dict[str, str]] = {}
        for (section, resource), name in RESOURCE_ANNOTATIONS.items():
            if name in annotations:
                out.setdefault(section, {})[resource] = annotations[name]
        return out
    configured = ((values.get("global") or {}).get("proxy") or {}).get("resources") or {}
    return {
        section: {k: v for k, v in (configured.get(section) or {}).items() if v is not None}
        for section in ("requests", "limits")
        if configured.get(section)
    }


def _workload_name(pod: dict[str, Any]) -> str:
    """istiod's DeploymentMeta name: the owning Deployment (ReplicaSet minus its hash)."""
    meta = pod["metadata"]
    for owner in meta.get("ownerReferences") or ():
        if owner.get("kind") == "ReplicaSet":
            return re.sub(r"-[a-z0-9]+$", "", str(owner.get("name", "")))
        if owner.get("controller"):
            return str(owner.get("name", ""))
    return str(meta.get("name") or meta.get("generateName", "").rstrip("-"))


def _proxy(
    pod: dict[str, Any], config: dict[str, Any], router: bool, native: bool
) -> dict[str, Any]:
    values, annotations = config["values"], pod["metadata"].get("annotations") or {}
    glob = values.get("global") or {}
    proxy_values = glob.get("proxy") or {}
    revision = config["revision"]
    istiod = "istiod" + (f"-{revision}" if revision and revision != "default" else "")
    apps = [
        c.get("name")
        for c in (pod.get("spec") or {}).get("containers") or ()
        if c.get("name") != "istio-proxy"
    ]
    container: dict[str, Any] = {
        "name": "istio-proxy",
        "image": proxy_image(values, annotations),
        "ports": [{"containerPort": 15090, "protocol": "TCP", "name": "http-envoy-prom"}],
        "args": [
            "proxy",
            "router" if router else "sidecar",
            "--domain",
            f"$(POD_NAMESPACE).svc.{proxy_values.get('clusterDomain') or 'cluster.local'}",
        ],
        "env": [
            {
                "name": "PILOT_CERT_PROVIDER",
                "value": str(glob.get("pilotCertProvider") or "istiod"),
            },
            {"name": "CA_ADDR", "value": f"{istiod}.{config['namespace']}.svc:15012"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {
                "name": "POD_NAMESPACE",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
            },
            {"name": "ISTIO_META_APP_CONTAINERS", "value": ",".join(str(a) for a in apps)},
            {"name": "ISTIO_META_WORKLOAD_NAME", "value": _workload_name(pod)},
        ],
        "readinessProbe": {
            "httpGet": {"path": "/healthz/ready", "port": 15021},
            "initialDelaySeconds": 0,
            "periodSeconds": 15,
            "timeoutSeconds": 3,
            "failureThreshold": 4,
        },
        "securityContext": {"runAsUser": 1337, "runAsGroup": 1337},
        "volumeMounts": [{"name": n, "mountPath": p} for n, p in PROXY_MOUNTS.items()],
    }
    resources = _resources(values, annotations)
    if resources:
        container["resources"] = resources
    if native:
        container["restartPolicy"] = "Always"
    return container


def _volume(name: str) -> dict[str, Any]:
    if name == "istio-token":
        token = {"path": "istio-token", "expirationSeconds": 43200, "audience": "istio-ca"}
        return {"name": name, "projected": {"sources": [{"serviceAccountToken": token}]}}
    if name == "istiod-ca-cert":
        return {"name": name, "configMap": {"name": "istio-ca-root-cert"}}
    if name == "istio-ca-crl":
        return {"name": name, "configMap": {"name": "istio-ca-crl", "optional": True}}
    if name == "istio-podinfo":
        items = [
            {"path": f, "fieldRef": {"fieldPath": f"metadata.{f}"}}
            for f in ("labels", "annotations")
        ]
        return {"name": name, "downwardAPI": {"items": items}}
    if name == "istio-envoy":
        return {"name": name, "emptyDir": {"medium": "Memory"}}
    return {"name": name, "emptyDir": {}}


def _merge_named(
    items: list[dict[str, Any]], new: dict[str, Any], first: bool, reinjected: bool = False
) -> None:
    """Add ``new``, or merge it into the item of the same name: the pod's own fields win
    (``image: auto`` excepted), but a re-injection replaces what the last one injected."""
    for i, item in enumerate(items):
        if item.get("name") == new["name"]:
            if reinjected:
                items[i] = {**item, **new}
            else:
                items[i] = {**new, **{k: v for k, v in item.items() if v != "auto"}}
            return
    if first:
        items.insert(0, new)
    else:
        items.append(new)


def render_injection(
    pod: dict[str, Any], config: dict[str, Any], template: str, native: bool
) -> None:
    """Inject in place with the ``sidecar`` or ``gateway`` template.

    A pod injected already (another matching webhook ran first) is injected again, the
    new revision's containers and volumes replacing those the status annotation lists —
    as istiod does — so the last matching webhook decides."""
    meta = pod["metadata"]
    spec = pod.setdefault("spec", {})
    labels = meta.setdefault("labels", {})
    annotations = meta.setdefault("annotations", {})
    before = json.loads(annotations.get(STATUS) or "null") or {}
    previous = {
        str(name)
        for key in ("initContainers", "containers", "volumes")
        for name in before.get(key) or ()
    }

    def merge(items: list[dict[str, Any]], new: dict[str, Any], first: bool) -> None:
        _merge_named(items, new, first, reinjected=new["name"] in previous)

    values = config["values"]
    gateway = template == "gateway"
    native = native and not gateway
    apps = [c.get("name") for c in spec.get("containers") or () if c.get("name") != "istio-proxy"]
    init: list[str] = []
    proxy = _proxy(pod, config, router=gateway, native=native)
    if not gateway:
        labels.setdefault("security.istio.io/tlsMode", "istio")
        mode = annotations.get("sidecar.istio.io/interceptionMode", "REDIRECT")
        if mode != "NONE" or native:
            cni = bool(((values.get("pilot") or {}).get("cni") or {}).get("enabled"))
            init.append("istio-validation" if cni else "istio-init")
    canonical = labels.get("app.kubernetes.io/name") or labels.get("app") or _workload_name(pod)
    labels.setdefault("service.istio.io/canonical-name", str(canonical)[:63].rstrip("-"))
    revision = labels.get("app.kubernetes.io/version") or labels.get("version") or "latest"
    labels.setdefault("service.istio.io/canonical-revision", str(revision))
    annotations["istio.io/rev"] = config["revision"] or "default"  # the istiod's own revision
    if apps:
        annotations.setdefault("kubectl.kubernetes.io/default-logs-container", str(apps[0]))
        annotations.setdefault("kubectl.kubernetes.io/default-container", str(apps[0]))
    init_containers = (
        spec.setdefault("initContainers", []) if init or native else spec.get("initContainers")
    )
    if "istio-proxy" in previous:  # re-injected: the proxy may move between the two lists
        other = "containers" if native else "initContainers"
        spec[other] = [c for c in spec.get(other) or () if c.get("name") != "istio-proxy"]
    for name in reversed(init):
        merge(init_containers, _init_container(name, proxy["image"]), first=True)  # type: ignore[arg-type]
    if native:
        merge(init_containers, proxy, first=False)  # type: ignore[arg-type]
        containers_injected: list[str] | None = None
        init_injected: list[str] | None = [*init, "istio-proxy"]
    else:
        merge(spec.setdefault("containers", []), proxy, first=False)
        containers_injected = ["istio-proxy"]
        init_injected = init or None
    volumes = GATEWAY_VOLUMES if gateway else SIDECAR_VOLUMES
    for name in volumes:
        merge(spec.setdefault("volumes", []), _volume(name), first=False)
    pull = (values.get("global") or {}).get("imagePullSecrets") or None
    if pull:
        for secret in pull:
            merge(spec.setdefault("imagePullSecrets", []), {"name": secret}, first=False)
    status = {
        "initContainers": init_injected,
        "containers": containers_injected,
        "volumes": list(volumes),
        "imagePullSecrets": pull,
        "revision": config["revision"] or "default",
    }
    annotations[STATUS] = json.dumps(status, separators=(",", ":"))


def _init_container(name: str, image: str) -> dict[str, Any]:
    args = ["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT"]
    if name == "istio-validation":
        args += ["--run-validation", "--skip-rule-apply"]
    return {
        "name": name,
        "image": image,
        "args": args,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]},
            "runAsUser": 0,
            "runAsGroup": 0,
            "runAsNonRoot": False,
            "readOnlyRootFilesystem": False,
        },
    }
