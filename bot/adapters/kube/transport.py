"""Every request to one API server goes out here: retries, timeouts and the deadline.

Why one place: a single transient 500 used to abort a whole preflight, a hang read as
"unreachable", and per-request timeouts added up across a command's sequential calls.

- **Reads retry** (GET, server-side dry runs, SelfSubjectAccessReviews — nothing is
  persisted) on 500/502/503/504, 429 and dropped or refused connections: at most
  `MAX_ATTEMPTS` tries, full-jitter exponential backoff (0.2 s doubling, capped at 2 s),
  at least the server's `Retry-After`.
- **Writes are never retried blindly.** Only when the server cannot have applied them:
  429 (the API server's priority-and-fairness and max-in-flight filters refuse before
  the request reaches a handler; an admission webhook's 429 is a denial, so nothing was
  stored either) and a connection that was never established (nothing was sent). A 5xx,
  a reset or a timeout after sending may have been applied: the caller gets the error
  and the pipeline re-reads the object.
- **Timeouts are not retried**, and are named as such: "timed out after 5 s".
- **The command's deadline** (commands.core.deadline; `command_deadline_s` per cluster)
  bounds every read: a read's timeout is cut to what is left and no read starts when
  nothing is; the error (`DeadlineExceeded`) says what was not done. Writes keep their
  own timeout: a change that started applying finishes or restores.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from commands.core import deadline
from commands.core.errors import ClusterUnavailable, DeadlineExceeded

MAX_ATTEMPTS = 4
BACKOFF_BASE_S = 0.2
BACKOFF_CAP_S = 2.0
RETRY_AFTER_CAP_S = 10.0
RETRYABLE_STATUS = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class Sent:
    """A 2xx answer's status and body."""

    status: int
    data: bytes


class Transport:
    def __init__(
        self,
        cluster: str,
        api: Callable[[], ApiClient],
        timeout_s: float,
        deadline_s: float | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.cluster = cluster
        self._api = api
        self.timeout_s = timeout_s
        self.deadline_s = deadline_s
        self._sleep = sleep
        self._jitter = jitter

    def send(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, Any]] = (),
        body: Any = None,
        content_type: str = "application/json",
        action: str,
        idempotent: bool | None = None,
    ) -> Sent:
        """The 2xx answer; ApiException for any other status (after retries), or
        ClusterUnavailable / DeadlineExceeded for the network, a timeout or the deadline."""
        if idempotent is None:
            idempotent = method in ("GET", "HEAD") or ("dryRun", "All") in query
        api = self._api()
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        request = api.param_serialize(
            method=method,
            resource_path=path,
            query_params=list(query),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        attempt = 0
        while True:
            attempt += 1
            timeout, by_deadline = self._timeout(action, idempotent)
            try:
                response = api.call_api(*request, _request_timeout=timeout)
                data = response.read()
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                reason: BaseException = exc
                if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
                    reason = exc.reason
                failure = self._network_failure(reason, action, timeout, by_deadline)
                retry = _never_sent(reason) or (idempotent and _dropped(reason))
                if not retry or not self._back_off(attempt, None, action, idempotent):
                    raise failure from exc
                continue
            if 200 <= response.status <= 299:
                return Sent(response.status, data)
            error = ApiException(http_resp=response, body=data.decode("utf-8", "replace"))
            retry = response.status == 429 or (idempotent and response.status in RETRYABLE_STATUS)
            wait = _retry_after(response) if retry else None
            if not retry or not self._back_off(attempt, wait, action, idempotent):
                if retry and attempt > 1:
                    error.reason = f"{error.reason or 'error'} (after {attempt} attempts)"
                raise error

    # ---- time -----------------------------------------------------------------------------

    def _left(self) -> float | None:
        budget = deadline.current()
        if budget is None or self.deadline_s is None:
            return None
        return budget.remaining(self.deadline_s)

    def _timeout(self, action: str, idempotent: bool) -> tuple[float, bool]:
        """This attempt's timeout, and whether the deadline (not the timeout) set it."""
        left = self._left()
        if not idempotent or left is None or left >= self.timeout_s:
            return self.timeout_s, False
        if left <= 0:
            raise self._cut(action)
        return left, True

    def _back_off(
        self, attempt: int, retry_after: float | None, action: str, idempotent: bool
    ) -> bool:
        """Sleep before the next attempt; False when no attempt is left or no time is."""
        if attempt >= MAX_ATTEMPTS:
            return False
        pause = self._jitter(0.0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1)))
        if retry_after is not None:
            pause = max(pause, min(retry_after, RETRY_AFTER_CAP_S))
        left = self._left()
        if idempotent and left is not None and pause >= left:
            return False
        self._sleep(pause)
        return True

    def _cut(self, action: str) -> DeadlineExceeded:
        budget = deadline.current()
        if budget is not None:
            budget.cut(f"{action} on cluster {self.cluster}")
        return DeadlineExceeded(
            f"cluster {self.cluster}: not done: {action} — the command's "
            f"{self.deadline_s:g} s deadline ran out"
        )

    # ---- what went wrong --------------------------------------------------------------------

    def _network_failure(
        self, reason: BaseException, action: str, timeout: float, by_deadline: bool
    ) -> ClusterUnavailable:
        where = f"cluster {self.cluster}"
        if isinstance(reason, urllib3.exceptions.NewConnectionError):
            return ClusterUnavailable(
                f"{where}: API server unreachable ({action}): {_cause(reason)}"
            )
        if isinstance(reason, (urllib3.exceptions.TimeoutError, TimeoutError)):
            if by_deadline:
                budget = deadline.current()
                if budget is not None:
                    budget.cut(f"{action} on cluster {self.cluster}")
                return DeadlineExceeded(
                    f"{where}: {action} timed out after {timeout:.1f} s: the command's "
                    f"{self.deadline_s:g} s deadline ran out"
                )
            return ClusterUnavailable(
                f"{where}: {action} timed out after {timeout:g} s (the API server did not answer)"
            )
        if _dropped(reason):
            return ClusterUnavailable(
                f"{where}: the API server dropped the connection ({action}): {_cause(reason)}"
            )
        return ClusterUnavailable(f"{where}: API server unreachable ({action}): {_cause(reason)}")


def _never_sent(reason: BaseException) -> bool:
    """The connection was refused, so the request never left: safe to send again."""
    return isinstance(reason, (urllib3.exceptions.NewConnectionError, ConnectionRefusedError))


def _dropped(reason: BaseException) -> bool:
    """The connection broke mid-request (reset, closed before an answer)."""
    return isinstance(
        reason,
        (urllib3.exceptions.ProtocolError, ConnectionResetError, ConnectionAbortedError),
    ) or _never_sent(reason)


def _retry_after(response: Any) -> float | None:
    value = response.getheader("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _cause(reason: BaseException) -> str:
    text = str(reason)
    return text.rsplit(": ", 1)[-1] if ": " in text else text or type(reason).__name__
