"""Istio's `base` chart (its CRDs): install it, upgrade it, or leave it — and say why.

Why this exists: a new istiod may rely on fields its CRDs gained since the running
version, so Istio's own Helm upgrade begins with `helm upgrade istio-base istio/base`
before the new revision is installed. The control-plane stage does the same: it installs
`base` when the CRDs are missing, upgrades the Helm release that owns them when they are
older than the version being installed, and leaves them alone otherwise. CRDs that no
Helm release owns (applied by istioctl or kubectl) are not taken over — Helm would
refuse them anyway ("invalid ownership metadata") — the plan says so instead.

The CRDs' version is read where Helm and Istio's chart put it: the owning release from
Helm's `meta.helm.sh/release-name`/`-namespace` annotations, the version from that
release's chart (else the `app.kubernetes.io/version` or `helm.sh/chart` label that
Istio's `istio.labels` helper sets).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from commands.changes.model import ObjectRef
from commands.install.model import BaseUpgrade
from commands.install.ports import Helm

JSON = Any
ISTIO_CRD = ObjectRef(
    "apiextensions.k8s.io/v1",
    "CustomResourceDefinition",
    "customresourcedefinitions",
    "peerauthentications.security.istio.io",
)
RELEASE_NAME = "meta.helm.sh/release-name"
RELEASE_NAMESPACE = "meta.helm.sh/release-namespace"
SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def version_key(version: str) -> tuple[tuple[int, int, int], tuple[tuple[int, int | str], ...]]:
    """A sort key ordering versions as SemVer does (1.30.0-beta.1 < 1.30.0 < 1.30.3);
    ValueError for anything else."""
    found = SEMVER.match(version.strip())
    if not found:
        raise ValueError(f"{version!r} is not a version")
    core = (int(found[1]), int(found[2]), int(found[3]))
    if found[4] is None:
        return core, ((2, 0),)  # a release sorts after each of its pre-releases
    parts: list[tuple[int, int | str]] = [
        (0, int(p)) if p.isdigit() else (1, p) for p in found[4].split(".")
    ]
    return core, tuple(parts)


def is_older(version: str, than: str) -> bool:
    return version_key(version) < version_key(than)


@dataclass(frozen=True)
class BaseDecision:
    needed: bool = False  # CRDs missing: install `base`
    upgrade: BaseUpgrade | None = None  # CRDs older and Helm-owned: upgrade that release
    note: str = ""  # what the plan says when it leaves them alone for a reason


def crd_version(crd: JSON) -> str:
    labels = (crd.get("metadata") or {}).get("labels") or {}
    version = str(labels.get("app.kubernetes.io/version") or "")
    if version:
        return version
    chart = str(labels.get("helm.sh/chart") or "")
    return chart.rpartition("-")[2] if chart.startswith("base-") else ""


def decide_base(crd: JSON | None, helm: Helm, version: str) -> BaseDecision:
    """What the control-plane stage does with `base` when installing `version`."""
    if crd is None:
        return BaseDecision(needed=True)
    annotations = (crd.get("metadata") or {}).get("annotations") or {}
    name = str(annotations.get(RELEASE_NAME) or "")
    namespace = str(annotations.get(RELEASE_NAMESPACE) or "")
    release = helm.release(namespace, name) if name and namespace else None
    if release is not None and release.chart != "base":
        release = None
    found = release.chart_version if release is not None else crd_version(crd)
    try:
        older = is_older(found, version) if found else None
    except ValueError:
        older = None
    if older is False:
        return BaseDecision()
    said = f"at {found}" if found else "of unknown version"
    if release is None:
        return BaseDecision(
            note=f"Istio's CRDs are {said} and no Helm release owns them (applied by "
            "istioctl or kubectl?): the control-plane stage leaves them as they are; "
            f"upgrade them to {version} the way they were installed before approving it"
        )
    if older is None:
        return BaseDecision(
            note=f"Helm release {namespace}/{name} owns Istio's CRDs but its version "
            f"{found!r} cannot be compared with {version}: base is left as it is"
        )
    return BaseDecision(upgrade=BaseUpgrade(namespace, name, found, dict(release.values)))
