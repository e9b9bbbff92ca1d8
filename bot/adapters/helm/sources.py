"""Where Istio's charts come from: a local directory, Istio's Helm repository, or OCI.

Helm itself can load all three (a path, an https URL of a packaged chart, `oci://`),
but it cannot say which versions a source offers, and a wrong version would only fail
deep inside an install. So each source here lists its versions (a directory's folders,
the repository's `index.yaml`, the registry's tags) and turns `chart@version` into what
Helm loads — or a HelmFailed that names the versions there are.

Chart names are the published ones: `base`, `istiod`, `gateway`. A directory may be laid
out as Istio's source tree (`<dir>/<version>/istio-control/istio-discovery` for istiod,
`<dir>/<version>/base`, `<dir>/<version>/gateway`) or flat (`<dir>/<version>/<chart>`).
Remote reads retry transient failures like the kube adapter's reads (same attempts and
backoff); an unreachable source is a message naming it, never a traceback.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urljoin

import httpx
import yaml

from bot.adapters.kube.transport import BACKOFF_BASE_S, BACKOFF_CAP_S, MAX_ATTEMPTS
from commands.install.ports import HelmFailed

SOURCE_LAYOUTS = {"istiod": ("istiod", "istio-control/istio-discovery")}
INDEX_TTL_S = 300.0
VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$")


class ChartSource(Protocol):
    def describe(self) -> str: ...

    def versions(self, chart: str) -> Sequence[str]:
        """Versions of `chart` this source offers, oldest first."""
        ...

    def locate(self, chart: str, version: str) -> tuple[str, str | None]:
        """What Helm loads for chart@version (path or URL) and the version to ask for."""
        ...


def version_key(version: str) -> tuple[int, int, int, int, str]:
    match = VERSION.match(version)
    if match is None:
        return (-1, -1, -1, 0, version)
    major, minor, patch = (int(g) for g in match.groups())
    prerelease = "-" in version.split("+", 1)[0]
    return (major, minor, patch, 0 if prerelease else 1, version)


def ordered(versions: Sequence[str]) -> list[str]:
    return sorted(set(versions), key=version_key)


def unknown_version(chart: str, version: str, source: str, known: Sequence[str]) -> HelmFailed:
    offered = ", ".join(known) if known else "none"
    return HelmFailed(f"chart {chart} {version} is not in {source} (it has: {offered})")


class LocalCharts:
    def __init__(self, root: Path) -> None:
        self.root = root.expanduser()

    def describe(self) -> str:
        return f"charts from {self.root}"

    def _chart_dir(self, version_dir: Path, chart: str) -> Path | None:
        for relative in SOURCE_LAYOUTS.get(chart, (chart,)):
            candidate = version_dir / relative
            if (candidate / "Chart.yaml").is_file():
                return candidate
        return None

    def versions(self, chart: str) -> list[str]:
        if not self.root.is_dir():
            raise HelmFailed(f"chart directory {self.root} does not exist")
        return ordered(
            [d.name for d in self.root.iterdir() if d.is_dir() and self._chart_dir(d, chart)]
        )

    def locate(self, chart: str, version: str) -> tuple[str, str | None]:
        found = self._chart_dir(self.root / version, chart) if "/" not in version else None
        if found is None:
            raise unknown_version(chart, version, str(self.root), self.versions(chart))
        return str(found), None


class _Remote:
    """Reads of a remote source over httpx, retried on what may pass (network, 5xx, 429)."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(timeout=timeout_s, transport=transport, follow_redirects=True)
        self._sleep = sleep

    def _get(self, url: str, what: str, headers: dict[str, str] | None = None) -> httpx.Response:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                response = self._client.get(url, headers=headers)
            except httpx.TransportError as exc:
                if attempt == MAX_ATTEMPTS:
                    raise HelmFailed(f"{what}: {self.url} unreachable: {_reason(exc)}") from None
            else:
                if response.status_code not in (429, 500, 502, 503, 504):
                    return response
                if attempt == MAX_ATTEMPTS:
                    return response
            self._sleep(random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))))
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._client.close()


class RepositoryCharts(_Remote):
    """A classic Helm repository (`index.yaml` beside packaged charts), e.g. Istio's."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._index: dict[str, Any] | None = None
        self._read_at = 0.0

    def describe(self) -> str:
        return f"charts from the Helm repository {self.url}"

    def _entries(self, chart: str) -> list[dict[str, Any]]:
        if self._index is None or time.monotonic() - self._read_at > INDEX_TTL_S:
            what = "reading the chart index"
            response = self._get(f"{self.url}/index.yaml", what)
            if response.status_code != 200:
                raise HelmFailed(f"{what}: {self.url}/index.yaml answered {response.status_code}")
            try:
                index = yaml.safe_load(response.content)
            except yaml.YAMLError:
                index = None
            if not isinstance(index, dict) or not isinstance(index.get("entries"), dict):
                raise HelmFailed(f"{what}: {self.url}/index.yaml is not a Helm repository index")
            self._index, self._read_at = index, time.monotonic()
        entries = self._index["entries"].get(chart) or []
        return [e for e in entries if isinstance(e, dict) and isinstance(e.get("version"), str)]

    def versions(self, chart: str) -> list[str]:
        return ordered([e["version"] for e in self._entries(chart)])

    def locate(self, chart: str, version: str) -> tuple[str, str | None]:
        entries = self._entries(chart)
        for entry in entries:
            if entry["version"] == version and entry.get("urls"):
                return urljoin(self.url + "/", str(entry["urls"][0])), None
        raise unknown_version(chart, version, self.url, ordered([e["version"] for e in entries]))


class OciCharts(_Remote):
    """Charts as OCI artifacts: `oci://host/path/<chart>:<version>`.

    Versions are the registry's tags (distribution API `tags/list`), read anonymously
    through the registry's token challenge, as `helm pull` does for public charts.
    `scheme` is "http" only for a local registry without TLS."""

    def __init__(self, url: str, *, scheme: str = "https", **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.scheme = scheme

    def describe(self) -> str:
        return f"charts from the OCI registry {self.url}"

    def versions(self, chart: str) -> list[str]:
        host, _, path = self.url.removeprefix("oci://").partition("/")
        repository = f"{path}/{chart}".strip("/")
        url = f"{self.scheme}://{host}/v2/{repository}/tags/list"
        what = f"listing the versions of {chart}"
        response = self._get(url, what)
        if response.status_code == 401:
            token = self._anonymous_token(response, repository, what)
            response = self._get(url, what, {"Authorization": f"Bearer {token}"})
        if response.status_code == 404:
            return []
        if response.status_code != 200:
            raise HelmFailed(f"{what}: {self.url}/{chart} answered {response.status_code}")
        tags = response.json().get("tags") or []
        # OCI tags cannot hold "+", so Helm pushes "1.0.0+meta" as "1.0.0_meta".
        versions = [str(tag).replace("_", "+") for tag in tags]
        return ordered([v for v in versions if VERSION.match(v)])

    def _anonymous_token(self, challenge: httpx.Response, repository: str, what: str) -> str:
        header = challenge.headers.get("www-authenticate", "")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', header))
        if not header.lower().startswith("bearer") or "realm" not in fields:
            raise HelmFailed(f"{what}: {self.url} needs credentials meshbot does not have")
        params = {"scope": fields.get("scope", f"repository:{repository}:pull")}
        if "service" in fields:
            params["service"] = fields["service"]
        response = self._get(str(httpx.URL(fields["realm"], params=params)), what)
        token = response.json().get("token") if response.status_code == 200 else None
        if not isinstance(token, str):
            raise HelmFailed(f"{what}: {self.url} refused anonymous access")
        return token

    def locate(self, chart: str, version: str) -> tuple[str, str | None]:
        known = self.versions(chart)
        if version not in known:
            raise unknown_version(chart, version, self.url, known)
        return f"{self.url}/{chart}", version


def chart_source(setting: str, **kwargs: Any) -> ChartSource:
    """The source a `clusters.<name>.install.charts` setting names."""
    if setting.startswith("oci://"):
        return OciCharts(setting, **kwargs)
    if setting.startswith(("https://", "http://")):
        return RepositoryCharts(setting, **kwargs)
    return LocalCharts(Path(setting))


def _reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return text.split("] ", 1)[-1]
