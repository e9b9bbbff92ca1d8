"""Which cluster a command acts on, and whether this channel may act on it.

Every cluster-bound command resolves its `cluster=` option here, so the rules are the
same everywhere: a named cluster must be configured; with none named, the only
configured cluster is the default; and a Slack channel may act on a cluster only if the
config lists it for that cluster (or lists no channels for it).
"""

from __future__ import annotations

from commands.core.model import Caller, Denied, UsageError
from commands.core.ports import Services


def pick_cluster(
    services: Services, name: str | None, caller: Caller | None = None
) -> str | UsageError | Denied:
    names = sorted(services.clusters)
    if name:
        if name not in services.clusters:
            known = ", ".join(names) or "none configured"
            return UsageError(f"unknown cluster `{name}` (configured: {known})")
        chosen = name
    elif len(names) == 1:
        chosen = names[0]
    elif not names:
        return UsageError("no cluster is configured (add one under `clusters:` in the config)")
    else:
        return UsageError(f"say which cluster: `cluster=NAME` (configured: {', '.join(names)})")
    if caller is not None and caller.channel_id is not None:
        allowed = services.cluster_channels.get(chosen, ())
        if allowed and caller.channel_id not in allowed:
            channels = ", ".join(f"<#{c}>" for c in allowed)
            return Denied(f"cluster `{chosen}` can only be used from {channels}", by="channel")
    return chosen
