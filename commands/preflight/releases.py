"""Istio releases and the platform facts the preflight checks against, kept as data.

One table, one place: a new Istio release is one row here, and every check (version
support, the minimum istioctl enforces, the ports the sidecar owns) reads from it.
Source: istio.io data/compatibility/supportStatus.yml and the application requirements.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IstioRelease:
    version: str
    released: str
    k8s_min: tuple[int, int]
    k8s_max: tuple[int, int]
    k8s_enforced_min: tuple[int, int]

    @property
    def supported_range(self) -> str:
        return f"1.{self.k8s_min[1]}-1.{self.k8s_max[1]}"


RELEASES: tuple[IstioRelease, ...] = (
    IstioRelease("1.30", "2026-05-14", (1, 32), (1, 36), (1, 32)),
    IstioRelease("1.29", "2026-02-16", (1, 31), (1, 35), (1, 30)),
    IstioRelease("1.28", "2025-11-05", (1, 30), (1, 34), (1, 29)),
    IstioRelease("1.27", "2025-08-11", (1, 29), (1, 33), (1, 29)),
    IstioRelease("1.26", "2025-05-08", (1, 29), (1, 33), (1, 29)),
    IstioRelease("1.25", "2025-03-03", (1, 29), (1, 32), (1, 28)),
    IstioRelease("1.24", "2024-11-07", (1, 28), (1, 31), (1, 28)),
)
LATEST = RELEASES[0].version
PROFILES = ("default", "ambient", "minimal")

# Ports the sidecar owns; an application container port among them collides.
SIDECAR_PORTS: frozenset[int] = frozenset(
    {15000, 15001, 15002, 15004, 15006, 15008, 15020, 15021, 15053, 15090}
)
PROXY_UID = 1337
# Protocols Istio recognises from a Service port name `<proto>[-suffix]` or appProtocol.
PROTOCOLS: frozenset[str] = frozenset(
    {"http", "http2", "https", "tcp", "tls", "grpc", "grpc-web", "mongo", "mysql", "redis", "udp"}
)
# Kernel needed by the nftables redirection mode; iptables mode has no minimum version.
NFTABLES_MIN_KERNEL = (5, 13)
SUPPORTED_ARCHITECTURES = frozenset({"amd64", "arm64"})


def find_release(version: str) -> IstioRelease | None:
    """The release `1.30` (also accepts `1.30.2`, `v1.30`)."""
    text = version.strip().lstrip("v")
    major_minor = ".".join(text.split(".")[:2])
    return next((r for r in RELEASES if r.version == major_minor), None)


def known_versions() -> str:
    return ", ".join(r.version for r in RELEASES)


def minor_of(version: str) -> tuple[int, int] | None:
    """(major, minor) of `v1.33.2`, `1.33+`, `1.30.1-distroless`; None when unreadable."""
    text = version.strip().lstrip("v")
    parts = text.split(".")
    if len(parts) < 2:
        return None
    try:
        major = int(parts[0])
        minor = int("".join(ch for ch in parts[1] if ch.isdigit()) or "x")
    except ValueError:
        return None
    return major, minor


def protocol_of(port_name: str | None, app_protocol: str | None) -> str | None:
    """The protocol Istio reads from a port's appProtocol or name; None means auto-detect."""
    if app_protocol:
        return app_protocol.lower()
    if not port_name:
        return None
    prefix = port_name.lower().split("-")[0]
    if port_name.lower().startswith("grpc-web"):
        return "grpc-web"
    return prefix if prefix in PROTOCOLS else None
