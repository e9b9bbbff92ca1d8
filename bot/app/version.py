"""meshbot's installed version, read without importing anything else of meshbot."""

from __future__ import annotations


def meshbot_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("meshbot")
    except PackageNotFoundError:
        return "0+unknown"
