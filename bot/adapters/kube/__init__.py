"""The Cluster port on the official `kubernetes` client; the only package that imports it.

`cluster.py` holds the connection (config loading, timeouts, error translation); each
capability's reads and writes live in a module of their own and are mixed into
`KubeCluster`, so the adapter grows by files, not by one long class.
"""

from bot.adapters.kube.cluster import KubeCluster

__all__ = ["KubeCluster"]
