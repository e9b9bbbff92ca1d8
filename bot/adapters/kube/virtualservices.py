"""VirtualServices and the apps' own timeouts (the `VirtualServices` port) for `/mesh timeouts`.

networking.istio.io is served as v1, v1beta1 and v1alpha3 depending on the Istio
release; the same objects come back from any of them, so we read the newest one the
cluster serves (v1 first) and write back in that version. The apps' timeouts are
annotations on workloads (`meshbot.io/app-timeout: 1.5s` on a Deployment, its pod
template, a StatefulSet, or a bare pod); with the Services' selectors the core works
out which service each annotated workload is. Lists are raw JSON pages through the
generic object reads (no typed models), so a large cluster stays cheap.
"""

from __future__ import annotations

from typing import Any

from bot.adapters.kube.objects import ObjectsMixin
from commands.timeouts.model import AppTimeoutSource, ServiceRecord

JSON = Any
GROUP = "networking.istio.io"
PREFERRED = ("v1", "v1beta1", "v1alpha3")


class VirtualServicesMixin(ObjectsMixin):
    """Mixed into `KubeCluster`; reads via `served_versions`/`list_objects` of `ObjectsMixin`."""

    def virtual_service_api_version(self) -> str | None:
        served = set(self.served_versions(GROUP))
        for version in PREFERRED:
            if version in served:
                return f"{GROUP}/{version}"
        return None

    def list_virtual_services(self, namespace: str | None = None) -> list[JSON]:
        api_version = self.virtual_service_api_version()
        if api_version is None:
            return []
        return list(self.list_objects(api_version, "virtualservices", namespace=namespace))

    def app_timeout_annotations(
        self, annotation: str, namespace: str | None = None
    ) -> list[AppTimeoutSource]:
        found: list[AppTimeoutSource] = []
        owners: set[tuple[str, str]] = set()
        for plural, kind in (("deployments", "Deployment"), ("statefulsets", "StatefulSet")):
            for obj in self.list_objects("apps/v1", plural, namespace=namespace):
                meta = obj.get("metadata") or {}
                template = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
                value = (meta.get("annotations") or {}).get(annotation) or (
                    template.get("annotations") or {}
                ).get(annotation)
                if not value:
                    continue
                ns = str(meta.get("namespace") or "default")
                owners.add((ns, str(meta.get("name"))))
                found.append(
                    AppTimeoutSource(
                        ns, kind, str(meta.get("name")), dict(template.get("labels") or {}), value
                    )
                )
        for pod in self.list_objects("v1", "pods", namespace=namespace):
            meta = pod.get("metadata") or {}
            value = (meta.get("annotations") or {}).get(annotation)
            if not value or meta.get("ownerReferences"):
                continue  # pods of a workload carry its template's annotation: counted above
            ns = str(meta.get("namespace") or "default")
            found.append(
                AppTimeoutSource(
                    ns, "Pod", str(meta.get("name")), dict(meta.get("labels") or {}), value
                )
            )
        return found

    def service_records(self, namespace: str | None = None) -> list[ServiceRecord]:
        return [
            ServiceRecord(
                str((s.get("metadata") or {}).get("namespace") or "default"),
                str((s.get("metadata") or {}).get("name")),
                dict((s.get("spec") or {}).get("selector") or {}),
            )
            for s in self.list_objects("v1", "services", namespace=namespace)
        ]
