"""The `preflight:` section of the config file, validated, and turned into core settings.

Thresholds and the Prometheus → node mapping differ per deployment (a cloud with shared
VMs tolerates more steal than bare metal; one Prometheus labels series `node`, another
only has `instance`), so they are config, not constants. The base IstioOperator overlay
the sizing advice adjusts can be replaced by a file of one's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, model_validator

from bot.core.settings import Strict
from commands.preflight.model import PreflightSettings
from commands.preflight.releases import PROFILES, find_release, known_versions


class PreflightConfig(Strict):
    steal_warn_pct: float = Field(default=5.0, ge=0, le=100)
    steal_fail_pct: float = Field(default=10.0, ge=0, le=100)
    headroom_warn_pct: float = Field(
        default=10.0, ge=0, le=100, description="warn when less is left after the mesh"
    )
    node_label: str = Field(default="node", description="Prometheus label holding the node name")
    instance_to_node: dict[str, str] = Field(
        default_factory=dict, description="Prometheus `instance` → node name, where no label"
    )
    system_namespaces: tuple[str, ...] = (
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "istio-system",
    )
    redirection: Literal["iptables", "nftables"] = "iptables"
    default_istio: str = "1.30"
    default_profile: Literal["default", "ambient", "minimal"] = "default"
    base_overlay: Path | None = Field(
        default=None, description="IstioOperator YAML the sizing advice starts from"
    )
    top_subjects: int = Field(default=10, ge=1, le=50, description="subjects shown per check")

    @model_validator(mode="after")
    def _consistent(self) -> PreflightConfig:
        if self.steal_warn_pct > self.steal_fail_pct:
            raise ValueError("steal_warn_pct must not be above steal_fail_pct")
        if find_release(self.default_istio) is None:
            raise ValueError(
                f"default_istio: unknown Istio {self.default_istio} ({known_versions()})"
            )
        assert self.default_profile in PROFILES
        if self.base_overlay is not None:
            try:
                loaded = yaml.safe_load(self.base_overlay.expanduser().read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                raise ValueError(f"base_overlay: cannot read {self.base_overlay}: {exc}") from None
            if not isinstance(loaded, dict) or loaded.get("kind") != "IstioOperator":
                raise ValueError(f"base_overlay: {self.base_overlay} is not an IstioOperator")
        return self

    def to_core(self) -> PreflightSettings:
        overlay = None
        if self.base_overlay is not None:
            overlay = yaml.safe_load(self.base_overlay.expanduser().read_text(encoding="utf-8"))
        return PreflightSettings(
            steal_warn_pct=self.steal_warn_pct,
            steal_fail_pct=self.steal_fail_pct,
            headroom_warn_pct=self.headroom_warn_pct,
            node_label=self.node_label,
            instance_to_node=dict(self.instance_to_node),
            system_namespaces=self.system_namespaces,
            redirection=self.redirection,
            default_istio=self.default_istio,
            default_profile=self.default_profile,
            base_overlay=overlay,
            top_subjects=self.top_subjects,
        )
