"""Each cluster's kubeconfig checked at start, so a wrong path is said before anything runs.

The kubernetes client only finds out when the first request is made, and then says
"Invalid kube-config file. No configuration found." without naming the file or the
cluster. Here every configured cluster's kubeconfig (its `kubeconfig:`, else
$KUBECONFIG, else ~/.kube/config, the order the client uses) must exist, be a
kubeconfig, and hold the context asked for — or the start fails naming the cluster,
the file and what to set instead. The context's name is also what a cluster given only
by `--kubeconfig` is called.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.core.settings import ClusterConfig, ConfigError

DEFAULT_KUBECONFIG = Path("~/.kube/config")


@dataclass(frozen=True)
class Kubeconfig:
    paths: tuple[Path, ...]
    contexts: tuple[str, ...]
    current: str | None


def kubeconfig_paths(
    configured: Path | None, environ: Mapping[str, str] | None = None
) -> tuple[Path, ...]:
    """The files the client would read: the configured one, else $KUBECONFIG's, else default."""
    if configured is not None:
        return (configured.expanduser(),)
    env = os.environ if environ is None else environ
    listed = [Path(p).expanduser() for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    return tuple(listed) if listed else (DEFAULT_KUBECONFIG.expanduser(),)


def read_kubeconfig(paths: tuple[Path, ...], what: str) -> Kubeconfig:
    """Contexts and current context of these files (merged as the client merges them)."""
    existing = [p for p in paths if p.is_file()]
    if not existing:
        shown = ", ".join(str(p) for p in paths)
        raise ConfigError(f"{what}: no kubeconfig at {shown}")
    contexts: list[str] = []
    current: str | None = None
    for path in existing:
        doc = _load(path, what)
        for entry in doc.get("contexts") or ():
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                contexts.append(entry["name"])
        if current is None and isinstance(doc.get("current-context"), str):
            current = doc["current-context"] or None
    return Kubeconfig(tuple(existing), tuple(dict.fromkeys(contexts)), current)


def _load(path: Path, what: str) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read kubeconfig {path}: {exc.strerror}") from None
    except yaml.YAMLError:
        raise ConfigError(f"{what}: {path} is not a kubeconfig (not valid YAML)") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("contexts") or [], list):
        raise ConfigError(f"{what}: {path} is not a kubeconfig (no `contexts:` list)")
    return doc


def check_cluster(name: str, cluster: ClusterConfig, where: str) -> None:
    """Raise ConfigError unless the cluster's kubeconfig and context can be used.

    `where` is how the user gave the cluster (`clusters.prod` in the config, or the
    `--kubeconfig` flag), so the message says what to change."""
    if cluster.in_cluster:
        return
    paths = kubeconfig_paths(cluster.kubeconfig)
    try:
        config = read_kubeconfig(paths, f"cluster `{name}`")
    except ConfigError as exc:
        raise ConfigError(f"{exc}{_fix_path(where, cluster)}") from None
    files = ", ".join(str(p) for p in config.paths)
    known = ", ".join(config.contexts) or "none"
    if cluster.context is not None and cluster.context not in config.contexts:
        raise ConfigError(
            f"cluster `{name}`: context `{cluster.context}` is not in {files} "
            f"(its contexts: {known})"
        )
    if cluster.context is None and config.current is None:
        raise ConfigError(
            f"cluster `{name}`: {files} sets no current-context; name one with "
            f"{_context_key(where)} (its contexts: {known})"
        )


def check_clusters(clusters: Mapping[str, ClusterConfig], adhoc: bool = False) -> None:
    for name, cluster in clusters.items():
        check_cluster(name, cluster, "--kubeconfig" if adhoc else f"clusters.{name}")


def current_context(path: Path) -> str | None:
    """The current-context a kubeconfig file names, or None (unreadable: None too)."""
    try:
        return read_kubeconfig((path.expanduser(),), "kubeconfig").current
    except ConfigError:
        return None


def _fix_path(where: str, cluster: ClusterConfig) -> str:
    if where == "--kubeconfig":
        return " (give an existing file to --kubeconfig)"
    if cluster.kubeconfig is not None:
        return f" (fix {where}.kubeconfig, or use in_cluster: true inside the cluster)"
    return (
        f" (set {where}.kubeconfig to your kubeconfig file, or in_cluster: true when "
        "meshbot runs inside the cluster)"
    )


def _context_key(where: str) -> str:
    return "--context NAME" if where == "--kubeconfig" else f"{where}.context"
