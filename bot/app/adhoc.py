"""`--kubeconfig/--context/--prometheus`: one cluster described by flags, no config file.

Lets any command run in a CI pipeline against a cluster given on the command line
(`meshbot preflight --kubeconfig F --context C --prometheus URL --output json`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import ValidationError

from bot.app.config import Settings
from bot.app.kubeconfigs import check_cluster, current_context, kubeconfig_paths
from bot.core.settings import ClusterConfig, ConfigError, PrometheusConfig

ADHOC_FLAGS = ("--kubeconfig", "--context", "--prometheus")


def with_adhoc_cluster(
    settings: Settings, flags: Mapping[str, str], words: Sequence[str]
) -> Settings:
    """Settings whose only cluster is the one the flags describe (no flags: unchanged).

    `meshbot preflight --kubeconfig F --context C --prometheus URL [--cluster NAME]` then
    needs no config file: the cluster is named NAME, else after the context (given, or the
    kubeconfig's current-context), as kubectl would name it.
    """
    given = {k: flags[k] for k in ("kubeconfig", "context", "prometheus") if flags.get(k)}
    if not given:
        return settings
    named = next((w.split("=", 1)[1] for w in words if w.startswith("cluster=")), None)
    configured = Path(given["kubeconfig"]) if "kubeconfig" in given else None
    current = next(
        (c for p in kubeconfig_paths(configured) if (c := current_context(p)) is not None), None
    )
    name = named or given.get("context") or current or "kubeconfig"
    try:
        prometheus = PrometheusConfig(url=given["prometheus"]) if "prometheus" in given else None
        cluster = ClusterConfig(
            kubeconfig=Path(given["kubeconfig"]) if "kubeconfig" in given else None,
            context=given.get("context"),
            prometheus=prometheus,
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"--{'prometheus' if 'url' in e['loc'] else e['loc'][0]}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"bad cluster flags: {problems}") from None
    if cluster.kubeconfig is not None and not cluster.kubeconfig.expanduser().is_file():
        raise ConfigError(f"--kubeconfig: no such file {cluster.kubeconfig}")
    check_cluster(name, cluster, "--kubeconfig")
    file = settings.file.model_copy(update={"clusters": {name: cluster}})
    return settings.model_copy(update={"file": file})
