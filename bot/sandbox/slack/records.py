"""What the emulator saw, kept for tests to inspect, and a way to wait for it.

Why this exists: the app acks first and works after, on its own threads, so a test
cannot assert right after it sends a command. Every Web API call, ``response_url``
post and Socket Mode ack is appended here under one condition variable, and
``Recorder.wait_for`` blocks until a predicate over the records holds.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class Call:
    """One Web API request: ``params`` merges query string, form and JSON body."""

    method: str
    params: dict[str, Any]
    token: str | None
    at: float
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)
    json_body: bool = False

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        error = self.response.get("error")
        return None if error is None else str(error)

    @property
    def blocks(self) -> list[Any] | None:
        """``blocks`` as sent, decoded when it came as a form-encoded JSON string."""
        blocks = self.params.get("blocks")
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except ValueError:
                return None
        return blocks if isinstance(blocks, list) else None


@dataclass
class ResponsePost:
    """One post to a ``response_url`` minted by the emulator."""

    url_id: str
    url: str
    body: dict[str, Any]
    at: float
    status: int = 200
    error: str | None = None

    @property
    def text(self) -> str | None:
        return self.body.get("text")

    @property
    def blocks(self) -> list[Any] | None:
        return self.body.get("blocks")

    @property
    def response_type(self) -> str:
        return str(self.body.get("response_type") or "ephemeral")

    @property
    def replace_original(self) -> bool:
        return _truthy(self.body.get("replace_original"))

    @property
    def delete_original(self) -> bool:
        return _truthy(self.body.get("delete_original"))


@dataclass
class Ack:
    """A Socket Mode acknowledgement sent by the app."""

    envelope_id: str
    payload: dict[str, Any] | None
    at: float
    raw: dict[str, Any] = field(default_factory=dict)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


class Recorder:
    """Append-only logs of calls, response posts and acks, with ``wait_for``."""

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.RLock())
        self.calls: list[Call] = []
        self.responses: list[ResponsePost] = []
        self.acks: list[Ack] = []
        self.version = 0  # bumped on every record and notify: "something changed"

    def add(self, kind: str, item: Any) -> None:
        with self.cond:
            getattr(self, kind).append(item)
            self.version += 1
            self.cond.notify_all()

    def notify(self) -> None:
        with self.cond:
            self.version += 1
            self.cond.notify_all()

    def clear(self) -> None:
        with self.cond:
            self.calls.clear()
            self.responses.clear()
            self.acks.clear()

    def wait_for(self, probe: Callable[[], T], timeout: float, describe: Callable[[], str]) -> T:
        """Return ``probe()``'s first truthy value; TimeoutError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = probe()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"nothing matched within {timeout}s; {describe()}")
                self.cond.wait(min(remaining, 0.05))
