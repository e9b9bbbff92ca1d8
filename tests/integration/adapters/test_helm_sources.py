"""Chart sources other than a directory: a Helm repository and an OCI registry, offline.

No internet here, so the repository is a real one served on 127.0.0.1: Istio's charts
packaged by Helm into a temporary folder with an `index.yaml` beside them, as
istio-release.storage.googleapis.com serves them; real Helm then installs from it by
URL. The OCI registry is a stand-in that speaks the part meshbot itself uses (token
challenge, `tags/list`); Helm's pull from a registry is not exercised. An unreachable
source is a message naming it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.adapters.helm import HelmFromConfig
from bot.adapters.helm.cluster import scrub
from bot.adapters.helm.sources import OciCharts, RepositoryCharts, chart_source
from bot.core.settings import ClusterConfig, ClusterInstallConfig
from bot.sandbox.kube import KubeTestServer
from commands.install.ports import HelmFailed
from tests.fixtures.shared import missing, shared_path

PACKAGED = (("base", "1.30.3", "base"), ("istiod", "1.29.6", "istio-control/istio-discovery"),
            ("istiod", "1.30.3", "istio-control/istio-discovery"))  # fmt: skip


def _no_sleep(_: float) -> None:
    pass


def _serve(handler: Any) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"127.0.0.1:{server.server_port}"


@pytest.fixture
def repository(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """Istio's charts packaged into a Helm repository served over HTTP; (url, paths asked)."""
    try:
        import helm_sdkpy as helm
    except ImportError:
        missing("helm-sdkpy is not installed (pip install -e '.[test,install]' on Python 3.12)")
    charts = tmp_path / "charts"
    entries: dict[str, list[dict[str, Any]]] = {}
    for name, version, relative in PACKAGED:
        source = shared_path("istio-charts") / version / relative
        package = helm.Package(helm.Configuration()).run(str(source), str(charts))
        packaged = Path(asyncio.run(package))
        entries.setdefault(name, []).append(
            {"name": name, "version": version, "urls": [packaged.name], "apiVersion": "v2"}
        )
    (charts / "index.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "entries": entries}))
    asked: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            super().do_GET()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server, address = _serve(functools.partial(Handler, directory=str(tmp_path)))
    try:
        yield f"http://{address}/charts", asked
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.helm
def test_a_helm_repository_lists_versions_and_installs_by_url(
    repository: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, asked = repository
    cluster = KubeTestServer(controllers=True, ready_seconds=0.05)
    cluster.start()
    try:
        config = ClusterConfig(
            kubeconfig=cluster.write_kubeconfig(tmp_path / "kubeconfig"),
            install=ClusterInstallConfig(charts=url),
        )
        clients = HelmFromConfig({"mesh": config})
        helm = clients.for_cluster("mesh")
        assert helm.describe().endswith(f"charts from the Helm repository {url}")
        assert list(helm.chart_versions()) == ["1.29.6", "1.30.3"]
        with pytest.raises(HelmFailed) as unknown:
            helm.install("istio-system", "istio-base", "base", "1.29.6", {})
        assert str(unknown.value) == f"chart base 1.29.6 is not in {url} (it has: 1.30.3)"

        base = helm.install("istio-system", "istio-base", "base", "1.30.3", {}, timeout_s=120)
        assert (base.chart, base.chart_version, base.status) == ("base", "1.30.3", "deployed")
        assert "/charts/base-1.30.3.tgz" in asked
        assert asked.count("/charts/index.yaml") == 1  # read once, then kept
        crd = cluster.get_object(
            "apiextensions.k8s.io/v1", "customresourcedefinitions", "gateways.networking.istio.io"
        )
        assert crd is not None
        assert crd["metadata"]["annotations"]["meta.helm.sh/release-name"] == "istio-base"
        helm.uninstall("istio-system", "istio-base")
        assert helm.release("istio-system", "istio-base") is None
        clients.close()
    finally:
        cluster.stop()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_source_is_a_message_naming_it() -> None:
    port = _closed_port()
    repo = RepositoryCharts(f"http://127.0.0.1:{port}/charts", sleep=_no_sleep)
    with pytest.raises(HelmFailed) as down:
        repo.versions("istiod")
    assert str(down.value).startswith(
        f"reading the chart index: http://127.0.0.1:{port}/charts unreachable: "
    )
    assert "Connection refused" in str(down.value) or "connect" in str(down.value).lower()
    oci = OciCharts(f"oci://127.0.0.1:{port}/istio", scheme="http", sleep=_no_sleep)
    with pytest.raises(HelmFailed) as also_down:
        oci.locate("istiod", "1.30.3")
    assert str(also_down.value).startswith(
        f"listing the versions of istiod: oci://127.0.0.1:{port}/istio unreachable: "
    )
    repo.close()
    oci.close()


def test_a_source_answering_errors_is_retried_then_named() -> None:
    calls: list[str] = []

    class Failing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            calls.append(self.path)
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server, address = _serve(Failing)
    try:
        repo = RepositoryCharts(f"http://{address}/charts", sleep=_no_sleep)
        with pytest.raises(HelmFailed) as failed:
            repo.versions("istiod")
        assert str(failed.value) == (
            f"reading the chart index: http://{address}/charts/index.yaml answered 503"
        )
        assert calls == ["/charts/index.yaml"] * 4
        repo.close()
    finally:
        server.shutdown()
        server.server_close()


def test_oci_versions_come_from_the_registry_tags_with_an_anonymous_token() -> None:
    seen: list[tuple[str, str]] = []

    class Registry(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append((self.path, self.headers.get("Authorization") or ""))
            if self.path.startswith("/token?"):
                self._json(200, {"token": "anon-123"})
            elif self.headers.get("Authorization") != "Bearer anon-123":
                challenge = (
                    f'Bearer realm="http://{self.headers["Host"]}/token",'
                    'service="registry.test",scope="repository:istio/charts/istiod:pull"'
                )
                self._json(401, {"errors": [{"code": "UNAUTHORIZED"}]}, challenge)
            elif self.path == "/v2/istio/charts/istiod/tags/list":
                tags = ["1.30.3", "1.29.6", "latest", "1.31.0-beta.1", "1.30.3_build.1"]
                self._json(200, {"name": "istio/charts/istiod", "tags": tags})
            else:
                self._json(404, {"errors": [{"code": "NAME_UNKNOWN"}]})

        def _json(self, status: int, body: Any, challenge: str = "") -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            if challenge:
                self.send_header("WWW-Authenticate", challenge)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server, address = _serve(Registry)
    try:
        oci = OciCharts(f"oci://{address}/istio/charts", scheme="http", sleep=_no_sleep)
        assert oci.versions("istiod") == ["1.29.6", "1.30.3", "1.30.3+build.1", "1.31.0-beta.1"]
        token_asked = [path for path, _ in seen if path.startswith("/token?")]
        assert token_asked == [
            "/token?scope=repository%3Aistio%2Fcharts%2Fistiod%3Apull&service=registry.test"
        ]
        assert oci.locate("istiod", "1.30.3") == (f"oci://{address}/istio/charts/istiod", "1.30.3")
        with pytest.raises(HelmFailed) as unknown:
            oci.locate("istiod", "1.28.0")
        assert str(unknown.value) == (
            f"chart istiod 1.28.0 is not in oci://{address}/istio/charts "
            "(it has: 1.29.6, 1.30.3, 1.30.3+build.1, 1.31.0-beta.1)"
        )
        assert oci.versions("gateway") == []
        oci.close()
    finally:
        server.shutdown()
        server.server_close()


def test_the_setting_picks_the_source() -> None:
    assert isinstance(chart_source("oci://r.example.com/istio"), OciCharts)
    assert isinstance(chart_source("https://istio-release.storage.googleapis.com/charts"),
                      RepositoryCharts)  # fmt: skip
    local = chart_source(str(shared_path("istio-charts")))
    assert local.versions("gateway") == ["1.29.6", "1.30.3"]
    assert local.locate("istiod", "1.29.6") == (
        str(shared_path("istio-charts") / "1.29.6" / "istio-control" / "istio-discovery"),
        None,
    )


def test_credentials_in_a_helm_message_are_scrubbed() -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtZXNoYm90In0.c2lnbmF0dXJlLXZhbHVl"
    said = (
        f'Get "https://u:hunter2@api.example.com/x": Authorization: Bearer abc.def; '
        f'token="t0ps3cret" password: p4ss {jwt}'
    )
    assert scrub(said) == (
        'Get "https://[redacted]@api.example.com/x": Authorization: Bearer [redacted]; '
        'token="[redacted]" password: [redacted] [redacted]'
    )
