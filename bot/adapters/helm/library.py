"""Whether Helm can be used here at all, decided once, with what to do when it cannot.

helm-sdkpy (Helm v4 compiled into a shared library) needs Python >= 3.12, so it is the
optional extra `meshbot[install]`: a meshbot without it still runs everything but the
install, and says what to install when asked for one. Helm's release storage must be its
default (Secrets in the release's namespace): the Go runtime reads HELM_DRIVER once, when
the library loads, and a `memory` driver would forget every release when meshbot stops —
so another driver in the environment is refused here, not discovered after an install.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping
from types import ModuleType

from commands.install.ports import HelmUnavailable

INSTALL_HINT = "pip install 'meshbot[install]' (Python >= 3.12)"
SECRET_DRIVERS = frozenset({"", "secret", "secrets"})


def load_helm(
    *,
    python: tuple[int, int] | None = None,
    import_module: Callable[[str], ModuleType] = importlib.import_module,
    environ: Mapping[str, str] | None = None,
) -> ModuleType:
    """The `helm_sdkpy` module, or HelmUnavailable saying why and what to install."""
    major, minor = python if python is not None else sys.version_info[:2]
    if (major, minor) < (3, 12):
        raise HelmUnavailable(
            f"Helm needs Python >= 3.12 (this is {major}.{minor}): run meshbot on Python "
            f"3.12 or later with {INSTALL_HINT}"
        )
    try:
        helm = import_module("helm_sdkpy")
    except ImportError:
        raise HelmUnavailable(f"Helm is not installed: {INSTALL_HINT}") from None
    try:
        helm.get_version()
    except helm.HelmLibraryNotFound as exc:
        raise HelmUnavailable(f"Helm's library cannot be loaded ({exc}): {INSTALL_HINT}") from None
    driver = (os.environ if environ is None else environ).get("HELM_DRIVER", "")
    if driver.lower() not in SECRET_DRIVERS:
        raise HelmUnavailable(
            f"HELM_DRIVER={driver} would keep Helm's releases outside the cluster's Secrets, "
            "where a restart or another replica cannot find them: unset HELM_DRIVER"
        )
    return helm
