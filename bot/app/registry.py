"""The registry of every capability's commands, built without building anything else.

`help`, `--help`, usage errors and "did you mean" need the commands' descriptions but
no store, cluster or Slack client, so the registry is assembled here from the pure core
alone; bot.app.runtime adds it to a runtime when a command actually runs.
"""

from __future__ import annotations

from bot.app.version import meshbot_version
from commands.changes import commands as change_commands
from commands.core import builtin
from commands.core.registry import Registry
from commands.install import commands as install_commands
from commands.mtls import commands as mtls_commands
from commands.preflight import commands as preflight_commands
from commands.timeouts import commands as timeouts_commands
from commands.watch import commands as watch_commands

__all__ = ["build_registry", "meshbot_version"]


def build_registry() -> Registry:
    registry = Registry()
    builtin.register(registry)  # registered in the order help lists them
    preflight_commands.register(registry)
    install_commands.register(registry)
    mtls_commands.register(registry)
    change_commands.register(registry)
    timeouts_commands.register(registry)
    watch_commands.register(registry)
    return registry
