"""PNG charts for alert threads: the last hour of a metric with its threshold line.

Why this exists: "p99 812 ms" says less than a picture of the climb and where the line
is, and Slack cannot draw one. Charts are rendered server-side with matplotlib's Agg
canvas on a `Figure` object (not pyplot: no global state, safe from several threads),
and imported lazily so replicas that never alert never pay for matplotlib.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime


def line_chart(
    points: Sequence[tuple[float, float]],
    *,
    title: str,
    unit: str,
    threshold: float | None = None,
    warn: float | None = None,
) -> bytes:
    """A PNG of `points` (unix time, value) with dashed threshold lines."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    times = [datetime.fromtimestamp(t, UTC) for t, _ in points]
    values = [v for _, v in points]
    if points:
        axes.plot(times, values, color="#1f77b4", linewidth=1.8, label=title)  # type: ignore[arg-type]
    else:
        axes.text(0.5, 0.5, "no data in the last hour", ha="center", transform=axes.transAxes)
    if threshold is not None:
        axes.axhline(threshold, color="#d62728", linestyle="--", linewidth=1.2, label="threshold")
    if warn is not None:
        axes.axhline(warn, color="#ff7f0e", linestyle=":", linewidth=1.2, label="warning")
    axes.set_title(title, fontsize=10)
    axes.set_ylabel(unit)
    axes.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=UTC))
    axes.grid(alpha=0.3)
    axes.set_ylim(bottom=0)
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
