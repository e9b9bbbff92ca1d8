"""Istio's kinds, built into the test server so a seed with Istio objects works on its own.

meshbot reads and writes PeerAuthentications and VirtualServices and reads the other
networking kinds; a sandbox cluster that does not serve them answers `mtls status`
with "is Istio installed?" and refuses the `timeouts` seed. These definitions are ours:
the group/versions, names and status subresource Istio serves (networking.istio.io
v1, v1beta1, v1alpha3 and security.istio.io v1, v1beta1, storage v1, as Istio 1.22+
does), with schemas that hold the rules meshbot depends on (types, required fields,
the mTLS mode enum, Go durations on timeouts) and let the rest of a spec through.

They are served exactly like CRD-defined kinds, so creating Istio's real CRDs (tests
load them from ../shared) replaces them: `ResourceTable.register_crd` drops whatever
served that group/resource before.
"""

from __future__ import annotations

from typing import Any

from .resources import ResourceTable, ResourceType

NETWORKING = "networking.istio.io"
SECURITY = "security.istio.io"
NETWORKING_VERSIONS = ("v1", "v1beta1", "v1alpha3")
SECURITY_VERSIONS = ("v1", "v1beta1")
STORAGE_VERSION = "v1"
# Go's time.ParseDuration syntax (what Istio's duration fields take): "2s", "1.5s", "1h30m".
GO_DURATION = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"
MTLS_MODES = ["UNSET", "DISABLE", "PERMISSIVE", "STRICT"]

Schema = dict[str, Any]


def _obj(properties: Schema | None = None, required: list[str] | None = None) -> Schema:
    schema: Schema = {"type": "object"}
    if properties:
        schema["properties"] = properties
    if required:
        schema["required"] = required
    return schema


def _free() -> Schema:
    """A part of a spec meshbot never reads: any object passes."""
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _arr(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def _str(**rules: Any) -> Schema:
    return {"type": "string", **rules}


def _int(**rules: Any) -> Schema:
    return {"type": "integer", **rules}


def _labels() -> Schema:
    return {"type": "object", "additionalProperties": _str()}


def _duration() -> Schema:
    return _str(pattern=GO_DURATION)


def _destination() -> Schema:
    port = _obj({"number": _int(minimum=0, maximum=4294967295)})
    return _obj({"host": _str(), "subset": _str(), "port": port}, required=["host"])


def _virtual_service() -> Schema:
    route = _obj(
        {"destination": _destination(), "weight": _int(), "headers": _free()},
        required=["destination"],
    )
    retries = _obj(
        {
            "attempts": _int(),
            "perTryTimeout": _duration(),
            "retryOn": _str(),
            "retryRemoteLocalities": {"type": "boolean", "nullable": True},
            "backoff": _duration(),
        }
    )
    http = _obj(
        {
            "name": _str(),
            "match": _arr(_free()),
            "route": _arr(route),
            "timeout": _duration(),
            "retries": retries,
            "mirror": _destination(),
            "fault": _free(),
            "headers": _free(),
            "rewrite": _free(),
            "redirect": _free(),
            "corsPolicy": _free(),
        }
    )
    l4_route = _obj({"destination": _destination(), "weight": _int()}, required=["destination"])
    l4 = _obj({"match": _arr(_free()), "route": _arr(l4_route)})
    return _obj(
        {
            "hosts": _arr(_str()),
            "gateways": _arr(_str()),
            "exportTo": _arr(_str()),
            "http": _arr(http),
            "tcp": _arr(l4),
            "tls": _arr(l4),
        }
    )


def _destination_rule() -> Schema:
    subset = _obj(
        {"name": _str(), "labels": _labels(), "trafficPolicy": _free()}, required=["name"]
    )
    return _obj(
        {
            "host": _str(),
            "trafficPolicy": _free(),
            "subsets": _arr(subset),
            "exportTo": _arr(_str()),
            "workloadSelector": _obj({"matchLabels": _labels()}),
        },
        required=["host"],
    )


def _gateway() -> Schema:
    port = _obj(
        {"number": _int(), "protocol": _str(), "name": _str(), "targetPort": _int()},
        required=["number", "protocol", "name"],
    )
    server = _obj(
        {"port": port, "hosts": _arr(_str()), "tls": _free(), "name": _str(), "bind": _str()},
        required=["port", "hosts"],
    )
    return _obj({"selector": _labels(), "servers": _arr(server)})


def _sidecar() -> Schema:
    outbound = _obj(
        {"mode": _str(enum=["REGISTRY_ONLY", "ALLOW_ANY"]), "egressProxy": _destination()}
    )
    egress = _obj({"hosts": _arr(_str()), "port": _free(), "bind": _str()}, required=["hosts"])
    ingress = _obj({"port": _free(), "defaultEndpoint": _str(), "bind": _str()}, required=["port"])
    return _obj(
        {
            "workloadSelector": _obj({"labels": _labels()}),
            "ingress": _arr(ingress),
            "egress": _arr(egress),
            "outboundTrafficPolicy": outbound,
        }
    )


def _service_entry() -> Schema:
    port = _obj(
        {"number": _int(), "protocol": _str(), "name": _str(), "targetPort": _int()},
        required=["number", "name"],
    )
    return _obj(
        {
            "hosts": _arr(_str()),
            "addresses": _arr(_str()),
            "ports": _arr(port),
            "location": _str(enum=["MESH_EXTERNAL", "MESH_INTERNAL"]),
            "resolution": _str(enum=["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"]),
            "endpoints": _arr(_free()),
            "workloadSelector": _obj({"labels": _labels()}),
            "exportTo": _arr(_str()),
            "subjectAltNames": _arr(_str()),
        },
        required=["hosts"],
    )


def _peer_authentication() -> Schema:
    mode = _obj({"mode": _str(enum=MTLS_MODES)})
    return _obj(
        {
            "selector": _obj({"matchLabels": _labels()}),
            "mtls": mode,
            "portLevelMtls": {"type": "object", "additionalProperties": mode},
        }
    )


# (group, versions, plural, kind, short names, spec schema, category)
_KINDS: tuple[tuple[str, tuple[str, ...], str, str, tuple[str, ...], Schema, str], ...] = (
    (NETWORKING, NETWORKING_VERSIONS, "virtualservices", "VirtualService", ("vs",),
     _virtual_service(), "networking-istio-io"),
    (NETWORKING, NETWORKING_VERSIONS, "destinationrules", "DestinationRule", ("dr",),
     _destination_rule(), "networking-istio-io"),
    (NETWORKING, NETWORKING_VERSIONS, "gateways", "Gateway", ("gw",), _gateway(),
     "networking-istio-io"),
    (NETWORKING, NETWORKING_VERSIONS, "sidecars", "Sidecar", (), _sidecar(),
     "networking-istio-io"),
    (NETWORKING, NETWORKING_VERSIONS, "serviceentries", "ServiceEntry", ("se",),
     _service_entry(), "networking-istio-io"),
    (SECURITY, SECURITY_VERSIONS, "peerauthentications", "PeerAuthentication", ("pa",),
     _peer_authentication(), "security-istio-io"),
)  # fmt: skip


def istio_resource_types() -> list[ResourceType]:
    """Every served group/version of the Istio kinds meshbot reads and writes."""
    types = []
    for group, versions, plural, kind, short, spec, category in _KINDS:
        schema = _obj({"spec": spec, "status": _free()})
        for version in versions:
            types.append(
                ResourceType(
                    group=group,
                    version=version,
                    plural=plural,
                    kind=kind,
                    namespaced=True,
                    short_names=short,
                    builtin=False,
                    has_status=True,
                    categories=("istio-io", category),
                    schema=schema,
                    storage_version=STORAGE_VERSION,
                )
            )
    return types


def register_istio_kinds(table: ResourceTable) -> None:
    """Serve the built-in Istio kinds; a CRD created later for one of them replaces it."""
    table.add_types(istio_resource_types())
