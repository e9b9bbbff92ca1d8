"""Exceptions that cross the ports: adapters raise these, the core turns them into answers.

Adapters translate their library's exceptions (redis-py, httpx, the kubernetes client)
into this small tree so the core never imports an I/O library to catch them.

    PortError
    ├── StoreUnavailable      the state store cannot be reached
    ├── ClusterUnavailable    a Kubernetes API server cannot be reached or refused us
    │   └── DeadlineExceeded  the command's overall deadline left no time for a read
    └── MetricsUnavailable    a Prometheus-compatible API cannot be reached or failed
"""

from __future__ import annotations


class PortError(Exception):
    """A dependency behind a port failed; the message is safe to show a user."""


class StoreUnavailable(PortError):
    pass


class ClusterUnavailable(PortError):
    pass


class DeadlineExceeded(ClusterUnavailable):
    """A read was not done (or was cut short) because the command's deadline ran out
    (commands.core.deadline); the message names what was cut."""


class MetricsUnavailable(PortError):
    pass
