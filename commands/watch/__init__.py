"""`watch`: the watcher cycle (p99 latency and CPU steal from Prometheus), alert rules and
the alert lifecycle, and `watch status`."""
