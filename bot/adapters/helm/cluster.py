"""The Helm port for one cluster: install, read and uninstall Istio's charts as releases.

Helm runs in-process (helm-sdkpy) with the cluster's own kubeconfig and context (or the
pod's ServiceAccount), so it reaches the same API server with the same credentials as
the kube adapter; its releases live where Helm keeps them by default, as Secrets in the
release's namespace, so a restart, another replica or the `helm` CLI sees them.

- upgrade (Istio's `base` before a new revision) is atomic too: a failed upgrade is rolled
  back by Helm to the revision before it (`rollback_on_failure`) and what it created is
  cleaned up; rollback returns a release to an earlier revision's chart and values.
- install is atomic: Helm waits until the release's workloads are ready, and on any
  failure (a refused object, a timeout) uninstalls what it created (`rollback_on_failure`,
  the old `--atomic`); whatever is still left is removed here before HelmFailed, and so
  is the namespace when this install created it. A name already in use is refused
  before anything is sent.
- dry_run renders through render.RenderStandIn: the cluster only receives reads.
- reads (release) and uninstall retry transient API failures with the kube adapter's
  attempts and backoff; install is never re-sent (the caller decides, after it was
  rolled back). Helm's messages are passed on with credentials scrubbed.
- Helm's client sets no timeout on a request, so every call is bounded here: a read by
  the cluster's `command_deadline_s`, an install or uninstall by its own timeout plus
  that (Helm's timeout covers the wait, the rollback comes after). A call past its bound
  is reported, not retried; Helm's thread is left to finish on its own.
- Istio's source-tree charts name a development registry and the tag `latest`: unless
  the values say otherwise, images then come from the configured hub at the chart's
  version (published charts already carry both).
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import replace
from types import ModuleType
from typing import Any, Protocol, TypeVar, cast

from bot.adapters.helm.releases import release_from, scrub, with_image_defaults
from bot.adapters.helm.render import Forward, RenderStandIn
from bot.adapters.helm.sources import ChartSource
from bot.adapters.kube.transport import BACKOFF_BASE_S, BACKOFF_CAP_S, MAX_ATTEMPTS
from commands.changes.model import ObjectRef
from commands.core.errors import PortError
from commands.install.ports import HelmFailed, HelmUnavailable, Release

T = TypeVar("T")
ISTIOD = "istiod"
TRANSIENT = re.compile(
    r"connection refused|connection reset|i/o timeout|TLS handshake timeout|unexpected EOF|"
    r"\b(429|500|502|503|504)\b|too many requests|internal error|service unavailable|"
    r"the server is currently unable",
    re.IGNORECASE,
)
# Helm keeps a release it could not finish deleting (status "uninstalling"): running the
# uninstall again resumes it, so that failure is worth another attempt too.
UNINSTALL_AGAIN = re.compile(TRANSIENT.pattern + r"|failed to delete release", re.IGNORECASE)
# another install of the same name won the race: nothing of that release is ours to remove
NAME_IN_USE = "cannot re-use a name that is still in use"


class Namespaces(Protocol):
    """The part of the kube adapter an install needs to undo the namespace it created."""

    def get_object(self, ref: ObjectRef) -> Mapping[str, Any] | None: ...

    def delete_object(self, ref: ObjectRef) -> None: ...


class ClusterHelm:
    def __init__(
        self,
        cluster: str,
        helm: ModuleType,
        source: ChartSource,
        *,
        forward: Forward,
        namespaces: Namespaces | None = None,
        kubeconfig: str | None = None,
        context: str | None = None,
        in_cluster: bool = False,
        hub: str = "docker.io/istio",
        read_limit_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cluster = cluster
        self.source = source
        self.hub = hub
        self._helm = helm
        self._forward = forward
        self._namespaces = namespaces
        self._kubeconfig = kubeconfig
        self._context = context
        self._in_cluster = in_cluster
        self._sleep = sleep
        self.read_limit_s = read_limit_s

    def describe(self) -> str:
        version = self._helm.get_version()
        return f"Helm {version} on cluster {self.cluster}, {self.source.describe()}"

    def chart_versions(self) -> Sequence[str]:
        return self.source.versions(ISTIOD)

    # ---- reads ------------------------------------------------------------------------------

    def release(self, namespace: str, name: str) -> Release | None:
        return self._release(self._config(namespace), name)

    def _release(self, config: Any, name: str) -> Release | None:
        try:
            data = self._retrying(
                lambda: self._helm.Status(config).run(name), f"reading {name}", self.read_limit_s
            )
        except self._helm.ReleaseNotFoundError:
            return None
        return release_from(data)

    # ---- writes -----------------------------------------------------------------------------

    def install(
        self,
        namespace: str,
        name: str,
        chart: str,
        version: str,
        values: Mapping[str, Any],
        *,
        dry_run: bool = False,
        timeout_s: float = 300.0,
    ) -> Release:
        ref, version_arg = self.source.locate(chart, version)
        given = with_image_defaults(values, ref, version, self.hub)
        config = self._config(namespace)  # one per install: Helm's discovery is done once
        existing = self._release(config, name)
        if existing is not None:
            raise HelmFailed(
                f"cluster {self.cluster}: release {name} already exists in {namespace} "
                f"({existing.chart} {existing.chart_version}, {existing.status})"
            )
        if dry_run:
            return self._dry_run(namespace, name, ref, version_arg, given)
        namespace_ref = ObjectRef("v1", "Namespace", "namespaces", namespace)
        creates_namespace = (
            self._namespaces is not None and self._namespaces.get_object(namespace_ref) is None
        )
        timeout = max(1, math.ceil(timeout_s))
        action = self._helm.Install(config).run(
            name, ref, values=given, version=version_arg, create_namespace=True,
            wait=True, timeout=timeout, rollback_on_failure=True,
        )  # fmt: skip
        what = f"installing {chart} {version} as {name}"
        try:
            data = _run(action, timeout + self.read_limit_s)
        except _TimedOut as late:
            raise self._late(what, late.seconds) from None
        except self._helm.HelmError as exc:
            failure = self._failed(what, exc)
            if NAME_IN_USE in str(exc):
                raise failure from None
            self._remove_leftovers(namespace, name, timeout_s, failure)
            if creates_namespace and self._namespaces is not None:
                try:
                    self._namespaces.delete_object(namespace_ref)
                except PortError as cleanup:
                    raise HelmFailed(
                        f"{failure} — and removing the namespace it created failed: {cleanup}"
                    ) from None
            raise failure from None
        return release_from(data)

    def _dry_run(
        self, namespace: str, name: str, ref: str, version: str | None, values: dict[str, Any]
    ) -> Release:
        with RenderStandIn(self._forward) as stand_in:
            config = self._make_config(namespace, stand_in.kubeconfig, None)
            action = self._helm.Install(config).run(
                name, ref, values=values, version=version, create_namespace=True, wait=False
            )
            data = self._once(action, f"rendering {name} (dry run)", self.read_limit_s * 2)
        return replace(release_from(data), status="pending-install", revision=0)

    def upgrade(
        self,
        namespace: str,
        name: str,
        chart: str,
        version: str,
        values: Mapping[str, Any],
        *,
        dry_run: bool = False,
        timeout_s: float = 300.0,
    ) -> Release:
        ref, version_arg = self.source.locate(chart, version)
        given = with_image_defaults(values, ref, version, self.hub)
        config = self._config(namespace)
        existing = self._release(config, name)
        if existing is None:
            raise HelmFailed(f"cluster {self.cluster}: release {name} is not in {namespace}")
        what = f"upgrading {name} to {chart} {version}"
        if dry_run:
            with RenderStandIn(self._forward) as stand_in:
                action = self._helm.Upgrade(
                    self._make_config(namespace, stand_in.kubeconfig, None)
                ).run(name, ref, values=given, version=version_arg, wait=False)
                data = self._once(action, f"rendering {what} (dry run)", self.read_limit_s * 2)
            return replace(release_from(data), status="pending-upgrade", revision=0)
        timeout = max(1, math.ceil(timeout_s))
        action = self._helm.Upgrade(config).run(
            name, ref, values=given, version=version_arg, wait=True, timeout=timeout,
            rollback_on_failure=True, cleanup_on_fail=True,
        )  # fmt: skip
        return release_from(self._once(action, what, timeout + self.read_limit_s))

    def rollback(
        self, namespace: str, name: str, revision: int, *, timeout_s: float = 300.0
    ) -> Release:
        """What `helm rollback NAME REVISION` does — a new revision carrying that earlier
        revision's chart and values — done as an upgrade: helm-sdkpy's own Rollback action
        sets no wait strategy, which Helm v4 refuses ("wait strategy not set")."""
        config = self._config(namespace)
        history = self._retrying(
            lambda: self._helm.History(config).run(name),
            f"reading the history of {name}",
            self.read_limit_s,
        )
        earlier = next((r for r in map(release_from, history) if r.revision == revision), None)
        if earlier is None:
            raise HelmFailed(
                f"cluster {self.cluster}: {name} has no revision {revision} to roll back to"
            )
        return self.upgrade(
            namespace, name, earlier.chart, earlier.chart_version, earlier.values,
            timeout_s=timeout_s,
        )  # fmt: skip

    def _once(self, action: Coroutine[Any, Any, T], what: str, limit_s: float) -> T:
        """A write sent once: never re-sent here (Helm may have done part of it)."""
        try:
            return _run(action, limit_s)
        except _TimedOut as late:
            raise self._late(what, late.seconds) from None
        except self._helm.HelmError as exc:
            raise self._failed(what, exc) from None

    def uninstall(self, namespace: str, name: str, *, timeout_s: float = 300.0) -> None:
        config = self._config(namespace)
        timeout = max(1, math.ceil(timeout_s))
        try:
            self._retrying(
                lambda: self._helm.Uninstall(config).run(name, wait=True, timeout=timeout),
                f"uninstalling {name}",
                timeout + self.read_limit_s,
                UNINSTALL_AGAIN,
            )
        except self._helm.ReleaseNotFoundError:
            return

    def _remove_leftovers(
        self, namespace: str, name: str, timeout_s: float, failure: HelmFailed
    ) -> None:
        """Helm's own rollback normally left nothing; if it failed itself, finish it."""
        try:
            if self.release(namespace, name) is not None:
                self.uninstall(namespace, name, timeout_s=timeout_s)
        except HelmFailed as cleanup:
            raise HelmFailed(
                f"{failure} — and removing what it created failed: {cleanup}"
            ) from None

    # ---- plumbing ---------------------------------------------------------------------------

    def _config(self, namespace: str) -> Any:
        if self._in_cluster:
            return self._guard(lambda: self._helm.Configuration.from_service_account(namespace))
        return self._make_config(namespace, self._kubeconfig, self._context)

    def _make_config(self, namespace: str, kubeconfig: str | None, context: str | None) -> Any:
        return self._guard(
            lambda: self._helm.Configuration(
                namespace=namespace, kubeconfig=kubeconfig, kubecontext=context
            )
        )

    def _guard(self, make: Callable[[], Any]) -> Any:
        try:
            return make()
        except self._helm.HelmError as exc:
            raise HelmUnavailable(
                f"cluster {self.cluster}: Helm cannot use its kubeconfig: {scrub(str(exc))}"
            ) from None

    def _retrying(
        self,
        action: Callable[[], Coroutine[Any, Any, T]],
        what: str,
        limit_s: float,
        again: re.Pattern[str] = TRANSIENT,
    ) -> T:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return _run(action(), limit_s)
            except _TimedOut as late:
                raise self._late(what, late.seconds) from None
            except self._helm.ReleaseNotFoundError:
                raise
            except self._helm.HelmError as exc:
                if attempt == MAX_ATTEMPTS or not again.search(str(exc)):
                    suffix = f" (after {attempt} attempts)" if attempt > 1 else ""
                    raise self._failed(what + suffix, exc) from None
            self._sleep(random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))))
        raise AssertionError("unreachable")

    def _failed(self, what: str, exc: Exception) -> HelmFailed:
        return HelmFailed(f"cluster {self.cluster}: {what} failed: {scrub(str(exc))}")

    def _late(self, what: str, seconds: float) -> HelmFailed:
        return HelmFailed(
            f"cluster {self.cluster}: {what} timed out after {seconds:g} s (the API server "
            "did not answer in time; Helm may still finish: read the release before retrying)"
        )


class _TimedOut(Exception):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


def _run(action: Coroutine[Any, Any, T], limit_s: float) -> T:
    """Run a helm-sdkpy action in its own thread; _TimedOut when it outlasts `limit_s`
    (the Go call cannot be cancelled: its thread is a daemon and finishes on its own)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = asyncio.run(action)
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="helm", daemon=True)
    worker.start()
    worker.join(limit_s)
    if worker.is_alive():
        raise _TimedOut(round(limit_s, 1))
    if "error" in outcome:
        raise outcome["error"]
    return cast(T, outcome["value"])
