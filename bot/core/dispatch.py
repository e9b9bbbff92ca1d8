"""Run one command for any front end and count it.

Slack, the CLI and the local workspace all come through here, so every front end gets
the same parsing, permission check and telemetry; they differ only in rendering.
"""

from __future__ import annotations

from bot.core.runtime import Runtime
from commands.core.model import Caller, Denied, Failure, Result, UsageError
from commands.core.parsing import parse
from commands.core.registry import Registry


def outcome_of(result: Result) -> str:
    match result:
        case UsageError():
            return "usage_error"
        case Denied():
            return "denied"
        case Failure():
            return "failure"
    return "ok"


def command_name(registry: Registry, text: str) -> str:
    parsed = parse(text)
    if isinstance(parsed, UsageError) or not parsed.words:
        return "-"
    spec, _ = registry.resolve(parsed.words)
    return spec.name if spec else "unknown"


def run_command(runtime: Runtime, text: str, caller: Caller) -> Result:
    name = command_name(runtime.registry, text)
    try:
        result = runtime.registry.dispatch(text, caller, runtime.services)
    except Exception:
        runtime.telemetry.commands.labels(name, "error").inc()
        raise
    runtime.telemetry.commands.labels(name, outcome_of(result)).inc()
    return result
