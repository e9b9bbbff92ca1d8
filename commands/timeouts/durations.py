"""Durations and retry policies as Istio reads them, for the audit, `set` and the fixes.

Go durations (`2s`, `500ms`, `1.5s`, `1m`, `1h30m`), as the CRD's CEL rule
`duration(self) >= duration('1ms')` and Istio's webhook read them: at least 1 ms and
whole milliseconds, and no longer than Go's int64 of nanoseconds holds (about 292
years; longer does not parse, so istiod could not read the object at all). `retryOn`
takes Envoy's policy names and HTTP status codes.

Two readers: `parse_duration` is strict (what `set` and the config accept), and
`read_route_duration` says what a value already in a VirtualService means to Envoy,
with what Istio's validation would have said about it, so the audit can report a
value that slipped past an old CRD instead of silently treating it as unset.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from fractions import Fraction

_UNITS_NS = {
    "ns": Fraction(1),
    "us": Fraction(1000),
    "µs": Fraction(1000),
    "μs": Fraction(1000),
    "ms": Fraction(1_000_000),
    "s": Fraction(1_000_000_000),
    "m": Fraction(60_000_000_000),
    "h": Fraction(3_600_000_000_000),
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
MAX_NS = 2**63 - 1  # Go's time.Duration; also below Envoy's own cap on Duration seconds
MAX_TEXT = "2562047h47m16.854775807s"  # MAX_NS written as a duration
RETRY_ON_POLICIES = frozenset(
    {
        "5xx",
        "gateway-error",
        "reset",
        "reset-before-request",
        "connect-failure",
        "envoy-ratelimited",
        "retriable-4xx",
        "refused-stream",
        "retriable-status-codes",
        "retriable-headers",
        "http3-post-connect-failure",
        "cancelled",
        "deadline-exceeded",
        "internal",
        "resource-exhausted",
        "unavailable",
    }
)
DURATION_HELP = "a duration like 2s, 500ms, 1.5s or 1m (at least 1ms, whole milliseconds)"


class DurationError(ValueError):
    pass


def _go_nanoseconds(text: str) -> Fraction:
    """Nanoseconds of a Go duration (`time.ParseDuration`'s grammar); DurationError when
    it is not one, is negative, or is longer than Go can hold."""
    raw = text.strip()
    if not raw:
        raise DurationError(f"empty duration: expected {DURATION_HELP}")
    if raw.startswith("-"):
        raise DurationError(f"`{text}` is negative: expected {DURATION_HELP}")
    body = raw.lstrip("+")
    if body == "0":
        return Fraction(0)
    total = Fraction(0)
    pos = 0
    while pos < len(body):
        match = _PART.match(body, pos)
        if match is None:
            raise DurationError(f"`{text}` is not a duration: expected {DURATION_HELP}")
        total += Fraction(match.group(1)) * _UNITS_NS[match.group(2)]
        pos = match.end()
    if pos == 0:
        raise DurationError(f"`{text}` is not a duration: expected {DURATION_HELP}")
    if total > MAX_NS:
        raise DurationError(
            f"`{text}` is longer than any duration Go, Istio and Envoy can hold (at most "
            f"{MAX_TEXT}, about 292 years)"
        )
    return total


def parse_duration(text: str) -> int:
    """Milliseconds of a Go duration, validated as Istio does; raises DurationError."""
    millis = _go_nanoseconds(text) / 1_000_000
    if millis < 1:
        raise DurationError(f"`{text}` is below 1ms: expected {DURATION_HELP}")
    if millis.denominator != 1:
        raise DurationError(f"`{text}` is finer than a millisecond: Istio keeps whole milliseconds")
    return int(millis)


@dataclass(frozen=True)
class RouteDuration:
    """A duration found in a VirtualService: what Envoy runs with (`ms`, None: no limit)
    and, when Istio's validation would refuse it, why (`problem`)."""

    ms: int | None
    problem: str | None = None


def read_route_duration(raw: object) -> RouteDuration:
    if raw is None or raw == "":
        return RouteDuration(None)
    return _read(str(raw))


@functools.lru_cache(maxsize=4096)
def _read(text: str) -> RouteDuration:
    """A large mesh repeats a handful of durations thousands of times."""
    try:
        return RouteDuration(parse_duration(text))
    except DurationError as exc:
        try:
            nanos = _go_nanoseconds(text)
        except DurationError:
            return RouteDuration(None, f"{exc}; istiod cannot read it")
        if nanos == 0:
            return RouteDuration(
                None, f"`{text}` is zero: Istio ≥1.23 refuses it and Envoy reads 0 as no limit"
            )
        return RouteDuration(max(1, math.ceil(nanos / 1_000_000)), str(exc))


def format_duration(ms: int) -> str:
    """The shortest Go duration both Istio and the CRD's CEL rule accept."""
    if ms % 3_600_000 == 0:
        return f"{ms // 3_600_000}h"
    if ms % 60_000 == 0:
        return f"{ms // 60_000}m"
    if ms % 1000 == 0:
        return f"{ms // 1000}s"
    if ms > 1000 and ms % 100 == 0:
        return f"{ms / 1000:g}s"
    return f"{ms}ms"


def retry_on_tokens(text: str) -> list[str]:
    return [i.strip() for i in text.split(",") if i.strip()]


def parse_retry_on(text: str) -> str:
    """A `retryOn` value Istio accepts: Envoy policy names and HTTP status codes."""
    items = retry_on_tokens(text)
    if not items:
        raise ValueError("retry-on is empty")
    for item in items:
        if item.isdigit() and 100 <= int(item) <= 599:
            continue
        if item not in RETRY_ON_POLICIES:
            known = ", ".join(sorted(RETRY_ON_POLICIES))
            raise ValueError(f"`{item}` is not a retry policy or status code (known: {known})")
    return ",".join(items)
