"""Istio sidecar injection, driven by the MutatingWebhookConfigurations the server stores.

A staged Istio install moves namespaces between revisions by label and restarts their
workloads; what tells the operator it worked is that new pods carry the new revision's
proxy. So pod creation here goes through the mutating admission step a real API server
runs: the webhook configurations stored (Istio's chart installs ``istio-sidecar-injector
[-<rev>]`` and, with ``revisionTags``, ``istio-revision-tag-<tag>``) are matched against
the pod's namespace labels (``namespaceSelector``) and its own labels
(``objectSelector``), and a matching Istio injector webhook injects as that revision's
istiod would.

Order and precedence, as in Kubernetes and Istio: the API server calls every matching
webhook in turn, configurations sorted by name and webhooks in their listed order
(apiserver's mutating webhook manager); istiod injects a pod that carries
``sidecar.istio.io/status`` already again, replacing the earlier injection (its
re-injection path), so the LAST matching webhook decides. Istio's selectors keep one
revision's webhooks exclusive; across configurations they overlap only when, say, a
``default`` tag (``istio-revision-tag-default``) and the default revision's own
``istio-sidecar-injector`` both exist — then ``istio-sidecar-injector``, later in name
order, wins, which is why ``istioctl tag set default`` deactivates it. The
webhook's Service (``istiod[-<rev>]``) names the istiod, whose injector ConfigMap
(``istio-sidecar-injector[-<rev>]``, as the chart renders it) gives the proxy image
(``global.hub``/``global.proxy.image``:``global.tag`` with ``global.variant``, or a full
image name), the revision, the policy and the proxy resources. istiod's own checks apply
(``sidecar.istio.io/inject`` label or annotation, host-network pods and kube-system
namespaces skipped). Native sidecars (``istio-proxy`` as an init container with
``restartPolicy: Always``) are chosen as istiod 1.29/1.30 do: ``ENABLE_NATIVE_SIDECARS``
from ``pilot.env``, else on when every node's kubelet (or the pod's node's) is >= 1.33.
Templates ``sidecar`` and ``gateway`` are rendered in outline (the containers, volumes,
labels and annotations other tools read), not Istio's full template. Only Istio's
injector webhooks are simulated; other webhook configurations are stored but not called.
A webhook whose Service or ConfigMap is missing fails the pod creation (failurePolicy
Fail), with the real server's wording.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import ApiError
from .selectors import selector_matches
from .sidecar import render_injection
from .store import Store

MWC = ("admissionregistration.k8s.io", "mutatingwebhookconfigurations")
ISTIO_WEBHOOK = "sidecar-injector.istio.io"
IGNORED_NAMESPACES = frozenset(
    {"kube-system", "kube-public", "kube-node-lease", "local-path-storage"}
)


def _rules_match(webhook: dict[str, Any]) -> bool:
    """Does the webhook ask for CREATE of v1 pods?"""
    for rule in webhook.get("rules") or ():
        if (
            {"CREATE", "*"} & set(rule.get("operations") or ())
            and {"", "*"} & set(rule.get("apiGroups") or ())
            and {"v1", "*"} & set(rule.get("apiVersions") or ())
            and {"pods", "*"} & set(rule.get("resources") or ())
        ):
            return True
    return False


class Injector:
    """Reads what istiod reads from the store; one per server."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._configs: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}

    def admit(self, pod: dict[str, Any]) -> None:
        """Mutate ``pod`` (being created) as the matching injector webhooks would."""
        meta = pod.setdefault("metadata", {})
        namespace = self.store.get(("", "namespaces"), ("", meta.get("namespace") or ""))
        ns_labels = ((namespace or {}).get("metadata") or {}).get("labels") or {}
        with self.store.lock:  # a snapshot: other requests may write meanwhile
            configs = [c for _k, c in sorted(self.store.objects(MWC).items())]
        for config in configs:
            for webhook in config.get("webhooks") or ():
                name = str(webhook.get("name", ""))
                if not name.endswith(ISTIO_WEBHOOK) or not _rules_match(webhook):
                    continue
                if not selector_matches(webhook.get("namespaceSelector"), ns_labels):
                    continue
                if not selector_matches(webhook.get("objectSelector"), meta.get("labels")):
                    continue
                self._call(name, webhook, pod)

    def _call(self, name: str, webhook: dict[str, Any], pod: dict[str, Any]) -> None:
        service = (webhook.get("clientConfig") or {}).get("service")
        if not service:
            return  # a URL webhook (remote istiod) is not simulated
        svc, svc_ns = str(service.get("name", "")), str(service.get("namespace", ""))

        def failed(why: str) -> ApiError:
            return ApiError(
                500,
                "InternalError",
                f'Internal error occurred: failed calling webhook "{name}": failed to call '
                f'webhook: Post "https://{svc}.{svc_ns}.svc:443/inject?timeout=10s": {why}',
            )

        if self.store.get(("", "services"), (svc_ns, svc)) is None:
            raise failed(f'service "{svc}" not found')
        revision = svc[len("istiod-") :] if svc.startswith("istiod-") else ""
        config = self._config(svc_ns, revision)
        if config is None:
            raise failed(f'no endpoints available for service "{svc}"')
        if self._required(pod, config):
            self._inject(pod, config)

    def _config(self, namespace: str, revision: str) -> dict[str, Any] | None:
        name = "istio-sidecar-injector" + (f"-{revision}" if revision else "")
        stored = self.store.get(("", "configmaps"), (namespace, name))
        if stored is None:
            return None
        version = stored["metadata"]["resourceVersion"]
        known = self._configs.get((namespace, name))
        if known is not None and known[0] == version:
            return known[1]
        data = stored.get("data") or {}
        values = json.loads(data.get("values") or "{}")
        text = data.get("config") or ""
        policy = re.search(r"^policy:\s*(\S+)", text, re.M)
        defaults = re.search(r"^defaultTemplates:\s*\[([^\]]*)\]", text, re.M)
        cached = {
            "values": values,
            "policy": policy.group(1) if policy else "enabled",
            "templates": [
                t.strip() for t in (defaults.group(1) if defaults else "sidecar").split(",")
            ],
            "namespace": namespace,
            "revision": values.get("revision") or revision,
        }
        self._configs[(namespace, name)] = (version, cached)
        return cached

    def _required(self, pod: dict[str, Any], config: dict[str, Any]) -> bool:
        """istiod's injectRequired: host network, ignored namespaces, inject label/annotation."""
        meta, spec = pod["metadata"], pod.get("spec") or {}
        if spec.get("hostNetwork") or meta.get("namespace") in IGNORED_NAMESPACES:
            return False
        choice = (meta.get("annotations") or {}).get("sidecar.istio.io/inject", "")
        choice = (meta.get("labels") or {}).get("sidecar.istio.io/inject", choice)
        if not choice:
            return config["policy"] == "enabled"
        return str(choice).lower() in ("y", "yes", "true", "on")

    def _native(self, pod: dict[str, Any], config: dict[str, Any]) -> bool:
        override = (pod["metadata"].get("annotations") or {}).get("sidecar.istio.io/nativeSidecar")
        if override is not None:
            return override != "false"
        env = ((config["values"].get("pilot") or {}).get("env") or {}).get(
            "ENABLE_NATIVE_SIDECARS", "auto"
        )
        if str(env).lower() in ("true", "false"):
            return str(env).lower() == "true"
        with self.store.lock:
            nodes = dict(self.store.objects(("", "nodes")))
        node_name = (pod.get("spec") or {}).get("nodeName")
        if node_name and ("", node_name) in nodes:
            return _kubelet_supports_native(nodes[("", node_name)])
        return all(_kubelet_supports_native(n) for n in nodes.values())

    def _inject(self, pod: dict[str, Any], config: dict[str, Any]) -> None:
        annotations = pod["metadata"].get("annotations") or {}
        templates = [
            t.strip()
            for t in annotations.get("inject.istio.io/templates", "").split(",")
            if t.strip()
        ] or config["templates"]
        render_injection(
            pod,
            config,
            "gateway" if "gateway" in templates else "sidecar",
            self._native(pod, config),
        )


def _kubelet_supports_native(node: dict[str, Any]) -> bool:
    version = (((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion")) or ""
    match = re.match(r"^v?\d+\.(\d+)", version)
    return bool(match) and int(match.group(1)) >= 33  # type: ignore[union-attr]
