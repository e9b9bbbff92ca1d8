"""Adapters: one outside technology each (Redis, Kubernetes, Prometheus, istioctl)."""
