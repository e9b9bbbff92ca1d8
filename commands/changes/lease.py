"""The work lease: a replica's hold on one change while it writes to a cluster for it.

Why this exists: a replica can die in the middle of an apply or a rollback (SIGKILL,
OOM, a node gone). The change record then says `applying` for ever unless something
can tell "still working" from "gone". So the replica takes a lease named after the
change before it claims the work, and a small thread renews it every third of its TTL
while the work runs. The lease lives in the store with a server-side expiry; when it
has expired the replica is gone (or cut off from the store for longer than the TTL),
and the sweep of any live replica takes the work over (commands.changes.takeover).

The token (`replica-id#nonce`) is also written into the change record when the work
is claimed: the moves that end the work take it, so a replica that lost its lease can
never record over the one that took over. Only an ordinary exception (or a clean end)
releases the lease; anything harsher (the interpreter stopping, a simulated kill)
leaves it to expire, as a killed process would.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from commands.core.errors import PortError
from commands.core.ports import Lease


def lease_name(change_id: str) -> str:
    return f"change-work:{change_id}"


class WorkLease:
    def __init__(self, lease: Lease, change_id: str, replica_id: str, ttl_s: float) -> None:
        self.port = lease
        self.name = lease_name(change_id)
        self.token = f"{replica_id}#{secrets.token_hex(3)}"
        self.ttl_s = ttl_s

    def take(self) -> bool:
        """Take the lease if nobody holds it."""
        return self.port.acquire(self.name, self.token, self.ttl_s)

    @contextmanager
    def kept(self) -> Iterator[WorkLease]:
        """Renew the lease in the background for the `with` block; release it after."""
        stop = threading.Event()
        beat = threading.Thread(
            target=self._renew_until, args=(stop,), name=f"meshbot-{self.name}", daemon=True
        )
        beat.start()
        ended = False
        try:
            yield self
            ended = True
        except Exception:
            ended = True
            raise
        finally:
            stop.set()
            beat.join()
            if ended:
                with suppress(PortError):
                    self.port.release(self.name, self.token)

    def _renew_until(self, stop: threading.Event) -> None:
        while not stop.wait(self.ttl_s / 3):
            try:
                if not self.port.acquire(self.name, self.token, self.ttl_s):
                    return  # taken over: the change record refuses our moves now
            except PortError:
                continue  # the store is down: try again; it expires if this lasts
