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
from commands.core.model import Help, HelpEntry, PartState, PartStatus, Result, StatusReport, Text
from commands.core.ports import Services
from commands.core.registry import Args, CommandSpec, Context, Param, Registry


def _help(ctx: Context, args: Args) -> Result:
    registry = ctx.registry
    topic: tuple[str, ...] = args.get("command", ())
    if topic:
        spec, rest = registry.resolve(topic)
        specs = [spec] if spec is not None and not rest else registry.family(topic[0])
        if not specs:
            return Text(
                f"No command `{' '.join(topic)}`",
                (f"Try `{registry.prefix} help` for the list.",),
            )
        return Help(tuple(_entry(registry, s) for s in specs), detailed=True)
    return Help(tuple(_entry(registry, s) for s in registry.specs()))


def _entry(registry: Registry, spec: CommandSpec) -> HelpEntry:
    return HelpEntry(spec.name, registry.usage_of(spec), spec.summary, spec.role, spec.details)


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
            ),
            CommandSpec("version", "Show meshbot's version", _version),
            CommandSpec(
                "status",
                "Show what this replica is connected to: Redis, clusters, Prometheus, lease",
                _status,
            ),
        ]
    )
