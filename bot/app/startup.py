"""Why `meshbot serve` cannot start, in one line naming the cause and the fix.

An operator starting the bot with a port already taken, an unreachable Slack API or a
wrong flag got a Python traceback ending in `OSError: [Errno 98]` or `URLError`. Each
startup step that can fail this way raises `StartupError` with the sentence to print;
`serve` prints it and exits with status 2, like a bad config file.
"""

from __future__ import annotations

import errno
import re
import socket
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class StartupError(Exception):
    """The process cannot start; the message says why and what to change."""


def listening(what: str, setting: str, host: str, port: int, bind: Callable[[], T]) -> T:
    """`bind()`, or a StartupError naming the address, the reason and the setting to change."""
    try:
        return bind()
    except OSError as exc:
        raise StartupError(_why_not_listening(what, setting, host, port, exc)) from None


def _why_not_listening(what: str, setting: str, host: str, port: int, exc: OSError) -> str:
    where = f"cannot listen on {host}:{port} for {what}"
    if exc.errno == errno.EADDRINUSE:
        return f"{where}: the port is in use; stop what uses it or choose another ({setting})"
    if exc.errno == errno.EACCES:
        return f"{where}: permission denied; use a port above 1023 ({setting})"
    if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
        return f"{where}: no such address on this machine; check the host ({setting})"
    return f"{where}: {exc.strerror or exc}; check {setting}"


def slack_refused(token: str, variable: str, exc: Exception) -> StartupError:
    """Slack answered, but not ok (`invalid_auth`, `not_authed`, …)."""
    found = re.search(r"'error': '([a-z_]+)'", str(exc))
    code = found.group(1) if found else "refused"
    return StartupError(
        f"Slack refused the {token} ({code}): check {variable} (see README, 'Slack app setup')"
    )


def slack_unreachable(api_url: str, exc: Exception) -> StartupError:
    reason = getattr(exc, "reason", None) or exc
    return StartupError(
        f"cannot reach the Slack API at {api_url} ({reason}): check the network, a proxy "
        "(HTTPS_PROXY), or SLACK_API_URL"
    )
