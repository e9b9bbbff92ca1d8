"""Istio's base chart older than the install, on real Helm: base and istiod 1.29.6 were
installed by Helm; the control-plane stage to 1.30.3 upgrades `istio-base` first (a new
Helm revision, the CRDs' version label moves) and installs `istiod-1-30-3`; its rollback
uninstalls exactly istiod-1-30-3 and rolls `istio-base` back to its previous revision."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core.dispatch import run_command
from bot.sandbox.kube import KubeTestServer
from commands.changes.model import ChangeState
from commands.changes.pipeline import Pipeline
from commands.core.model import ActionOutcome
from commands.install.model import InstallActed, InstallView
from tests.fixtures.meshbot import RunningBot
from tests.integration.install.conftest import (
    ALICE,
    BOB,
    bot_config,
    helm_of,
    helm_revisions,
    kubectl_json,
    state_of,
    wait_until,
)

pytestmark = pytest.mark.helm
CRD = "peerauthentications.security.istio.io"


def crd_version(kubeconfig: Path, tmp: Path) -> str:
    crd = kubectl_json(kubeconfig, tmp, "get", "crd", CRD)
    return str(crd["metadata"]["labels"]["app.kubernetes.io/version"])


def test_older_base_is_upgraded_first_and_rolled_back_by_helm(
    istio_cluster: tuple[KubeTestServer, Path],
    install_bot: Callable[..., RunningBot],
    tmp_path: Path,
) -> None:
    _, kubeconfig = istio_cluster
    assert crd_version(kubeconfig, tmp_path) == "1.29.6"
    bot = install_bot(bot_config(kubeconfig))
    planned = run_command(bot.runtime, "install plan version=1.30.3", ALICE)
    assert isinstance(planned, InstallView), planned
    assert planned.plan.base_upgrade is not None
    assert planned.plan.base_upgrade.from_version == "1.29.6"
    started = run_command(bot.runtime, f"install start {planned.plan.id}", ALICE)
    assert isinstance(started, InstallActed) and started.view is not None, started
    change = started.view.stages[0].change
    assert change is not None, started.message
    assert "upgrade HelmRelease istio-system/istio-base 1.29.6 → 1.30.3" in change.diff
    assert helm_revisions(kubeconfig, tmp_path, "istio-base") == ["1"]  # dry run wrote nothing

    acted = Pipeline(bot.runtime.services).approve(change.id, BOB)
    assert acted.outcome is ActionOutcome.DONE, acted.message
    wait_until(lambda: state_of(bot, change.id) is ChangeState.VERIFIED, "verified", 120)
    assert crd_version(kubeconfig, tmp_path) == "1.30.3"
    assert helm_revisions(kubeconfig, tmp_path, "istio-base") == ["1", "2"]
    base = helm_of(bot).release("istio-system", "istio-base")
    assert base is not None and (base.chart_version, base.status) == ("1.30.3", "deployed")

    rolled = Pipeline(bot.runtime.services).rollback(change.id, ALICE, "canary went wrong")
    assert rolled.outcome is ActionOutcome.DONE, rolled.message
    wait_until(lambda: state_of(bot, change.id) is ChangeState.ROLLED_BACK, "rolled back", 120)
    assert helm_of(bot).release("istio-system", "istiod-1-30-3") is None
    assert helm_revisions(kubeconfig, tmp_path, "istiod-1-30-3") == []
    assert helm_revisions(kubeconfig, tmp_path, "istio-base") == ["1", "2", "3"]
    assert crd_version(kubeconfig, tmp_path) == "1.29.6"
    istiod = helm_of(bot).release("istio-system", "istiod")
    assert istiod is not None and istiod.chart_version == "1.29.6"
