"""The registry: lookup, argument binding, role checks, help and status over fakes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from commands.core import builtin
from commands.core.model import (
    Caller,
    Denied,
    Failure,
    Help,
    PartState,
    Role,
    StatusReport,
    Text,
    UsageError,
)
from commands.core.registry import Args, CommandSpec, Context, Param, Registry
from tests.unit.fakes import FakeCluster, FakeMetrics, MemoryStore, services

VIEWER = Caller("U_VIEW", Role.VIEWER)
OPERATOR = Caller("U_OP", Role.OPERATOR)


def _echo(ctx: Context, args: Args) -> Text:
    return Text("ran", tuple(f"{k}={v}" for k, v in sorted(args.values.items())))


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    builtin.register(registry)
    registry.register(
        CommandSpec(
            "mtls strict",
            "Propose STRICT mTLS",
            _echo,
            role=Role.OPERATOR,
            options=(
                Param("namespace", required=True),
                Param("window", convert=int, default=60),
                Param("mode", choices=("fast", "safe"), default="safe"),
            ),
        )
    )
    return registry


def test_registries_are_independent() -> None:
    first, second = Registry(), Registry()
    builtin.register(first)
    assert second.specs() == []
    assert [s.name for s in first.specs()] == ["help", "status", "version"]


def test_a_name_cannot_be_registered_twice(registry: Registry) -> None:
    with pytest.raises(ValueError, match="twice"):
        builtin.register(registry)


def test_multi_word_commands_bind_typed_options(registry: Registry) -> None:
    result = registry.dispatch("mtls strict namespace=payments window=30", OPERATOR, services())
    assert result == Text("ran", ("mode=safe", "namespace=payments", "window=30"))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("frobnicate", "unknown command `frobnicate`"),
        ("mtls", "`mtls` is not a command; did you mean one of `mtls strict`?"),
        ("mtls strict", "`namespace=` is required"),
        ("mtls strict namespace=a colour=red", "unknown option `colour=`"),
        ("mtls strict namespace=a namespace=b", "given 2 times"),
        ("mtls strict namespace=a mode=yolo", "must be one of fast, safe, not `yolo`"),
        ("mtls strict namespace=a window=soon", "`window=`: invalid literal"),
        ("mtls strict namespace=a extra", "unexpected `extra`"),
        ("", "no command given"),
    ],
)
def test_bad_input_names_the_problem_and_runs_nothing(
    registry: Registry, text: str, problem: str
) -> None:
    result = registry.dispatch(text, OPERATOR, services())
    assert isinstance(result, UsageError)
    assert problem in result.problem


def test_usage_error_shows_the_right_usage(registry: Registry) -> None:
    result = registry.dispatch("mtls strict", OPERATOR, services())
    assert isinstance(result, UsageError)
    assert result.usage == "/mesh mtls strict namespace=NAMESPACE [window=WINDOW] [mode=fast|safe]"


def test_a_viewer_is_denied_an_operator_command_before_anything_runs(registry: Registry) -> None:
    result = registry.dispatch("mtls strict namespace=payments", VIEWER, services())
    assert isinstance(result, Denied)
    assert result.needed_role is Role.OPERATOR
    assert "needs the operator role; you have viewer" in result.reason


def test_a_caller_without_a_role_is_denied_even_status(registry: Registry) -> None:
    result = registry.dispatch("status", Caller("U_NOBODY", None), services())
    assert isinstance(result, Denied)
    assert "you have no role" in result.reason


def test_help_lists_every_command_and_details_one(registry: Registry) -> None:
    listing = registry.dispatch("help", VIEWER, services())
    assert isinstance(listing, Help)
    assert sorted(e.name for e in listing.entries) == ["help", "mtls strict", "status", "version"]
    one = registry.dispatch("help mtls strict", VIEWER, services())
    assert isinstance(one, Help) and one.detailed
    assert [e.name for e in one.entries] == ["mtls strict"]
    family = registry.dispatch("help mtls", VIEWER, services())
    assert isinstance(family, Help) and [e.name for e in family.entries] == ["mtls strict"]
    missing = registry.dispatch("help nothing", VIEWER, services())
    assert isinstance(missing, UsageError) and "no command `nothing`" in missing.problem
    typo = registry.dispatch("help stauts", VIEWER, services())
    assert isinstance(typo, UsageError) and "did you mean `status`?" in typo.problem


def test_status_reports_each_part_and_never_crashes(registry: Registry) -> None:
    store = MemoryStore(leases={"watchers": "replica-1"})
    report = registry.dispatch(
        "status",
        VIEWER,
        services(
            store,
            clusters={"prod": FakeCluster("prod"), "lab": FakeCluster("lab", down=True)},
            metrics={"prod": FakeMetrics()},
        ),
    )
    assert isinstance(report, StatusReport)
    states = {(p.kind, p.name): p.state for p in report.parts}
    assert states == {
        ("redis", "state store"): PartState.OK,
        ("cluster", "lab"): PartState.UNREACHABLE,
        ("prometheus", "lab"): PartState.NOT_CONFIGURED,
        ("cluster", "prod"): PartState.OK,
        ("prometheus", "prod"): PartState.OK,
        ("lease", "watchers"): PartState.OK,
    }
    lease = next(p for p in report.parts if p.kind == "lease")
    assert "this replica (replica-1) holds the watcher lease" in lease.detail
    assert not report.healthy


def test_status_with_the_store_down_says_so(registry: Registry) -> None:
    report = registry.dispatch("status", VIEWER, services(MemoryStore(down=True)))
    assert isinstance(report, StatusReport)
    redis = next(p for p in report.parts if p.kind == "redis")
    assert redis.state is PartState.UNREACHABLE and "unreachable" in redis.detail
    assert next(p for p in report.parts if p.kind == "cluster").state is PartState.NOT_CONFIGURED


def test_a_port_error_inside_a_command_becomes_a_failure() -> None:
    registry = Registry()

    def broken(ctx: Context, args: Args) -> Text:
        ctx.services.store.get("x")
        return Text("unreachable")

    registry.register(CommandSpec("read", "reads", broken))
    result = registry.dispatch("read", VIEWER, services(MemoryStore(down=True)))
    assert isinstance(result, Failure) and "unreachable" in result.message


def test_a_cluster_is_picked_by_name_by_default_and_per_channel() -> None:
    from commands.core.clusters import pick_cluster

    one = services(clusters={"prod": FakeCluster("prod")})
    assert pick_cluster(one, None) == "prod"
    unknown = pick_cluster(one, "staging")
    assert isinstance(unknown, UsageError) and "configured: prod" in unknown.problem
    two = services(clusters={"prod": FakeCluster("prod"), "lab": FakeCluster("lab")})
    ask = pick_cluster(two, None)
    assert isinstance(ask, UsageError) and "cluster=NAME` (configured: lab, prod)" in ask.problem
    assert isinstance(pick_cluster(services(), None), UsageError)

    fenced = replace(two, cluster_channels={"prod": ("C_PROD",)})
    in_ops = Caller("U_OP", Role.OPERATOR, channel_id="C_OPS", front_end="slack")
    denied = pick_cluster(fenced, "prod", in_ops)
    assert isinstance(denied, Denied) and "<#C_PROD>" in denied.reason
    in_prod = Caller("U_OP", Role.OPERATOR, channel_id="C_PROD", front_end="slack")
    assert pick_cluster(fenced, "prod", in_prod) == "prod"
    assert pick_cluster(fenced, "lab", in_ops) == "lab"
    assert pick_cluster(fenced, "prod", Caller("local", Role.APPROVER)) == "prod"
