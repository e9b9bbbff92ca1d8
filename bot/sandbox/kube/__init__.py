"""Kubernetes API test server: a small kube-apiserver for tests, benchmarks and the demo.

No real apiserver runs on the project's machines, so this package serves the parts of
the Kubernetes API meshbot relies on — discovery, CRUD, patches, selectors, pagination,
watch, dry-run, CRDs with schema validation, SelfSubjectAccessReview — over HTTP to the
official client and kubectl. Production code never imports it.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from .seeds import generate_large_cluster, seed_path
from .server import KubeTestServer, RequestRecord

__all__ = ["KubeTestServer", "RequestRecord", "generate_large_cluster", "serve_forever"]


def serve_forever(
    seed: str | None,
    port: int,
    kubeconfig_out: str | None,
    version: str = "v1.33.2",
    state_file: str | None = None,
    controllers: bool = False,
) -> None:
    """Serve a seeded cluster until SIGINT/SIGTERM.

    ``seed``: a YAML file path, or "healthy" / "problems" (shipped seeds), or "large"
    (the generated 2,000-node / 30,000-pod cluster). ``kubeconfig_out``: where to write a
    kubeconfig for it. ``state_file``: restored at start when it exists (instead of the
    seed) and saved at stop, so a restart loses nothing. ``controllers``: run the
    workload controllers and the kubelet.
    """
    server = KubeTestServer(version=version, port=port, controllers=controllers)
    if state_file and Path(state_file).is_file():
        server.restore_state(state_file)
    elif seed == "large":
        server.load_objects(generate_large_cluster())
    elif seed:
        server.load_seed(seed_path(seed))
    server.start()
    if kubeconfig_out:
        server.write_kubeconfig(Path(kubeconfig_out))
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    print(f"kube sandbox serving at {server.url}", file=sys.stderr, flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.stop()
        if state_file:
            server.save_state(state_file)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
