"""Builds everything a replica runs on from `Settings`: store, adapters, kits, registry.

Nothing is created at import time. `build_runtime` is called once by the CLI (and per
test); it is the only place that knows every adapter and every capability, and it
checks the wiring before anything runs (a command whose kit or cluster protocol is
missing fails here, by name). `start_jobs` starts what runs on a timer — the change
sweeper always, the watchers when there is a Slack client to post with — and the
runtime stops them when it closes.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from typing import TYPE_CHECKING

from bot.adapters.embedded_redis import EmbeddedRedis
from bot.adapters.kube import KubeCluster
from bot.adapters.prometheus import PrometheusMetrics
from bot.adapters.redis_store import RedisStore
from bot.app.config import Settings
from bot.app.registry import build_registry, meshbot_version
from bot.changes.settings import ChangesConfig
from bot.core.runtime import Runtime, SystemClock
from bot.core.settings import ClusterConfig
from bot.core.telemetry import Telemetry
from bot.install.wiring import PreflightBridge, helm_clients, register_hooks
from bot.watch.settings import WatchServices
from commands.changes.hooks import ChangeHooks, ChangesKit
from commands.core.ports import Metrics, Services
from commands.core.wiring import Kits
from commands.install.ports import HelmClients, InstallKit
from commands.mtls import commands as mtls
from commands.mtls.verify import MtlsBakeVerifier
from commands.timeouts.fix import KIND as TIMEOUTS_KIND
from commands.timeouts.model import TimeoutsSettings
from commands.timeouts.verify import TimeoutsBakeVerifier

if TYPE_CHECKING:  # what only `serve` runs: a CLI command never loads Slack or timers
    from slack_sdk import WebClient

    from bot.changes.sweeper import ChangeSweeper

log = logging.getLogger(__name__)


def build_runtime(
    settings: Settings, *, replica_id: str | None = None, helm: HelmClients | None = None
) -> Runtime:
    """`helm`: the Helm clients to use instead of the configured adapter (tests)."""
    file = settings.file
    store, embedded = _store(settings)
    clusters = {
        name: KubeCluster(
            name,
            kubeconfig=str(c.kubeconfig.expanduser()) if c.kubeconfig else None,
            context=c.context,
            in_cluster=c.in_cluster,
            timeout_s=c.request_timeout_s,
            deadline_s=c.command_deadline_s,
        )
        for name, c in file.clusters.items()
    }
    metrics = {
        name: _prometheus(settings, name, c)
        for name, c in file.clusters.items()
        if c.prometheus is not None
    }
    ports_metrics: dict[str, Metrics] = dict(metrics)
    configured_helm = None
    if helm is None:
        helm = configured_helm = helm_clients(file.clusters, clusters)
    install = InstallKit(file.install.to_core(), helm, PreflightBridge())
    watch = WatchServices(file.watchers, {n: c.oncall_channel for n, c in file.clusters.items()})
    services = Services(
        store=store,
        lease=store,
        clusters=clusters,
        metrics=ports_metrics,
        clock=SystemClock(),
        version=meshbot_version(),
        replica_id=replica_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}",
        cluster_channels={name: c.channels for name, c in file.clusters.items() if c.channels},
        kits=Kits(
            [
                file.preflight.to_core(),
                file.timeouts.to_core(),
                file.changes.mtls_settings(),
                build_changes(file.changes, file.timeouts.to_core(), install),
                install,
                watch,
                watch.counters,
            ]
        ),
    )
    registry = build_registry()
    runtime = Runtime(settings, registry, services, Telemetry())
    for cluster in clusters.values():
        runtime.on_close(cluster.close)
    for prometheus in metrics.values():
        runtime.on_close(prometheus.close)
    if configured_helm is not None:
        runtime.on_close(configured_helm.close)
    runtime.on_close(store.close)
    if embedded is not None:
        runtime.on_close(embedded.stop)
    try:
        registry.check_wiring(services)
    except Exception:
        runtime.close()
        raise
    return runtime


def start_sweeper(runtime: Runtime, settings: Settings) -> ChangeSweeper:
    """Expire proposals and run due bake checks on a timer, whatever the front end; the
    runtime stops it when it closes."""
    from bot.changes.sweeper import ChangeSweeper

    sweeper = ChangeSweeper(runtime, settings.file.changes.sweep_interval_s).start()
    runtime.on_stop(sweeper.stop)
    return sweeper


def start_jobs(runtime: Runtime, settings: Settings, client: WebClient) -> None:
    """What `serve` runs on timers: the sweeper, and the watchers that post with `client`."""
    from bot.watch.jobs import start_watchers

    start_sweeper(runtime, settings)
    watchers = start_watchers(runtime, client)
    if watchers is not None:
        runtime.on_stop(watchers.stop)


def build_changes(
    config: ChangesConfig, timeouts: TimeoutsSettings, install: InstallKit | None = None
) -> ChangesKit:
    """The change pipeline's settings and hooks, with each change kind's verifier."""
    hooks = ChangeHooks()
    mtls_verifier = MtlsBakeVerifier(config.mtls_settings())
    hooks.register_verifier(mtls.KIND_STRICT, mtls_verifier)
    hooks.register_verifier(mtls.KIND_PERMISSIVE, mtls_verifier)
    hooks.register_verifier(TIMEOUTS_KIND, TimeoutsBakeVerifier(timeouts))
    if install is not None:
        register_hooks(hooks, install.settings, install.helm)
    return ChangesKit(config.pipeline_settings(), hooks)


def _store(settings: Settings) -> tuple[RedisStore, EmbeddedRedis | None]:
    """REDIS_URL's server, or the data directory's shared embedded Valkey, joined (or
    started) on the store's first use only."""
    prefix = settings.file.redis.key_prefix
    redis_url = settings.secrets.redis_url
    if redis_url is not None:
        return RedisStore.from_url(redis_url.get_secret_value(), prefix=prefix), None
    embedded = EmbeddedRedis(settings.file.redis.data_dir)
    store = RedisStore(
        lambda: embedded.client(socket_timeout=2.0, socket_connect_timeout=2.0),
        prefix=prefix,
        label=embedded.describe,
        on_unreachable=embedded.recover,
    )
    return store, embedded


def _prometheus(settings: Settings, name: str, cluster: ClusterConfig) -> PrometheusMetrics:
    prom = cluster.prometheus
    assert prom is not None
    secret = settings.secrets.prometheus.get(name)
    token = secret.get_secret_value() if secret and prom.bearer_token_env else None
    basic = (
        (prom.basic_auth.username, secret.get_secret_value())
        if secret and prom.basic_auth
        else None
    )
    return PrometheusMetrics(
        prom.url,
        bearer_token=token,
        basic_auth=basic,
        ca_file=str(prom.ca_file.expanduser()) if prom.ca_file else None,
        tenant=prom.tenant,
        timeout_s=prom.timeout_s,
    )
