"""A Helm port on helm-sdkpy for the install's integration tests, until the project's
adapter (bot/adapters/helm) is in this tree: real Helm, Istio's own charts from
../shared/istio-charts, Helm's default release storage in the test server."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from commands.install.ports import HelmFailed, Release

CHART_DIRS = {"base": "base", "istiod": "istio-control/istio-discovery", "gateway": "gateway"}


class SdkHelm:
    def __init__(self, helm: Any, kubeconfig: Path, charts: Path) -> None:
        self.helm = helm
        self.kubeconfig = str(kubeconfig)
        self.charts = charts
        self.installs: list[str] = []

    def _config(self, namespace: str) -> Any:
        return self.helm.Configuration(namespace=namespace, kubeconfig=self.kubeconfig)

    def describe(self) -> str:
        return f"charts from {self.charts}"

    def chart_versions(self) -> Sequence[str]:
        return sorted(p.name for p in self.charts.iterdir() if (p / "base").is_dir())

    def release(self, namespace: str, name: str) -> Release | None:
        try:
            data = asyncio.run(self.helm.Status(self._config(namespace)).run(name))
        except self.helm.ReleaseNotFoundError:
            return None
        chart = (data.get("chart") or {}).get("metadata") or {}
        return Release(
            name=str(data.get("name")),
            namespace=namespace,
            chart=str(chart.get("name")),
            chart_version=str(chart.get("version")),
            revision=int(data.get("version") or 0),
            status=str((data.get("info") or {}).get("status")),
            values=dict(data.get("config") or {}),
        )

    def install(
        self,
        namespace: str,
        name: str,
        chart: str,
        version: str,
        values: Mapping[str, Any],
        *,
        dry_run: bool = False,
        timeout_s: float = 300.0,
    ) -> Release:
        path = self.charts / version / CHART_DIRS[chart]
        if not path.is_dir():
            raise HelmFailed(f"no chart {chart} {version} in {self.charts}")
        if dry_run:
            return Release(name, namespace, chart, version, 0, "pending-install", dict(values))
        self.installs.append(name)
        try:
            action = self.helm.Install(self._config(namespace)).run(
                name,
                str(path),
                values=dict(values),
                create_namespace=True,
                wait=True,
                timeout=int(timeout_s),
                rollback_on_failure=True,
            )
            asyncio.run(action)
        except self.helm.HelmError as exc:
            raise HelmFailed(f"installing {name}: {exc}") from None
        found = self.release(namespace, name)
        assert found is not None
        return found

    def uninstall(self, namespace: str, name: str, *, timeout_s: float = 300.0) -> None:
        if self.release(namespace, name) is None:
            return
        asyncio.run(
            self.helm.Uninstall(self._config(namespace)).run(
                name, wait=True, timeout=int(timeout_s)
            )
        )


class SdkHelmClients:
    def __init__(self, helm: SdkHelm) -> None:
        self.helm = helm

    def for_cluster(self, cluster: str) -> SdkHelm:
        return self.helm
