"""Saving and restoring a test server's objects: an API server restart that loses nothing.

A real API server keeps its objects in etcd, so a restart between, say, a Helm install
and its rollback changes nothing a client can see: Helm's release Secrets, the CRDs and
every object keep their uid and resourceVersion. ``save`` writes the store to a JSON
file; ``restore`` loads it into a fresh server (CRDs registered again, the
resourceVersion counter continued), as ``meshbot sandbox cluster --state FILE`` does
across runs. Watches are not carried over: clients re-list after a restart anyway.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import KubeTestServer

FORMAT = "meshbot-kube-sandbox-state/v1"
CRDS = ("apiextensions.k8s.io", "customresourcedefinitions")


def snapshot(server: KubeTestServer) -> dict[str, Any]:
    store = server.store
    with store.lock:
        objects = [
            {"resource": list(resource), "object": obj}
            for resource in store.resources()
            for obj in store.objects(resource).values()
        ]
        return {"format": FORMAT, "resourceVersion": store.rv, "objects": objects}


def save(server: KubeTestServer, path: str | Path) -> Path:
    """Write every stored object to ``path`` (atomically: a crash leaves the old file)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(out.name + ".tmp")
    temporary.write_text(json.dumps(snapshot(server), separators=(",", ":")))
    os.replace(temporary, out)
    return out


def restore(server: KubeTestServer, path: str | Path) -> int:
    """Load a saved state into ``server`` (before it serves); returns objects restored."""
    data = json.loads(Path(path).read_text())
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a kube sandbox state file (format {data.get('format')!r})")
    store = server.store
    entries = sorted(data["objects"], key=lambda e: int(e["object"]["metadata"]["resourceVersion"]))
    with store.lock:
        store.clear()
        for entry in entries:
            store.put(tuple(entry["resource"]), entry["object"], "ADDED")  # type: ignore[arg-type]
        for entry in entries:
            if tuple(entry["resource"]) == CRDS:
                server.table.register_crd(entry["object"])
        store.rv = max(
            (int(e["object"]["metadata"]["resourceVersion"]) for e in entries), default=0
        )
        store.rv = max(store.rv, int(data.get("resourceVersion", 0)))
    return len(entries)
