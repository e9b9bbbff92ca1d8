"""HTTP front: parse a request, apply faults, route it to discovery or a verb, answer JSON.

Kept apart from the verbs so that what is HTTP (status lines, chunked watch streams,
keep-alive, timing each request for the benchmarks) does not leak into the semantics.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
import traceback
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from . import errors, openapi, protobuf
from .errors import ApiError
from .rbac import Attributes
from .resources import ResourceType
from .store import dumps
from .writes import parse_body

if TYPE_CHECKING:
    from .server import KubeTestServer
    from .tokens import ServiceAccountUser

log = logging.getLogger(__name__)
GRACEFUL_DELETE = frozenset({("", "pods"), ("", "namespaces")})
TOKEN = ("token", ("", "serviceaccounts"))  # TokenRequest: serviceaccounts/NAME/token


class KubeRequestHandler(BaseHTTPRequestHandler):
    """One connection; ``self.server.sandbox`` is the owning :class:`KubeTestServer`."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "meshbot-kube-sandbox"
    sandbox: KubeTestServer
    user: ServiceAccountUser | None = None

    def setup(self) -> None:
        super().setup()
        self.sandbox = self.server.sandbox  # type: ignore[attr-defined]
        self.sandbox._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.sandbox._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- plumbing --------------------------------------------------------------------------

    def _handle(self, method: str) -> None:
        started = time.perf_counter()
        cpu_started = time.thread_time()
        self._status = 0
        self._streamed = 0.0
        self.user = None
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            if not self._apply_fault(method):
                return
            self._check_auth()
            self._route(method, body)
        except ApiError as exc:
            self._send_json(exc.code, exc.to_status(), exc.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:
            log.error("sandbox kube server error: %s\n%s", exc, traceback.format_exc())
            self._send_json(
                500, ApiError(500, "InternalError", f"Internal error: {exc}").to_status()
            )
        finally:
            elapsed = time.perf_counter() - started - self._streamed
            cpu = time.thread_time() - cpu_started
            user = self.user.username if self.user is not None else ""
            self.sandbox._record(method, self.path, self._status, elapsed, cpu, user)

    def _apply_fault(self, method: str) -> bool:
        """Returns False when the fault answered (or dropped) the request."""
        if self.path.startswith("/_sandbox/"):
            return True
        rule = self.sandbox.faults.take(method, self.path)
        if rule is None:
            return True
        if rule.hang:
            pause = time.perf_counter()
            time.sleep(rule.hang)
            self._streamed += time.perf_counter() - pause
        if rule.reset:
            self.close_connection = True
            self._status = -1
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return False
        if rule.status:
            reason = {429: "TooManyRequests", 503: "ServiceUnavailable", 504: "Timeout"}.get(
                rule.status, "InternalError"
            )
            headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after else {}
            message = rule.message or f"injected fault: {rule.status}"
            self._send_json(
                rule.status, ApiError(rule.status, reason, message).to_status(), headers
            )
            return False
        return True

    def _check_auth(self) -> None:
        """Who is asking: None (the admin, allowed everything) or a ServiceAccount (RBAC)."""
        self.user = self.sandbox.authenticate(self.headers.get("Authorization"))

    def _send_bytes(
        self,
        code: int,
        data: bytes,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        self._status = code
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(code, dumps(obj), headers)

    def _stream(self, chunks: Any) -> None:
        """Chunked transfer of a watch; time spent waiting for events is not server time."""
        self._status = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        wait_started = time.perf_counter()
        try:
            for chunk in chunks:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
        self._streamed += time.perf_counter() - wait_started

    # -- routing ---------------------------------------------------------------------------

    def _route(self, method: str, body: bytes) -> None:
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        parts = [p for p in path.split("/") if p]
        sb = self.sandbox
        if parts and parts[0] == "_sandbox":
            self._send_json(*sb._control(method, parts[1:], parse_body(body) if body else {}))
            return
        resource_request = (parts[:1] == ["api"] and len(parts) >= 3) or (
            parts[:1] == ["apis"] and len(parts) >= 4
        )
        if self.user is not None and not resource_request:
            sb.rbac.check(self.user, Attributes(verb=method.lower(), path=path))
        if method == "GET":
            doc = self._discovery(parts)
            if doc is not None:
                if isinstance(doc, str):
                    self._send_bytes(200, doc.encode(), content_type="text/plain")
                else:
                    self._send_json(200, doc)
                return
        if body and protobuf.is_protobuf(self.headers.get("Content-Type", "")):
            body = protobuf.to_json_body(body)  # answered in JSON, which such clients accept
        if len(parts) >= 2 and parts[0] in ("api", "apis"):
            self._resource(method, parts, query, body)
            return
        raise errors.path_not_found(path)

    def _discovery(self, parts: list[str]) -> dict[str, Any] | str | None:
        table = self.sandbox.table
        if parts == ["version"]:
            return self.sandbox.version_info()
        if parts in (["healthz"], ["readyz"], ["livez"]):
            return "ok"
        if parts == ["api"]:
            host = f"{self.sandbox.host}:{self.sandbox.port}"
            return {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
            }
        if parts == ["apis"]:
            return table.api_group_list()
        if parts == ["openapi", "v3"]:
            return openapi.index(table)
        if len(parts) >= 4 and parts[:2] == ["openapi", "v3"]:
            group = "" if parts[2] == "api" else parts[3]
            return openapi.group_version(table, group, parts[-1])
        if len(parts) == 2 and parts[0] == "apis":
            found = table.api_group(parts[1])
            return {"kind": "APIGroup", "apiVersion": "v1", **found} if found else None
        if parts == ["api", "v1"]:
            return table.resource_list("", "v1")
        if len(parts) == 3 and parts[0] == "apis":
            return table.resource_list(parts[1], parts[2])
        return None

    def _resource(self, method: str, parts: list[str], query: dict[str, str], body: bytes) -> None:
        sb = self.sandbox
        if parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise errors.path_not_found(self.path)
        namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            candidate = sb.table.get(group, version, rest[2])
            if candidate is not None and candidate.namespaced:
                namespace, rest = rest[1], rest[2:]
        if not rest:
            raise errors.path_not_found(self.path)
        rt = sb.table.get(group, version, rest[0])
        if rt is None or len(rest) > 3 or (namespace is not None and not rt.namespaced):
            raise errors.path_not_found(self.path)
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if name and rt.namespaced and namespace is None:
            raise errors.path_not_found(self.path)
        if sub and not (sub == "status" and rt.has_status) and (sub, rt.key) != TOKEN:
            raise errors.path_not_found(self.path)
        if self.user is not None:
            verb = _rbac_verb(method, name, query)
            attributes = Attributes(verb, group, rt.plural, sub or "", namespace or "", name or "")
            sb.rbac.check(self.user, attributes)
        dry = query.get("dryRun", "")
        if dry not in ("", "All"):
            raise errors.bad_request(f"Invalid dryRun value: {dry}; only All is supported")
        self._verb(method, rt, namespace, name, sub, query, body, dry == "All")

    def _verb(
        self,
        method: str,
        rt: ResourceType,
        namespace: str | None,
        name: str | None,
        sub: str | None,
        query: dict[str, str],
        body: bytes,
        dry: bool,
    ) -> None:
        sb = self.sandbox
        ctype = self.headers.get("Content-Type", "application/json")
        if method == "GET" and name:
            self._send_json(200, sb.reader.get(rt, namespace, name))
        elif method == "GET":
            if query.get("watch") in ("true", "1"):
                self._stream(sb.reader.watch(rt, namespace, query, lambda: sb.stopping))
            else:
                self._send_bytes(200, sb.reader.list(rt, namespace, query))
        elif method == "POST" and not name:
            if rt.key == ("authorization.k8s.io", "selfsubjectaccessreviews"):
                if self.user is not None:
                    self._send_json(201, sb.rbac.review(self.user, parse_body(body)))
                else:
                    self._send_json(201, sb.access.review(parse_body(body)))
                return
            self._send_json(201, sb.writer.create(rt, namespace, parse_body(body), dry))
        elif method == "POST" and name and (sub, rt.key) == TOKEN and namespace:
            self._send_json(201, sb.tokens.request(namespace, name, parse_body(body)))
        elif method == "PUT" and name:
            obj, created = sb.writer.update(rt, namespace, name, parse_body(body), sub, dry)
            self._send_json(201 if created else 200, obj)
        elif method == "PATCH" and name:
            obj, created = sb.writer.patch(
                rt, namespace, name, body, ctype, sub, dry, query.get("fieldManager")
            )
            self._send_json(201 if created else 200, obj)
        elif method == "DELETE" and name:
            options = parse_body(body) if body else None
            obj = sb.writer.delete(rt, namespace, name, options, dry)
            self._send_json(200, obj if rt.key in GRACEFUL_DELETE else _success(rt, obj))
        elif method == "DELETE" and "deletecollection" in rt.verbs:
            listed = json.loads(sb.reader.list(rt, namespace, query))
            for item in listed["items"]:
                meta = item["metadata"]
                sb.writer.delete(rt, meta.get("namespace"), meta["name"], None, dry)
            self._send_json(200, listed)
        else:
            raise errors.method_not_allowed()


def _rbac_verb(method: str, name: str | None, query: dict[str, str]) -> str:
    """The authorizer's verb for an HTTP request, as kube-apiserver's RequestInfo has it."""
    if method == "GET":
        if query.get("watch") in ("true", "1"):
            return "watch"
        return "get" if name else "list"
    if method == "DELETE" and not name:
        return "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]


def _success(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    details: dict[str, Any] = {"name": meta.get("name"), "kind": rt.plural, "uid": meta.get("uid")}
    if rt.group:
        details["group"] = rt.group
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }
