"""Istio's base chart when its CRDs are older: upgraded first, by the release that owns them."""

from __future__ import annotations

from typing import Any

import pytest

from commands.changes.model import ChangeState
from commands.changes.pipeline import Pipeline
from commands.core.model import ActionOutcome
from commands.install.base import decide_base, is_older, version_key
from commands.install.model import InstallView
from commands.install.ports import Release
from tests.unit.install.fakes import Bed, FakeHelm, install_bed
from tests.unit.install.test_stages import ALICE, BOB, istiod_comes_up, run

BASE_VALUES = {"defaultRevision": "default"}


def crd(version: str | None, release: str | None = "istio-base") -> dict[str, Any]:
    labels = {"app.kubernetes.io/part-of": "istio"}
    if version:
        labels |= {"app.kubernetes.io/version": version, "helm.sh/chart": f"base-{version}"}
    meta: dict[str, Any] = {"name": "peerauthentications.security.istio.io", "labels": labels}
    if release:
        meta["annotations"] = {
            "meta.helm.sh/release-name": release,
            "meta.helm.sh/release-namespace": "istio-system",
        }
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": meta}  # fmt: skip


def base_release(version: str = "1.29.6") -> Release:
    return Release("istio-base", "istio-system", "base", version, 1, "deployed", BASE_VALUES)


def bed_with_base(version: str = "1.29.6", *, helm_owned: bool = True) -> Bed:
    helm = FakeHelm()
    if helm_owned:
        helm.releases[("istio-system", "istio-base")] = base_release(version)
    bed = install_bed(helm=helm)
    bed.cluster.add(crd(version, "istio-base" if helm_owned else None), "customresourcedefinitions")
    return bed


def test_versions_compare_as_semver_not_as_text() -> None:
    assert is_older("1.29.6", "1.30.3") and is_older("1.9.9", "1.10.0")
    assert is_older("1.30.0-beta.1", "1.30.0") and is_older("1.30.0-alpha.2", "1.30.0-beta.1")
    assert not is_older("1.30.3", "1.30.3") and not is_older("1.31.0", "1.30.3")
    assert version_key("v1.30.3") == version_key("1.30.3+build.7")
    with pytest.raises(ValueError):
        version_key("latest")


def test_base_is_installed_when_missing_upgraded_when_older_and_left_when_current() -> None:
    helm = FakeHelm()
    assert decide_base(None, helm, "1.30.3").needed
    helm.releases[("istio-system", "istio-base")] = base_release()
    older = decide_base(crd("1.29.6"), helm, "1.30.3")
    assert older.upgrade is not None and older.upgrade.from_version == "1.29.6"
    assert older.upgrade.values == BASE_VALUES and not older.needed and not older.note
    helm.releases[("istio-system", "istio-base")] = base_release("1.30.3")
    current = decide_base(crd("1.30.3"), helm, "1.30.3")
    assert current.upgrade is None and not current.needed and not current.note


def test_crds_no_helm_release_owns_are_not_taken_over_and_the_plan_says_so() -> None:
    helm = FakeHelm()
    istioctl = decide_base(crd("1.29.6", release=None), helm, "1.30.3")
    assert istioctl.upgrade is None and "no Helm release owns them" in istioctl.note
    assert "at 1.29.6" in istioctl.note
    unknown = decide_base(crd(None, release=None), helm, "1.30.3")
    assert unknown.upgrade is None and "unknown version" in unknown.note
    bed = bed_with_base(helm_owned=False)
    result = bed.registry.dispatch("install plan version=1.30.3", ALICE, bed.services)
    assert isinstance(result, InstallView)
    assert result.plan.base_upgrade is None and not result.plan.base_needed
    assert any("no Helm release owns them" in n for n in result.plan.notes)
    started = run(bed, f"install start {result.plan.id}")
    change = started.view.stages[0].change  # type: ignore[union-attr]
    assert change is not None and not any("istio-base" in line for line in change.diff)


def test_older_base_is_upgraded_before_istiod_and_rolled_back_with_helm() -> None:
    bed = bed_with_base()
    result = bed.registry.dispatch("install plan version=1.30.3", ALICE, bed.services)
    assert isinstance(result, InstallView)
    assert result.plan.base_upgrade is not None
    assert "istio-base 1.29.6 → 1.30.3" in result.plan.stages[0].title
    started = run(bed, f"install start {result.plan.id}")
    change = started.view.stages[0].change  # type: ignore[union-attr]
    assert change is not None
    assert change.diff == (
        "upgrade HelmRelease istio-system/istio-base 1.29.6 → 1.30.3",
        "install HelmRelease istio-system/istiod-1-30-3 istiod 1.30.3",
    )
    assert any("previous Helm revision" in r.text for r in change.risks)
    assert Pipeline(bed.services).approve(change.id, BOB).outcome is ActionOutcome.DONE
    assert bed.helm.calls == [
        "upgrade istio-base base 1.30.3",
        "install istiod-1-30-3 istiod 1.30.3",
    ]
    upgraded = bed.helm.releases[("istio-system", "istio-base")]
    assert upgraded.chart_version == "1.30.3" and upgraded.values == BASE_VALUES
    istiod_comes_up(bed)
    bed.clock.advance(5)
    Pipeline(bed.services).run_due()
    assert Pipeline(bed.services).find(change.id).state is ChangeState.VERIFIED  # type: ignore[union-attr]
    rolled = Pipeline(bed.services).rollback(change.id, ALICE, "test")
    assert rolled.outcome is ActionOutcome.DONE, rolled.message
    assert bed.helm.calls[-2:] == ["uninstall istiod-1-30-3", "rollback istio-base 1"]
    back = bed.helm.releases[("istio-system", "istio-base")]
    assert back.chart_version == "1.29.6" and back.revision == 3  # Helm's history kept
    assert sorted(n for _, n in bed.helm.releases) == ["istio-base", "istiod"]


def test_a_failed_base_upgrade_fails_the_stage_before_istiod_is_installed() -> None:
    bed = bed_with_base()
    bed.helm.fail_upgrade.append("istio-base")
    result = bed.registry.dispatch("install plan version=1.30.3", ALICE, bed.services)
    assert isinstance(result, InstallView)
    started = run(bed, f"install start {result.plan.id}")
    change_id = started.view.stages[0].change.id  # type: ignore[union-attr]
    acted = Pipeline(bed.services).approve(change_id, BOB)
    assert "rolled back" in acted.message
    assert Pipeline(bed.services).find(change_id).state is ChangeState.FAILED  # type: ignore[union-attr]
    assert bed.helm.calls == ["upgrade istio-base base 1.30.3"]
    assert bed.helm.releases[("istio-system", "istio-base")].chart_version == "1.29.6"
