"""KubeTestServer: the in-process Kubernetes API test server's public handle.

Tests, benchmarks and the local demo need a cluster that the official client and kubectl
can talk to through an ordinary kubeconfig. This class owns the HTTP server thread, the
store and resource table, the fault rules and the SSAR access policy, and records each
request's server-side time so benchmarks can tell server cost from client cost.
HTTPS on the same port (``tls``), ServiceAccount tokens (``tokens``) and RBAC for them
(``rbac``) live in modules of their own; this class only wires them in.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import re
import socket
import statistics
import threading
from collections import deque
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from . import errors, state
from .authz import AccessPolicy
from .builtin_schemas import BuiltinSchemas
from .controllers import Controllers
from .faults import Faults
from .handler import KubeRequestHandler
from .injection import Injector
from .istio_kinds import register_istio_kinds
from .rbac import Authorizer
from .reads import Reader
from .resources import ResourceTable, ResourceType
from .seeds import load_documents, parse_yaml
from .store import Store
from .tls import ServerTLS
from .tokens import ServiceAccountUser, TokenIssuer, looks_like_jwt
from .writes import Writer


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    status: int
    seconds: float  # wall time in the handler (watch waits and injected hangs excluded)
    cpu_seconds: float  # CPU time of the handler thread: unaffected by a busy client process
    user: str = ""  # the ServiceAccount's user name for token requests; "" for the admin


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    sandbox: KubeTestServer

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Plain HTTP or TLS on the one port, told apart by the client's first byte."""
        conn = self.sandbox.tls.wrap(request)
        if conn is None:
            return
        try:
            super().finish_request(conn, client_address)
        finally:
            if conn is not request:
                with contextlib.suppress(OSError):
                    conn.close()


class KubeTestServer:
    """A Kubernetes API server good enough for meshbot's tests, on 127.0.0.1.

    ``default_allow`` decides SelfSubjectAccessReview answers not covered by
    :meth:`allow`/:meth:`deny` (True: everything allowed, like cluster-admin).
    ``token``: when set, requests must carry ``Authorization: Bearer <token>`` (or a
    ServiceAccount token the server minted, which is then held to RBAC).
    ``controllers``: run the workload controllers and the pod kubelet (``controllers``
    module), pods becoming Ready ``ready_seconds`` after they start.
    ``istio``: serve Istio's kinds from built-in definitions (istio_kinds.py) until a CRD
    for one of them is created; False: a cluster without Istio.
    """

    def __init__(
        self,
        version: str = "v1.33.2",
        host: str = "127.0.0.1",
        port: int = 0,
        default_allow: bool = True,
        token: str | None = None,
        controllers: bool = False,
        ready_seconds: float = 0.2,
        istio: bool = True,
    ) -> None:
        self.git_version = version
        self.host = host
        self.port = port
        self.token = token
        self.store = Store()
        self.table = ResourceTable()
        if istio:
            register_istio_kinds(self.table)
        self.writer = Writer(self.store, self.table, BuiltinSchemas(version))
        self.injector = Injector(self.store)
        self.writer.admission.append(self._admit)
        self.controllers = Controllers(self, ready_seconds) if controllers else None
        self.reader = Reader(self.store)
        self.faults = Faults()
        self.access = AccessPolicy(default_allow)
        self.tls = ServerTLS(host)
        self.tokens = TokenIssuer(self._service_account)
        self.rbac = Authorizer(self.store)
        self.stopping = False
        self._records: deque[RequestRecord] = deque(maxlen=200_000)
        self._records_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        namespaces = self.table.get("", "v1", "namespaces")
        assert namespaces is not None
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.writer.create(namespaces, None, {"metadata": {"name": ns}})

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> KubeTestServer:
        if self._httpd is not None:
            return self
        httpd = _HTTPServer((self.host, self.port), KubeRequestHandler)
        httpd.sandbox = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="kube-sandbox",
            daemon=True,
        )
        self._thread.start()
        if self.controllers is not None:
            self.controllers.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.stopping = True
        if self.controllers is not None:
            self.controllers.stop()
        self.store.close()
        httpd.shutdown()
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> KubeTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def https_url(self) -> str:
        """The same server over TLS (its CA: ``tls.ca_pem``)."""
        return f"https://{self.host}:{self.port}"

    def version_info(self) -> dict[str, Any]:
        core = self.git_version.lstrip("v").split("-")[0].split("+")[0].split(".")
        return {
            "major": core[0],
            "minor": core[1] if len(core) > 1 else "0",
            "gitVersion": self.git_version,
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2025-06-17T00:00:00Z",
            "goVersion": "go1.24.4",
            "compiler": "gc",
            "platform": "linux/amd64",
        }

    def write_kubeconfig(
        self,
        path: str | Path,
        context: str = "sandbox",
        *,
        token: str | None = None,
        tls: bool = False,
        namespace: str = "default",
    ) -> Path:
        """Write a kubeconfig whose current context points at this server; returns the path.

        ``token``: a ServiceAccount token (``create_token``) instead of the admin's; it is
        served over HTTPS with this server's CA, as kubectl and client-go send tokens
        only over TLS. ``tls``: HTTPS for the admin too."""
        out = Path(path)
        cluster: dict[str, Any] = {"server": self.url}
        if tls or token:
            cluster = {
                "server": self.https_url,
                "certificate-authority-data": base64.b64encode(self.tls.ca_pem).decode(),
            }
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": context, "user": {"token": token or self.token or "sandbox-token"}}],
            "contexts": [
                {
                    "name": context,
                    "context": {"cluster": context, "user": context, "namespace": namespace},
                }
            ],
            "current-context": context,
            "preferences": {},
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(yaml.safe_dump(config, sort_keys=False))
        return out

    # -- content ---------------------------------------------------------------------------

    def load_seed(self, source: str | Path) -> int:
        """Load multi-document YAML (a file path or the YAML text); returns objects loaded."""
        return load_documents(self, parse_yaml(source))

    def load_objects(self, objects: list[dict[str, Any]]) -> int:
        """Load already-parsed objects (CRDs and namespaces first); returns objects loaded."""
        return load_documents(self, objects)

    def save_state(self, path: str | Path) -> Path:
        """Write every object to a JSON file that :meth:`restore_state` loads again."""
        return state.save(self, path)

    def restore_state(self, path: str | Path) -> int:
        """Replace the objects with a saved state's (uids, resourceVersions kept)."""
        return state.restore(self, path)

    def load_crds_from(self, path: str | Path) -> int:
        """Create the CRDs of a YAML file (e.g. Istio's crd-all.gen.yaml)."""
        docs = [d for d in parse_yaml(path) if d.get("kind") == "CustomResourceDefinition"]
        return load_documents(self, docs)

    def get_object(
        self, api_version: str, plural: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """Direct read for test assertions (no HTTP); None when absent.

        A deep copy: editing it changes nothing stored (write it back with ``writer``)."""
        group, _, version = api_version.rpartition("/")
        rt = self.table.get(group, version, plural)
        if rt is None:
            return None
        try:
            return copy.deepcopy(self.reader.get(rt, namespace, name))
        except errors.ApiError:
            return None

    # -- identities ------------------------------------------------------------------------

    def create_token(
        self,
        namespace: str,
        name: str,
        seconds: int | None = None,
        audiences: list[str] | None = None,
    ) -> str:
        """A token for ServiceAccount ``namespace/name``, as ``kubectl create token`` gets."""
        spec: dict[str, Any] = {"expirationSeconds": seconds, "audiences": audiences}
        return str(self.tokens.request(namespace, name, {"spec": spec})["status"]["token"])

    def _service_account(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.store.get(("", "serviceaccounts"), (namespace, name))

    def authenticate(self, authorization: str | None) -> ServiceAccountUser | None:
        """The ServiceAccount a request acts as (RBAC applies), or None for the admin.

        401 for a token that is neither the admin's nor one this server minted and
        still honours."""
        scheme, _, bearer = (authorization or "").strip().partition(" ")
        bearer = bearer.strip() if scheme.lower() == "bearer" else ""
        if bearer and looks_like_jwt(bearer):
            return self.tokens.authenticate(bearer)
        if self.token and bearer != self.token:
            raise errors.ApiError(401, "Unauthorized", "Unauthorized")
        return None

    def _admit(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        if rt.key == ("", "pods"):
            self.injector.admit(obj)

    # -- access policy ---------------------------------------------------------------------

    def allow(
        self, verb: str, resource: str, group: str = "", namespace: str | None = None
    ) -> None:
        """SSAR answers allowed for this verb/resource ("*" wildcards; namespace None = any)."""
        self.access.allow(verb, resource, group, namespace)

    def deny(self, verb: str, resource: str, group: str = "", namespace: str | None = None) -> None:
        self.access.deny(verb, resource, group, namespace)

    def set_default_access(self, allowed: bool) -> None:
        """Drop all rules; unlisted SSARs are then answered ``allowed``."""
        self.access.reset(allowed)

    # -- stats -----------------------------------------------------------------------------

    def _record(
        self, method: str, path: str, status: int, seconds: float, cpu: float, user: str = ""
    ) -> None:
        with self._records_lock:
            self._records.append(RequestRecord(method, path, status, seconds, cpu, user))

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request served (sandbox control requests included), oldest first."""
        with self._records_lock:
            return list(self._records)

    @property
    def request_count(self) -> int:
        with self._records_lock:
            return len(self._records)

    def reset_stats(self) -> None:
        with self._records_lock:
            self._records.clear()

    def server_times(self, cpu: bool = False) -> dict[str, float]:
        """Server's own time per request: count, sum, p50, p99, max (seconds).

        Wall time by default (watch waits and injected hangs excluded); ``cpu=True`` gives
        the handler thread's CPU time, which excludes waiting for the GIL or the socket —
        the fair figure when the client runs in the same process as the server.
        """
        times = sorted(r.cpu_seconds if cpu else r.seconds for r in self.requests)
        if not times:
            return {"count": 0, "sum": 0.0, "p50": 0.0, "p99": 0.0, "max": 0.0}
        p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
        return {
            "count": len(times),
            "sum": sum(times),
            "p50": statistics.median(times),
            "p99": p99,
            "max": times[-1],
        }

    # -- /_sandbox control -----------------------------------------------------------------

    def _control(self, method: str, parts: list[str], body: Any) -> tuple[int, Any]:
        """``/_sandbox/faults`` (GET list, POST add, DELETE clear), ``/_sandbox/access``
        (POST {verb, resource, group, namespace, allowed} or {default_allow}),
        ``/_sandbox/seed`` (POST {yaml}), ``/_sandbox/stats`` (GET)."""
        if parts == ["faults"]:
            if method == "GET":
                listed = [r.to_dict() for r in self.faults.rules()]
                return 200, {"faults": listed + [f.to_dict() for f in self.faults.pod_faults()]}
            if method == "DELETE":
                self.faults.clear()
                return 200, {"faults": []}
            if method == "POST" and isinstance(body, dict) and "pods_never_ready" in body:
                try:
                    fault = self.faults.add_pods_never_ready(**(body["pods_never_ready"] or {}))
                except (TypeError, ValueError, re.error) as exc:
                    raise errors.bad_request(str(exc)) from exc
                return 201, fault.to_dict()
            if method == "POST":
                try:
                    rule = self.faults.add(**body)
                except (TypeError, ValueError) as exc:
                    raise errors.bad_request(str(exc)) from exc
                return 201, rule.to_dict()
        if parts == ["access"] and method == "POST":
            if "default_allow" in body:
                self.set_default_access(bool(body["default_allow"]))
            else:
                add = self.allow if body.get("allowed", True) else self.deny
                add(body["verb"], body["resource"], body.get("group", ""), body.get("namespace"))
            return 200, {"ok": True}
        if parts == ["seed"] and method == "POST":
            return 200, {"loaded": self.load_seed(body.get("yaml", ""))}
        if parts == ["stats"] and method == "GET":
            return 200, self.server_times()
        raise errors.path_not_found("/_sandbox/" + "/".join(parts))
