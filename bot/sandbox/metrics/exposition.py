"""Text formats: Prometheus exposition (what a scrape sees) and OpenMetrics (for backfill).

Both formats share label and number formatting so a live scrape and a backfilled
history produce identical series (same ``le`` strings, same label order).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """A metric family: the exposition name, the OpenMetrics name, its type and help."""

    name: str
    om_name: str
    kind: str  # counter | gauge | histogram
    help: str


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_labels(labels: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{key}="{escape_label_value(value)}"' for key, value in labels)
    return "{" + inner + "}" if inner else ""


def format_value(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def format_le(bound: float) -> str:
    """``le`` label value as Envoy writes it: ``0.5``, ``1``, ``3600000``, ``+Inf``."""
    return format_value(bound)


def header_lines(family: Family, openmetrics: bool = False) -> list[str]:
    name = family.om_name if openmetrics else family.name
    return [f"# HELP {name} {family.help}", f"# TYPE {name} {family.kind}"]
