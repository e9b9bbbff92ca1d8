"""`clusters.<name>.install`: where Istio's charts come from, checked when the file loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app.config import ConfigError, load_settings
from bot.core.settings import ISTIO_CHARTS, ClusterConfig


def _load(tmp_path: Path, install: str) -> ClusterConfig:
    path = tmp_path / "meshbot.yaml"
    path.write_text(f"clusters: {{prod: {{install: {install}}}}}\n")
    return load_settings(path, env={}).file.clusters["prod"]


def test_by_default_the_charts_are_istios_published_repository(tmp_path: Path) -> None:
    cluster = _load(tmp_path, "{}")
    assert (
        cluster.install.charts
        == ISTIO_CHARTS
        == "https://istio-release.storage.googleapis.com/charts"
    )
    assert cluster.install.hub == "docker.io/istio"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("oci://registry.example.com/istio/charts/", "oci://registry.example.com/istio/charts"),
        ("https://charts.example.com/istio", "https://charts.example.com/istio"),
    ],
)
def test_a_repository_or_oci_location_is_kept(tmp_path: Path, given: str, kept: str) -> None:
    assert _load(tmp_path, f"{{charts: '{given}'}}").install.charts == kept


def test_an_existing_directory_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "charts").mkdir()
    assert _load(tmp_path, f"{{charts: {tmp_path / 'charts'}}}").install.charts == str(
        tmp_path / "charts"
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("ftp://x/charts", "use an https:// Helm repository, an oci:// location or a directory"),
        ("oci://", "names no host"),
        ("/nowhere/istio-charts", "is not a directory (nor an https:// or oci:// URL)"),
    ],
)
def test_a_bad_chart_source_names_the_field(tmp_path: Path, given: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, f"{{charts: '{given}'}}")
    assert "clusters.prod.install.charts" in str(caught.value)
    assert message in str(caught.value)
