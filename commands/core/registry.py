"""Command specifications and the registry every front end dispatches through.

A registry is an instance, built per runtime (and per test), never a module global:
two runtimes in one process (tests, the local workspace) must not see each other's
commands. Specs carry typed metadata (parameters, role, usage) instead of attributes
stuck on functions, so help, validation and permission checks all read one source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from commands.core import refusals
from commands.core.errors import PortError
from commands.core.model import Caller, Denied, Failure, Result, Role, UsageError
from commands.core.parsing import ParsedText, parse
from commands.core.ports import Services
from commands.core.refusals import RefusalScope
from commands.core.wiring import MissingWiring

Converter = Callable[[str], Any]


@dataclass(frozen=True)
class Param:
    """One positional word or `key=value` option of a command."""

    name: str
    help: str = ""
    required: bool = False
    choices: tuple[str, ...] = ()
    repeated: bool = False
    default: Any = None
    convert: Converter | None = None
    placeholder: str = ""

    def usage(self, positional: bool) -> str:
        shown = self.placeholder or ("|".join(self.choices) if self.choices else self.name.upper())
        text = shown if positional else f"{self.name}={shown}"
        if self.repeated:
            text += " …"
        return text if self.required else f"[{text}]"

    def bind(self, raw: str) -> Any:
        if self.choices and raw not in self.choices:
            raise ValueError(f"must be one of {', '.join(self.choices)}, not `{raw}`")
        return self.convert(raw) if self.convert else raw


@dataclass(frozen=True)
class Args:
    """Bound, converted arguments of one invocation."""

    values: Mapping[str, Any] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None else value

    def __contains__(self, name: str) -> bool:
        return self.values.get(name) is not None


@dataclass(frozen=True)
class Context:
    """What a command may use: who called, and the ports of this runtime."""

    caller: Caller
    registry: Registry
    services: Services


Handler = Callable[[Context, Args], Result]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    summary: str
    handler: Handler
    role: Role = Role.VIEWER
    positionals: tuple[Param, ...] = ()
    options: tuple[Param, ...] = ()
    details: str = ""
    # What the command takes from the runtime: kits by type (Services.kit) and the
    # protocols every cluster adapter must provide. Checked when the runtime is built.
    needs: tuple[type, ...] = ()
    cluster_needs: tuple[type, ...] = ()
    # Commands that change a cluster or an alert: every refusal of one (role, channel,
    # pipeline) is recorded in the audit stream (commands.core.refusals). `refusal_scope`
    # says which cluster's stream, from the arguments (default: `cluster=` or the only one).
    changes_state: bool = False
    refusal_scope: Callable[[Services, Args], RefusalScope | None] | None = None

    @property
    def usage(self) -> str:
        parts = [self.name]
        parts += [p.usage(positional=True) for p in self.positionals]
        parts += [p.usage(positional=False) for p in self.options]
        return " ".join(parts)


class Registry:
    """The commands of one runtime, looked up by their (possibly multi-word) names."""

    def __init__(self, prefix: str = "/mesh") -> None:
        self.prefix = prefix
        self._specs: dict[str, CommandSpec] = {}

    def register(self, spec: CommandSpec) -> CommandSpec:
        if spec.name in self._specs:
            raise ValueError(f"command {spec.name!r} is registered twice")
        self._specs[spec.name] = spec
        return spec

    def register_all(self, specs: Iterable[CommandSpec]) -> None:
        for spec in specs:
            self.register(spec)

    def get(self, name: str) -> CommandSpec | None:
        return self._specs.get(name)

    def specs(self) -> list[CommandSpec]:
        return sorted(self._specs.values(), key=lambda s: s.name)

    def usage_of(self, spec: CommandSpec) -> str:
        return f"{self.prefix} {spec.usage}"

    def resolve(self, words: tuple[str, ...]) -> tuple[CommandSpec | None, tuple[str, ...]]:
        """The longest registered name that the leading words spell, and the rest."""
        for length in range(min(len(words), 3), 0, -1):
            spec = self._specs.get(" ".join(words[:length]).lower())
            if spec is not None:
                return spec, words[length:]
        return None, words

    def family(self, word: str) -> list[CommandSpec]:
        """Commands whose name starts with `word` (for `mtls` → `mtls status`, …)."""
        return [s for s in self.specs() if s.name.split(" ")[0] == word.lower()]

    def prepare(self, text: str, caller: Caller) -> tuple[CommandSpec, Args] | Result:
        """Parse, look up, check the role and bind arguments; nothing runs here."""
        parsed = parse(text)
        if isinstance(parsed, UsageError):
            return UsageError(parsed.problem, usage=f"{self.prefix} help")
        if not parsed.words:
            return UsageError("no command given", usage=f"{self.prefix} help")
        spec, rest = self.resolve(parsed.words)
        if spec is None:
            return self._unknown(parsed.words)
        if caller.role is None or caller.role.value < spec.role.value:
            have = caller.role.label if caller.role else "no role"
            return Denied(
                f"`{spec.name}` needs the {spec.role.label} role; you have {have}",
                needed_role=spec.role,
                by="role",
            )
        args = bind(spec, rest, parsed)
        if isinstance(args, UsageError):
            return UsageError(args.problem, usage=self.usage_of(spec), command=spec.name)
        return spec, args

    def check_wiring(self, services: Services) -> None:
        """Raise MissingWiring naming every kit or cluster protocol a command lacks."""
        problems: list[str] = []
        for spec in self.specs():
            problems += [
                f"`{spec.name}` needs {kind.__name__}"
                for kind in spec.needs
                if not services.kits.has(kind)
            ]
            problems += [
                f"`{spec.name}` needs cluster {name} to provide {kind.__name__}"
                for kind in spec.cluster_needs
                for name, cluster in sorted(services.clusters.items())
                if not isinstance(cluster, kind)
            ]
        if problems:
            raise MissingWiring("; ".join(sorted(set(problems))))

    def dispatch(self, text: str, caller: Caller, services: Services) -> Result:
        prepared = self.prepare(text, caller)
        if not isinstance(prepared, tuple):
            if isinstance(prepared, Denied):
                self._record_refusal(text, caller, services, prepared)
            return prepared
        spec, args = prepared
        try:
            result = spec.handler(Context(caller, self, services), args)
        except PortError as exc:
            result = Failure(str(exc))
        self._record_refusal(text, caller, services, result, (spec, args))
        return result

    def _record_refusal(
        self,
        text: str,
        caller: Caller,
        services: Services,
        result: Result,
        prepared: tuple[CommandSpec, Args] | None = None,
    ) -> None:
        if refusals.refused_by(result) is None:
            return
        if prepared is None:  # refused before binding (the role): bind to find the scope
            parsed = parse(text)
            if isinstance(parsed, UsageError):
                return
            spec, rest = self.resolve(parsed.words)
            bound = None if spec is None else bind(spec, rest, parsed)
            args = bound if isinstance(bound, Args) else Args()
        else:
            spec, args = prepared
        if spec is None or not spec.changes_state:
            return
        resolve = spec.refusal_scope

        def scope() -> RefusalScope | None:
            found = resolve(services, args) if resolve is not None else None
            return found or refusals.default_scope(services, args.get("cluster"))

        refusals.record(services, spec.name, text, caller, result, scope)

    def _unknown(self, words: tuple[str, ...]) -> UsageError:
        family = self.family(words[0])
        if family:
            names = ", ".join(f"`{s.name}`" for s in family)
            return UsageError(
                f"`{' '.join(words[:2])}` is not a command; did you mean one of {names}?",
                usage="\n".join(self.usage_of(s) for s in family),
            )
        return UsageError(f"unknown command `{words[0]}`", usage=f"{self.prefix} help")


def bind(spec: CommandSpec, words: tuple[str, ...], parsed: ParsedText) -> Args | UsageError:
    values: dict[str, Any] = {}
    known = {p.name: p for p in spec.options}
    for key, raws in parsed.options.items():
        param = known.get(key)
        if param is None:
            allowed = ", ".join(sorted(known)) or "none"
            return UsageError(f"unknown option `{key}=` (options: {allowed})")
        if len(raws) > 1 and not param.repeated:
            return UsageError(f"option `{key}=` is given {len(raws)} times; give it once")
        try:
            bound = [param.bind(raw) for raw in raws]
        except ValueError as exc:
            return UsageError(f"`{key}=`: {exc}")
        values[key] = tuple(bound) if param.repeated else bound[0]
    remaining = list(words)
    for param in spec.positionals:
        if not remaining:
            break
        taken = remaining if param.repeated else remaining[:1]
        remaining = [] if param.repeated else remaining[1:]
        try:
            bound = [param.bind(raw) for raw in taken]
        except ValueError as exc:
            return UsageError(f"`{param.name}`: {exc}")
        values[param.name] = tuple(bound) if param.repeated else bound[0]
    if remaining:
        return UsageError(f"unexpected `{' '.join(remaining)}`")
    for param in (*spec.positionals, *spec.options):
        if param.name not in values:
            if param.required:
                return UsageError(f"`{param.name}` is required")
            values[param.name] = param.default
    return Args(values)
