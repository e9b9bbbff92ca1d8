"""Builds everything a replica runs on from `Settings`: store, adapters, registry, telemetry.

Nothing is created at import time. `build_runtime` is called once by the CLI (and per
test), and `Runtime.close` releases what it opened, including an embedded Redis.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from bot.adapters.embedded_redis import EmbeddedRedis
from bot.adapters.kube import KubeCluster
from bot.adapters.prometheus import PrometheusMetrics
from bot.adapters.redis_store import RedisStore
from bot.app.config import ClusterConfig, Settings
from bot.changes.settings import ChangesConfig
from bot.core.acks import AckGate
from bot.core.telemetry import Telemetry
from bot.watch.settings import WatchServices
from commands.changes import commands as change_commands
from commands.changes.hooks import ChangeHooks, ChangesKit
from commands.core import builtin
from commands.core.ports import Metrics, Services
from commands.core.registry import Registry
from commands.mtls import commands as mtls
from commands.mtls.verify import MtlsBakeVerifier
from commands.preflight import commands as preflight_commands
from commands.timeouts import commands as timeouts_commands
from commands.watch import commands as watch_commands

log = logging.getLogger(__name__)
# Bolt runs each listener on `listener_pool`; a listener only acks and hands the work
# to `work_pool`. Few work threads leave the GIL to the acks during a burst, and the
# work of earlier requests can never hold up the ack of the next one.
LISTENER_THREADS = 16
WORK_THREADS = 4


def meshbot_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("meshbot")
    except PackageNotFoundError:
        return "0+unknown"


class SystemClock:
    def now(self) -> float:
        return time.time()


def build_registry() -> Registry:
    registry = Registry()
    builtin.register(registry)
    change_commands.register(registry)
    mtls.register(registry)
    preflight_commands.register(registry)
    watch_commands.register(registry)
    timeouts_commands.register(registry)
    return registry


@dataclass
class Runtime:
    settings: Settings
    registry: Registry
    services: Services
    store: RedisStore
    telemetry: Telemetry
    embedded: EmbeddedRedis | None = None
    clusters: dict[str, KubeCluster] = field(default_factory=dict)
    metrics: dict[str, PrometheusMetrics] = field(default_factory=dict)
    listener_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(
            max_workers=LISTENER_THREADS, thread_name_prefix="meshbot-listener"
        )
    )

    work_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(
            max_workers=WORK_THREADS, thread_name_prefix="meshbot-work"
        )
    )

    acks: AckGate = field(default_factory=AckGate)

    def after_acks(self, work: Callable[[], None]) -> None:
        """Run `work` on the work pool once pending Slack acks are out (see bot.core.acks)."""
        self.work_pool.submit(self.acks.after_acks(work))

    def close(self) -> None:
        self.listener_pool.shutdown(wait=True, cancel_futures=True)
        self.work_pool.shutdown(wait=True, cancel_futures=True)
        for cluster in self.clusters.values():
            cluster.close()
        for metrics in self.metrics.values():
            metrics.close()
        self.store.close()
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_runtime(settings: Settings, *, replica_id: str | None = None) -> Runtime:
    embedded = None
    redis_url = settings.secrets.redis_url
    if redis_url is not None:
        store = RedisStore.from_url(
            redis_url.get_secret_value(), prefix=settings.file.redis.key_prefix
        )
    else:
        embedded = EmbeddedRedis(settings.file.redis.data_dir)
        url = embedded.start()
        store = RedisStore.from_url(
            url, prefix=settings.file.redis.key_prefix, label=embedded.describe()
        )
        log.info("REDIS_URL is not set: using %s", embedded.describe())
    clusters = {
        name: KubeCluster(
            name,
            kubeconfig=str(c.kubeconfig.expanduser()) if c.kubeconfig else None,
            context=c.context,
            in_cluster=c.in_cluster,
            timeout_s=c.request_timeout_s,
        )
        for name, c in settings.file.clusters.items()
    }
    metrics = {
        name: _prometheus(settings, name, c)
        for name, c in settings.file.clusters.items()
        if c.prometheus is not None
    }
    ports_metrics: dict[str, Metrics] = dict(metrics)
    services = Services(
        store=store,
        lease=store,
        clusters=clusters,
        metrics=ports_metrics,
        clock=SystemClock(),
        version=meshbot_version(),
        replica_id=replica_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}",
        preflight=settings.file.preflight.to_core(),
        timeouts=settings.file.timeouts.to_core(),
        changes=build_changes(settings.file.changes),
        watch=WatchServices(
            settings.file.watchers,
            {name: c.oncall_channel for name, c in settings.file.clusters.items()},
        ),
        cluster_channels={
            name: c.channels for name, c in settings.file.clusters.items() if c.channels
        },
    )
    timeouts_commands.register_hooks(services)
    return Runtime(
        settings=settings,
        registry=build_registry(),
        services=services,
        store=store,
        telemetry=Telemetry(),
        embedded=embedded,
        clusters=clusters,
        metrics=metrics,
    )


def build_changes(config: ChangesConfig) -> ChangesKit:
    """The change pipeline's settings and per-runtime hooks, with each kind's verifier."""
    mtls_settings = config.mtls_settings()
    hooks = ChangeHooks()
    verifier = MtlsBakeVerifier(mtls_settings)
    hooks.register_verifier(mtls.KIND_STRICT, verifier)
    hooks.register_verifier(mtls.KIND_PERMISSIVE, verifier)
    return ChangesKit(config.pipeline_settings(), hooks, {"mtls": mtls_settings})


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
