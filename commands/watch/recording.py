"""The watcher's p99 as Prometheus recording rules, for meshes too big to compute it each cycle.

Why this exists: a cycle's cost is the one latency query, `histogram_quantile` over
every service's buckets, and it grows with the services (docs/performance.md: past a few
thousand services it no longer fits a short cycle on a small Prometheus). Prometheus can
compute the same p99 and request rate once per evaluation interval as recording rules;
the watcher then only selects two recorded series per service. `watch rules` prints the
rule file (load it with `rule_files:`; `promtool check rules` accepts it), and
`watchers.latency.recorded: true` makes the cycle read the recorded series. The rules'
expressions are the watcher's own (commands.watch.queries), so both paths judge the same
numbers.
"""

from __future__ import annotations

import json
import re

from commands.core.model import Result, Text, UsageError
from commands.core.registry import Args, CommandSpec, Context, Param, Registry
from commands.watch.queries import Baseline, p99_expr, rate_expr, tagged

GROUP = "meshbot-watch"
_WINDOW = re.compile(r"^\d+(ms|s|m|h|d)$")


def p99_record(window: str) -> str:
    return f"meshbot:istio_request_duration_milliseconds:p99_rate{window}"


def rps_record(window: str) -> str:
    return f"meshbot:istio_requests:rate{window}"


def recording_rules(window: str = "5m", interval: str = "30s") -> str:
    """The rule file (YAML) recording every service's p99 and request rate over `window`."""
    rules = [(p99_record(window), p99_expr(window)), (rps_record(window), rate_expr(window))]
    lines = [
        "groups:",
        f"  - name: {GROUP}",
        f"    interval: {interval}",
        "    rules:",
    ]
    for record, expr in rules:
        lines += [f"      - record: {record}", f"        expr: {json.dumps(expr)}"]
    return "\n".join(lines) + "\n"


def recorded_latency_query(window: str = "5m", baseline: Baseline = Baseline.NONE) -> str:
    """`commands.watch.queries.latency_query`, answered from the recorded series."""
    # `max by`: one series per service without the metric name, even when two
    # Prometheus replicas recorded it (Thanos, Mimir).
    p99, rps = p99_record(window), rps_record(window)
    parts = [tagged(_one(p99), "p99"), tagged(_one(rps), "rps")]
    if baseline.offset is not None:
        parts.append(tagged(_one(f"{p99} offset {baseline.offset}"), "baseline"))
        # recorded at the baseline window's start (offset + window ago)
        covered = f"count by (destination_service) ({rps} offset {baseline.offset}{window})"
        parts.append(tagged(covered, "baseline_covered"))
    return " or ".join(parts)


def _one(series: str) -> str:
    return f"max by (destination_service) ({series})"


def _rules(ctx: Context, args: Args) -> Result:
    window, interval = str(args.get("window") or "5m"), str(args.get("interval") or "30s")
    for name, value in (("window", window), ("interval", interval)):
        if not _WINDOW.match(value):
            return UsageError(f"`{name}=` takes a Prometheus duration such as 5m or 30s")
    title = (
        f"# meshbot recording rules: every service's p99 and request rate over {window}, "
        f"evaluated every {interval}; the watchers read them with watchers.latency.recorded"
    )
    return Text(title, tuple(recording_rules(window, interval).splitlines()))


def register(registry: Registry) -> None:
    registry.register(
        CommandSpec(
            "watch rules",
            "Print Prometheus recording rules for the watchers' p99 (for large meshes)",
            _rules,
            options=(
                Param("window", "the latency window (as watchers.latency.window)", default="5m"),
                Param("interval", "how often Prometheus evaluates them", default="30s"),
            ),
            details=(
                "Prometheus computes every service's p99 and request rate once per interval; "
                "with watchers.latency.recorded the watcher reads those series instead of "
                "running histogram_quantile over every service's buckets each cycle. Save "
                "the output as a rule file, list it under rule_files, check it with "
                "promtool check rules."
            ),
            examples=("watch rules", "watch rules window=5m interval=30s"),
        )
    )
