"""History as OpenMetrics text, for ``promtool tsdb create-blocks-from openmetrics``.

Real Prometheus needs hours of data for 5-minute windows and for "compared with
yesterday" questions; scraping that in real time is impossible in a test. The same
simulator that serves live scrapes writes the same series, sample by sample, with
explicit timestamps, and promtool turns them into TSDB blocks in seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TextIO

from bot.sandbox.metrics.exposition import Family, format_labels, format_value, header_lines
from bot.sandbox.metrics.scenario import Scenario
from bot.sandbox.metrics.series import FAMILIES, Group, build_groups


def write_openmetrics(
    scenario: Scenario,
    start: datetime,
    end: datetime,
    step_s: float = 15,
    path: str | Path = "history.om",
    extra_labels: Mapping[str, str] | None = None,
) -> Path:
    """Write samples every ``step_s`` from ``start`` (scenario second 0) to ``end``.

    Families are contiguous, each series' samples ascend in time, timestamps are Unix
    seconds, and the file ends with ``# EOF`` — what promtool's parser requires.
    ``extra_labels`` (e.g. ``{"job": ...}``) go on every sample, so history and later
    live scrapes of the same scenario form one series.
    """
    if end <= start:
        raise ValueError("end must be after start")
    if step_s <= 0:
        raise ValueError("step_s must be > 0")
    origin = start.timestamp()
    count = int((end.timestamp() - origin) // step_s) + 1
    offsets = [i * step_s for i in range(count)]
    groups = build_groups(scenario)
    prefix = format_labels((extra_labels or {}).items())[1:-1]
    matrices = [[group.values_at(at) for at in offsets] for group in groups]
    target = Path(path)
    with target.open("w", encoding="utf-8") as out:
        for family in FAMILIES:
            _write_family(out, family, groups, matrices, offsets, origin, prefix)
        out.write("# EOF\n")
    return target


def _timestamp(origin: float, offset: float) -> str:
    return format_value(round(origin + offset, 3))


def _write_family(
    out: TextIO,
    family: Family,
    groups: list[Group],
    matrices: list[list[list[float] | None]],
    offsets: list[float],
    origin: float,
    prefix: str,
) -> None:
    wrote_header = False
    for group, matrix in zip(groups, matrices, strict=True):
        for unit in group.units:
            if unit.family is not family:
                continue
            for at, values in zip(offsets, matrix, strict=True):
                if values is None:
                    continue
                if unit.presence_slot is not None and values[unit.presence_slot] < 1:
                    continue
                if not wrote_header:
                    out.write("\n".join(header_lines(family, openmetrics=True)) + "\n")
                    wrote_header = True
                stamp = _timestamp(origin, at)
                for name, slot in zip(unit.names, unit.slots, strict=True):
                    if prefix:
                        name = name.replace("{", "{" + prefix + ",", 1)
                    out.write(f"{name} {format_value(values[slot])} {stamp}\n")
