"""The Helm adapter's upgrade and rollback of Istio's `base` chart on the test server:
a dry run writes nothing, a failed upgrade is rolled back by Helm to what was there, a
good one moves the CRDs' version label, and rollback returns them to the earlier
revision — each seen with kubectl, each a Helm revision of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.kube import KubeTestServer
from commands.install.ports import HelmFailed
from tests.integration.adapters.test_helm import NODES, NS, Bed, _need_helm

pytestmark = pytest.mark.helm
CRD = "peerauthentications.security.istio.io"


@pytest.fixture
def base_bed(tmp_path: Path) -> Iterator[Bed]:
    _need_helm()
    server = KubeTestServer(controllers=True, ready_seconds=0.05)
    server.start()
    try:
        server.load_seed(NODES)
        bed = Bed(server, server.write_kubeconfig(tmp_path / "kubeconfig"), tmp_path)
        bed.helm.install(NS, "istio-base", "base", "1.29.6", {}, timeout_s=120)
        yield bed
        bed.clients.close()
    finally:
        server.stop()


def crd_version(bed: Bed) -> str:
    crd = bed.kubectl("get", "crd", CRD, "-ojson")
    return str(crd["metadata"]["labels"]["app.kubernetes.io/version"])


def revisions(bed: Bed) -> list[str]:
    found = bed.kubectl("get", "secrets", "-n", NS, "-l", "owner=helm,name=istio-base", "-ojson")
    return sorted(s["metadata"]["labels"]["version"] for s in found["items"])


def test_base_upgrades_atomically_and_rolls_back_to_its_earlier_revision(base_bed: Bed) -> None:
    bed = base_bed
    assert crd_version(bed) == "1.29.6" and revisions(bed) == ["1"]

    rendered = bed.helm.upgrade(NS, "istio-base", "base", "1.30.3", {}, dry_run=True)
    assert rendered.chart_version == "1.30.3" and rendered.status == "pending-upgrade"
    assert crd_version(bed) == "1.29.6" and revisions(bed) == ["1"]  # nothing written

    fault = bed.server.faults.add(
        method="PATCH", path_regex=f"customresourcedefinitions/{CRD}", status=500,
        count=1, message="etcd down",
    )  # fmt: skip
    with pytest.raises(HelmFailed) as failed:
        bed.helm.upgrade(NS, "istio-base", "base", "1.30.3", {}, timeout_s=60)
    bed.server.faults.clear()
    assert fault.hits == 1
    assert str(failed.value).startswith("cluster mesh: upgrading istio-base to base 1.30.3 failed")
    assert "etcd down" in str(failed.value)
    back = bed.helm.release(NS, "istio-base")
    assert back is not None and (back.chart_version, back.status) == ("1.29.6", "deployed")
    assert crd_version(bed) == "1.29.6"  # Helm rolled its own upgrade back

    upgraded = bed.helm.upgrade(NS, "istio-base", "base", "1.30.3", {}, timeout_s=60)
    assert (upgraded.chart_version, upgraded.status) == ("1.30.3", "deployed")
    assert crd_version(bed) == "1.30.3"

    rolled = bed.helm.rollback(NS, "istio-base", 1, timeout_s=60)
    assert (rolled.chart_version, rolled.status) == ("1.29.6", "deployed")
    assert rolled.revision > upgraded.revision  # a new revision, history kept
    assert crd_version(bed) == "1.29.6"
    with pytest.raises(HelmFailed, match="no revision 99"):
        bed.helm.rollback(NS, "istio-base", 99)


def test_upgrading_a_release_that_is_not_there_is_refused(base_bed: Bed) -> None:
    with pytest.raises(HelmFailed, match="release istiod-9 is not in istio-system"):
        base_bed.helm.upgrade(NS, "istiod-9", "istiod", "1.30.3", {})
