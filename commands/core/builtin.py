"""The commands every runtime has: help, version and status.

`status` is what an operator runs first when something looks wrong, so it must answer
even when everything behind it is down: each part is probed on its own, with the
adapters' own timeouts, and reported as ok / unreachable / not configured.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from commands.core.deadline import carried
from commands.core.errors import PortError
from commands.core.model import (
    Help,
    PartState,
    PartStatus,
    Result,
    StatusReport,
    Text,
    UsageError,
)
from commands.core.ports import Services
from commands.core.registry import Args, CommandSpec, Context, Param, Registry


def _help(ctx: Context, args: Args) -> Result:
    registry = ctx.registry
    topic: tuple[str, ...] = args.get("command", ())
    if topic:
        found = help_topic(registry, topic)
        if isinstance(found, UsageError):
            return found
        return Help(tuple(registry.help_entry(s) for s in found), detailed=True)
    return Help(tuple(registry.help_entry(s) for s in registry.ordered()))


def help_topic(
    registry: Registry, topic: tuple[str, ...], extra: tuple[str, ...] = ()
) -> list[CommandSpec] | UsageError:
    """The commands `help TOPIC` is about (one, or a family like `mtls`), or what was wrong:
    no such command, with the closest names (`extra`: names only a front end has)."""
    spec, rest = registry.resolve(topic)
    specs = [spec] if spec is not None and not rest else registry.family(topic[0])
    if specs:
        return specs
    close = registry.suggest(topic, extra)
    hint = f"; did you mean {' or '.join(f'`{name}`' for name in close)}?" if close else ""
    return UsageError(
        f"no command `{' '.join(topic)}`{hint}",
        usage=f"{registry.prefix} help [COMMAND …]",
        command="help",
    )


def _version(ctx: Context, args: Args) -> Result:
    return Text(f"meshbot {ctx.services.version}")


def _status(ctx: Context, args: Args) -> Result:
    services = ctx.services
    probes: list[Callable[[], PartStatus]] = [lambda: _store_status(services)]
    if not services.clusters:
        probes.append(lambda: PartStatus("cluster", "-", PartState.NOT_CONFIGURED))
    for name in sorted(services.clusters):
        probes.append(lambda name=name: _cluster_status(services, name))  # type: ignore[misc]
        probes.append(lambda name=name: _metrics_status(services, name))  # type: ignore[misc]
    probes.append(lambda: _lease_status(services))
    with ThreadPoolExecutor(max_workers=min(8, len(probes))) as pool:
        parts = tuple(pool.map(carried(_run_probe), probes))
    return StatusReport(parts, services.version)


def _run_probe(probe: Callable[[], PartStatus]) -> PartStatus:
    return probe()


def _probe(kind: str, name: str, check: Callable[[], str]) -> PartStatus:
    try:
        return PartStatus(kind, name, PartState.OK, check())
    except PortError as exc:
        return PartStatus(kind, name, PartState.UNREACHABLE, str(exc))


def _store_status(services: Services) -> PartStatus:
    def check() -> str:
        services.store.ping()
        return services.store.describe()

    return _probe("redis", "state store", check)


def _cluster_status(services: Services, name: str) -> PartStatus:
    cluster = services.clusters[name]
    return _probe("cluster", name, lambda: f"Kubernetes {cluster.server_version()}")


def _metrics_status(services: Services, name: str) -> PartStatus:
    metrics = services.metrics.get(name)
    if metrics is None:
        return PartStatus("prometheus", name, PartState.NOT_CONFIGURED)
    return _probe("prometheus", name, lambda: f"{metrics.describe()} (version {metrics.ping()})")


def _lease_status(services: Services) -> PartStatus:
    def check() -> str:
        holder = services.lease.holder(services.watcher_lease)
        if holder is None:
            return "nobody holds the watcher lease"
        if holder == services.replica_id:
            return f"this replica ({holder}) holds the watcher lease"
        return f"held by replica {holder}, not this one ({services.replica_id})"

    return _probe("lease", "watchers", check)


def register(registry: Registry) -> None:
    registry.register_all(
        [
            CommandSpec(
                "help",
                "List the commands, or show one in detail",
                _help,
                positionals=(Param("command", "a command name", repeated=True),),
                details="With a command: its usage, options, the role it needs and examples.",
                examples=("help", "help preflight", "help mtls"),
            ),
            CommandSpec("version", "Show meshbot's version", _version, examples=("version",)),
            CommandSpec(
                "status",
                "Show what this replica is connected to: Redis, clusters, Prometheus, lease",
                _status,
                details=(
                    "Each part is probed on its own and said to be ok, unreachable or not "
                    "configured; something unreachable is not an error of this command."
                ),
                examples=("status",),
            ),
        ]
    )
