"""Every refused attempt at a state-changing command reaches the audit stream.

The change pipeline records the refusals it makes itself (approving an expired change,
your own change…) with the change's state. Most refusals happen before it or beside it:
the caller's role (the registry), the channel a cluster is restricted to, a proposal the
capability or the pipeline would not make (a refused dry run, conflicting policies).
Those were answered but left no trace, so a viewer hammering `change approve` was
invisible to whoever reads the audit. The registry calls `record` for every command
whose spec says `changes_state=True`; a capability adds its own command there by
setting that flag, nothing else.

Entries go to the stream of the cluster the command was about (its `cluster=`, the
change's cluster, or the only configured cluster) with who, what and why; a refusal
that names no cluster (several configured, none given) goes to the stream `UNSCOPED`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from commands.core.errors import PortError
from commands.core.model import Caller, Denied, Failure, Result
from commands.core.ports import Services

UNSCOPED = "-"


@dataclass(frozen=True)
class RefusalScope:
    """Which cluster's stream a refusal belongs to, and what it was about (e.g. the change)."""

    cluster: str
    about: Mapping[str, str] = field(default_factory=dict)


def refused_by(result: Result) -> str | None:
    """Who refused: `role`, `channel` (or another access rule), `pipeline`; None: no refusal."""
    if isinstance(result, Denied):
        return result.by or ("role" if result.needed_role is not None else "access")
    if isinstance(result, Failure):
        return "pipeline"
    return None


def default_scope(services: Services, cluster: object) -> RefusalScope | None:
    if isinstance(cluster, str) and cluster in services.clusters:
        return RefusalScope(cluster)
    if len(services.clusters) == 1:
        return RefusalScope(next(iter(services.clusters)))
    return None


def record(
    services: Services,
    command: str,
    text: str,
    caller: Caller,
    result: Result,
    scope: Callable[[], RefusalScope | None],
) -> None:
    """Append the refusal to the audit stream; a store that cannot take it is not retried
    (the answer to the caller must not wait on it, and the store is what failed)."""
    by = refused_by(result)
    if by is None:
        return
    reason = result.reason if isinstance(result, Denied) else getattr(result, "message", "")
    try:
        where = scope() or RefusalScope(UNSCOPED)
        entry = {
            **where.about,
            "event": command,
            "result": "refused",
            "refused_by": by,
            "actor": caller.user_id,
            "role": caller.role.label if caller.role else "none",
            "front_end": caller.front_end,
            "channel": caller.channel_id or "",
            "at": datetime.fromtimestamp(services.clock.now(), UTC).strftime(
                "%Y-%m-%d %H:%M:%S UTC"
            ),
            "cluster": where.cluster,
            "command": text[:300],
            "detail": str(reason)[:1000],
        }
        services.store.append_audit(where.cluster, entry)
    except PortError:
        return
