"""Whatever a VirtualService holds — including shapes only a cluster without Istio's
validation accepts, or that no schema allows — the audit reads it without crashing:
property-based, over JSON built from the VirtualService's own field names."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.timeouts.audit import Facts, audit
from commands.timeouts.model import Edge, TimeoutsSettings
from commands.timeouts.routes import effective_routes

FIELDS = [
    "hosts", "gateways", "http", "match", "route", "destination", "host", "timeout",
    "retries", "attempts", "perTryTimeout", "retryOn", "delegate", "name", "namespace",
    "redirect", "directResponse", "uri", "prefix", "exact", "regex", "headers", "port",
    "sourceLabels", "sourceNamespace", "mirror", "mirrors", "mirrorPercentage", "value",
    "weight", "fault", "delay", "fixedDelay", "exportTo", "ignoreUriCase", "tcp", "tls",
    "subset", "percentage", "queryParams", "withoutHeaders",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**12),
    st.sampled_from(["", "0s", "1s", "500ms", "1.5s", "99999999999999h", "-1s", "x", "5xx",
                     "reviews", "reviews.shop", "*", "mesh", "gw", "./gw", "ns/gw", "/", ".*"]),
)  # fmt: skip
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(FIELDS), inner, max_size=4)
    ),
    max_leaves=25,
)
SPEC = st.dictionaries(st.sampled_from(FIELDS), JSONISH, max_size=5)


def _vs(name: str, namespace: str, spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "gw"]), st.sampled_from(["shop", "ns"]), SPEC),
        max_size=4,
    )
)
def test_the_audit_reads_any_virtual_service_without_crashing(
    objects: list[tuple[str, str, Any]],
) -> None:
    vss = [_vs(name, namespace, spec) for name, namespace, spec in objects]
    routes, notes = effective_routes(vss)
    edges = tuple(
        Edge(src, dst, 1.0, "/" not in src)
        for src, dst in [
            ("x.shop.svc.cluster.local", "reviews.shop.svc.cluster.local"),
            ("istio-system/ingress", "reviews.shop.svc.cluster.local"),
        ]
    )
    facts = Facts(
        "networking.istio.io/v1", tuple(vss), tuple(routes), (), {}, edges, {}, tuple(notes)
    )
    report = audit(facts, "prod", None, TimeoutsSettings(), 0.0)
    assert all(f.fix for f in report.findings)
