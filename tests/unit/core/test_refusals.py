"""Refusals of state-changing commands reach the audit stream, with who, what and why;
read-only commands and successful ones add nothing."""

from __future__ import annotations

from dataclasses import replace

from commands.core import builtin
from commands.core.clusters import pick_cluster
from commands.core.model import Caller, Failure, Result, Role, Text
from commands.core.ports import Services
from commands.core.refusals import UNSCOPED, RefusalScope
from commands.core.registry import Args, CommandSpec, Context, Param, Registry
from tests.unit.fakes import FakeCluster, MemoryStore, services

OPERATOR = Caller("U_OP", Role.OPERATOR, "C_OPS", front_end="slack")
VIEWER = Caller("U_VIEW", Role.VIEWER, "C_OPS", front_end="slack")


def _propose(ctx: Context, args: Args) -> Result:
    cluster = pick_cluster(ctx.services, args.get("cluster"), ctx.caller)
    if not isinstance(cluster, str):
        return cluster
    if args.get("namespace") == "conflicted":
        return Failure("Not proposing: two PeerAuthentications in conflicted")
    return Text(f"proposed on {cluster}")


def _by_target(services: Services, args: Args) -> RefusalScope | None:
    target = str(args.get("target", ""))
    return RefusalScope("b", {"change": target}) if target.startswith("chg-") else None


def _registry() -> Registry:
    registry = Registry()
    builtin.register(registry)
    cluster = Param("cluster")
    registry.register_all(
        [
            CommandSpec(
                "mtls strict",
                "propose",
                _propose,
                role=Role.OPERATOR,
                changes_state=True,
                options=(Param("namespace"), cluster),
            ),
            CommandSpec(
                "change approve",
                "approve",
                lambda ctx, args: Text("approved"),
                role=Role.APPROVER,
                changes_state=True,
                refusal_scope=_by_target,
                positionals=(Param("target", required=True),),
            ),
            CommandSpec("peek", "read only", lambda ctx, args: Text("x"), role=Role.OPERATOR),
        ]
    )
    return registry


def _two_clusters(store: MemoryStore) -> Services:
    found = services(store, clusters={"a": FakeCluster("a"), "b": FakeCluster("b")})
    return replace(found, cluster_channels={"a": ("C_SECURE",)})


def test_a_role_refusal_is_audited_with_who_what_and_why() -> None:
    store = MemoryStore()
    registry = _registry()
    result = registry.dispatch("mtls strict namespace=shop cluster=b", VIEWER, _two_clusters(store))
    assert "needs the operator role; you have viewer" in str(result)
    [entry] = store.audit["b"]
    fields = entry.fields
    assert fields["event"] == "mtls strict" and fields["result"] == "refused"
    assert fields["refused_by"] == "role" and fields["actor"] == "U_VIEW"
    assert fields["role"] == "viewer" and fields["front_end"] == "slack"
    assert fields["channel"] == "C_OPS" and fields["cluster"] == "b"
    assert fields["command"] == "mtls strict namespace=shop cluster=b"
    assert "needs the operator role" in fields["detail"]
    assert fields["at"] == "2027-01-15 08:00:00 UTC"


def test_a_channel_refusal_and_a_pipeline_refusal_are_audited() -> None:
    store = MemoryStore()
    registry = _registry()
    found = _two_clusters(store)
    registry.dispatch("mtls strict namespace=shop cluster=a", OPERATOR, found)
    registry.dispatch("mtls strict namespace=conflicted cluster=b", OPERATOR, found)
    [channel] = store.audit["a"]
    assert channel.fields["refused_by"] == "channel"
    assert "can only be used from <#C_SECURE>" in channel.fields["detail"]
    [pipeline] = store.audit["b"]
    assert pipeline.fields["refused_by"] == "pipeline"
    assert pipeline.fields["detail"].startswith("Not proposing")


def test_the_spec_says_which_stream_and_what_it_was_about() -> None:
    store = MemoryStore()
    _registry().dispatch("change approve chg-7xq2m4ab", OPERATOR, _two_clusters(store))
    [entry] = store.audit["b"]
    assert entry.fields["change"] == "chg-7xq2m4ab" and entry.fields["refused_by"] == "role"


def test_a_refusal_naming_no_cluster_goes_to_the_unscoped_stream() -> None:
    store = MemoryStore()
    _registry().dispatch("mtls strict namespace=shop", VIEWER, _two_clusters(store))
    assert [e.fields["event"] for e in store.audit[UNSCOPED]] == ["mtls strict"]


def test_the_only_cluster_is_the_default_stream() -> None:
    store = MemoryStore()
    only = services(store, clusters={"prod": FakeCluster("prod")})
    _registry().dispatch("mtls strict namespace=shop", Caller("U_X", None), only)
    assert store.audit["prod"][0].fields["role"] == "none"


def test_successes_read_only_commands_and_usage_errors_add_nothing() -> None:
    store = MemoryStore()
    registry = _registry()
    found = _two_clusters(store)
    registry.dispatch("mtls strict namespace=shop cluster=b", OPERATOR, found)
    registry.dispatch("peek", VIEWER, found)
    registry.dispatch("mtls strict nmespace=shop", OPERATOR, found)
    assert store.audit == {}


def test_a_store_that_is_down_does_not_change_the_answer() -> None:
    store = MemoryStore(down=True)
    result = _registry().dispatch("mtls strict namespace=shop", VIEWER, _two_clusters(store))
    assert "needs the operator role" in str(result)
