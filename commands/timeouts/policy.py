"""The retry policy Envoy runs for a route, as Istio builds it (`retry.ConvertPolicy`).

- No `retries` block: Istio's default — 2 retries on `connect-failure, refused-stream,
  unavailable, cancelled, retriable-status-codes` with no status codes (503 left the
  default in Istio 1.24), no per-try timeout. A route never gets Envoy's own defaults.
- `retries` with `attempts` ≤ 0, including `retries: {}`: no retry policy at all.
- `attempts` > 0: the default with `attempts`, `perTryTimeout` and `retryOn` (numbers
  become retriable status codes) replacing its parts; an empty `retryOn` keeps the
  default conditions.

Which conditions matter for timeouts: Envoy retries a try that hit `perTryTimeout`
only when `retryOn` has `5xx`, `gateway-error` or `reset` (the timeout is a local
reset). Without one of them a per-try timeout ends the request with a 504 after the
first slow try — so `(attempts + 1) x perTryTimeout` is not how long it can take, and
retries cannot multiply slow requests, only fast failures.
"""

from __future__ import annotations

from dataclasses import dataclass

from commands.timeouts.durations import format_duration, retry_on_tokens

DEFAULT_ATTEMPTS = 2
DEFAULT_RETRY_ON = ("connect-failure", "refused-stream", "unavailable", "cancelled")
RETRIES_TIMEOUTS = frozenset({"5xx", "gateway-error", "reset"})


@dataclass(frozen=True)
class RetrySpec:
    """A route's `retries` block as written. `attempts` counts retries after the first
    try; 0 turns retries off. `per_try_ms` None: each try may use the whole timeout."""

    attempts: int
    per_try_ms: int | None = None
    retry_on: str | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """What Envoy does: `attempts` retries (0: none) on `conditions`."""

    attempts: int
    per_try_ms: int | None
    conditions: tuple[str, ...]
    status_codes: tuple[int, ...]
    explicit: bool  # written on the route (or inherited from a root), not Istio's default

    @property
    def tries(self) -> int:
        return self.attempts + 1

    @property
    def retries_timeouts(self) -> bool:
        """Is a try that hit `perTryTimeout` retried?"""
        return self.attempts > 0 and bool(RETRIES_TIMEOUTS & set(self.conditions))

    @property
    def tries_on_timeout(self) -> int:
        """How many tries a request whose every try is slow gets."""
        return self.tries if self.retries_timeouts else 1

    def retry_on_text(self) -> str:
        return ",".join([*self.conditions, *(str(c) for c in self.status_codes)])

    def describe(self) -> str:
        if self.attempts <= 0:
            return "retries off" if self.explicit else "none"
        head = f"attempts {self.attempts}" if self.explicit else "Istio's default 2 retries"
        per_try = (
            f" x perTry {format_duration(self.per_try_ms)}"
            if self.per_try_ms
            else ", no perTryTimeout"
        )
        on = f" on {self.retry_on_text()}" if self.explicit else ""
        return head + per_try + on


def effective(spec: RetrySpec | None) -> RetryPolicy:
    """The policy Envoy gets for a route whose `retries` is `spec` (None: not written)."""
    if spec is None:
        return RetryPolicy(DEFAULT_ATTEMPTS, None, DEFAULT_RETRY_ON, (), explicit=False)
    if spec.attempts <= 0:
        return RetryPolicy(0, None, (), (), explicit=True)
    tokens = retry_on_tokens(spec.retry_on or "")
    conditions = tuple(t for t in tokens if not t.isdigit()) if tokens else DEFAULT_RETRY_ON
    codes = tuple(int(t) for t in tokens if t.isdigit())
    conditions = tuple(c for c in conditions if c != "retriable-status-codes")
    return RetryPolicy(spec.attempts, spec.per_try_ms, conditions, codes, explicit=True)


def with_timeout_retries(policy: RetryPolicy) -> str:
    """A `retryOn` that keeps the policy's conditions and also retries timed-out tries."""
    return ",".join([*policy.conditions, "gateway-error", *(str(c) for c in policy.status_codes)])
