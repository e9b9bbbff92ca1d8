"""Shared pytest wiring: every fixture module under tests/fixtures is a plugin."""

pytest_plugins = [
    "tests.fixtures.redis",
    "tests.fixtures.kube",
    "tests.fixtures.kube_proto",
    "tests.fixtures.metrics",
    "tests.fixtures.prometheus",
    "tests.fixtures.slack",
    "tests.fixtures.meshbot",
]
