"""SlackEmulator: the object tests hold — servers, workspace, recorders and knobs.

Why this exists: a test wants one handle that starts the HTTP and Socket Mode servers,
seeds users and channels, injects failures, and answers "what did the app send?". It
wires the pieces (server.py, methods.py, responses.py, socket_mode.py) together and adds
no Slack behaviour of its own, except recording every call with its answer.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol

from bot.sandbox.slack import methods
from bot.sandbox.slack.records import Ack, Call, Recorder, ResponsePost
from bot.sandbox.slack.responses import ResponseUrls
from bot.sandbox.slack.server import EmulatorHTTPServer, Fault, Faults
from bot.sandbox.slack.socket_mode import SocketModeServer
from bot.sandbox.slack.workspace import (
    Channel,
    Ephemeral,
    Message,
    UploadedFile,
    User,
    Usergroup,
    Workspace,
)


class WebFace(Protocol):
    """A browser face served beside the Web API (bot.sandbox.slack.web)."""

    def handle(self, handler: Any, path: str, query: str, raw: bytes) -> bool: ...

    def close(self) -> None: ...


class SlackEmulator:
    """A local Slack Web API + Socket Mode server that records calls and enforces limits.

    ``strict_fallback_text`` (default True) refuses blocks without a ``text`` fallback,
    which Slack only warns about; set it False to get Slack's warning instead.
    """

    def __init__(
        self,
        bot_token: str = "xoxb-test",
        app_token: str = "xapp-test",
        signing_secret: str = "test-signing-secret",
        *,
        team_id: str = "T0MESH",
        team_name: str = "meshbot-test",
        bot_user_id: str = "U0BOT",
        host: str = "127.0.0.1",
        port: int = 0,
        socket_port: int = 0,
        strict_fallback_text: bool = True,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.strict_fallback_text = strict_fallback_text
        self.workspace = Workspace(team_id=team_id, team_name=team_name, bot_user_id=bot_user_id)
        self.recorder = Recorder()
        self.faults = Faults()
        self._tokens = {bot_token: "bot", app_token: "app"}
        self._host = host
        self._port = port
        self._http: EmulatorHTTPServer | None = None
        self.web: WebFace | None = None  # set to serve a browser workspace too
        self._responses = ResponseUrls(
            self.workspace, self.recorder, lambda: self.url, lambda: self.strict_fallback_text
        )
        self.socket = SocketModeServer(
            self.workspace, self.recorder, self._responses.mint, host, socket_port
        )

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self) -> SlackEmulator:
        self._http = EmulatorHTTPServer(self, self._host, self._port, web=self._web_routes)
        self._http.start()
        self.socket.start()
        return self

    def _web_routes(self, handler: Any, path: str, query: str, raw: bytes) -> bool:
        return self.web is not None and self.web.handle(handler, path, query, raw)

    def stop(self) -> None:
        if self.web is not None:
            self.web.close()
        self.socket.stop()
        if self._http is not None:
            self._http.stop()
            self._http = None

    def __enter__(self) -> SlackEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        if self._http is None:
            raise RuntimeError("SlackEmulator is not started")
        return f"http://{self._host}:{self._http.port}"

    @property
    def api_url(self) -> str:
        """The ``base_url`` for ``slack_sdk.WebClient``: ``http://127.0.0.1:PORT/api/``."""
        return f"{self.url}/api/"

    # ---- workspace set-up ---------------------------------------------------------------

    def add_user(
        self, user_id: str, name: str, *, is_admin: bool = False, real_name: str = ""
    ) -> User:
        return self.workspace.add_user(user_id, name, is_admin=is_admin, real_name=real_name)

    def add_channel(self, channel_id: str, name: str, members: list[str] | None = None) -> Channel:
        """``members=None``: every user is a member."""
        return self.workspace.add_channel(channel_id, name, members)

    def add_usergroup(
        self, handle: str, user_ids: list[str], *, usergroup_id: str | None = None
    ) -> Usergroup:
        return self.workspace.add_usergroup(handle, user_ids, usergroup_id=usergroup_id)

    def post_as_user(
        self, channel: str, user_id: str, text: str, thread_ts: str | None = None
    ) -> Message:
        """A message written by a human (e.g. a reply in an approval thread)."""
        channel_id = self._channel_id(channel)
        return self.workspace.post(
            channel_id, text=text, user=user_id, thread_ts=thread_ts, via="user"
        )

    # ---- knobs ---------------------------------------------------------------------------

    def rate_limit(self, method: str, count: int = 1, retry_after: int = 1) -> None:
        """The next ``count`` calls of ``method`` ("*" = any) answer 429 + Retry-After."""
        self.faults.add(method, Fault(429, count, retry_after))

    def fail(self, method: str, count: int = 1, status: int = 500) -> None:
        """The next ``count`` calls of ``method`` ("*" = any) answer HTTP ``status``."""
        self.faults.add(method, Fault(status, count))

    def new_response_url(
        self, channel: str | None = None, user: str | None = None, message_ts: str | None = None
    ) -> str:
        """A response_url on the emulator; posts to it are recorded and applied."""
        return self._responses.mint(channel, user, message_ts)

    def expire_response_url(self, url: str) -> None:
        self._responses.expire(url)

    def open_socket_url(self) -> str:
        return self.socket.open_url()

    def reset(self) -> None:
        """Forget recorded calls, responses and acks, and pending faults (not state)."""
        self.recorder.clear()
        self.faults.clear()

    # ---- recorders ----------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        with self.recorder.cond:
            return [c for c in self.recorder.calls if method is None or c.method == method]

    def messages(self, channel: str) -> list[Message]:
        """Channel history (top-level and broadcast replies), oldest first."""
        return self.workspace.channel_messages(self._channel_id(channel))

    def message(self, channel: str, ts: str) -> Message | None:
        return self.workspace.find_message(self._channel_id(channel), ts)

    def thread(self, channel: str, ts: str) -> list[Message]:
        """The replies in the thread under ``ts`` (without the parent), oldest first."""
        return self.workspace.thread_replies(self._channel_id(channel), ts)

    def ephemerals(self, channel: str | None = None, user: str | None = None) -> list[Ephemeral]:
        with self.workspace.lock:
            return [
                e
                for e in self.workspace.ephemerals
                if (channel is None or e.channel == self._channel_id(channel))
                and (user is None or e.user == user)
            ]

    def responses(self, response_url: str | None = None) -> list[ResponsePost]:
        """Posts to response URLs; pass a URL or its id to filter."""
        url_id = None if response_url is None else response_url.rstrip("/").rsplit("/", 1)[-1]
        with self.recorder.cond:
            return [r for r in self.recorder.responses if url_id is None or r.url_id == url_id]

    def files(self) -> list[UploadedFile]:
        """Files whose upload completed (shared), in upload order."""
        with self.workspace.lock:
            return [f for f in self.workspace.files.values() if f.completed]

    def acks(self) -> list[Ack]:
        return self.socket.acks()

    def wait_for(
        self, predicate_or_method: str | Callable[[], Any], timeout: float = 5.0, count: int = 1
    ) -> Any:
        """Wait until a method was called ``count`` times (returns that call), or until
        ``predicate()`` returns something truthy (returns it). TimeoutError otherwise."""
        if isinstance(predicate_or_method, str):
            method = predicate_or_method

            def probe() -> Any:
                found = self.calls(method)
                return found[count - 1] if len(found) >= count else None

        else:
            probe = predicate_or_method
        return self.recorder.wait_for(probe, timeout, self._summary)

    def _summary(self) -> str:
        return "calls so far: " + ", ".join(
            f"{c.method}={'ok' if c.ok else c.error}" for c in self.calls()
        )

    def _channel_id(self, ref: str) -> str:
        channel = self.workspace.resolve_channel(ref)
        return channel.id if channel is not None else ref

    # ---- Backend (called by server.py) --------------------------------------------------

    def handle_api(
        self, method: str, params: dict[str, Any], token: str | None, json_body: bool
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        headers: dict[str, str] = {}
        fault = self.faults.take(method)
        if fault is not None and fault.status == 429:
            status, body = 429, {"ok": False, "error": "ratelimited"}
            headers["Retry-After"] = str(fault.retry_after)
        elif fault is not None:
            status, body = fault.status, {"ok": False, "error": "fatal_error"}
        else:
            status, body = 200, methods.dispatch(self, method, params, token, self._tokens)
        call = Call(method, params, token, time.time(), status, body, json_body)
        self.recorder.add("calls", call)
        return status, headers, body

    def handle_upload(self, file_id: str, data: bytes) -> tuple[int, str]:
        with self.workspace.lock:
            upload = self.workspace.files.get(file_id)
            if upload is None:
                return 404, "file_not_found"
            upload.data = data
        self.recorder.notify()
        return 200, f"OK - {len(data)}"

    def handle_response_url(self, url_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return self._responses.post(url_id, body)


def serve_forever(port: int, host: str = "127.0.0.1", **kwargs: Any) -> None:
    """Run an emulator in the foreground (local demos) until interrupted."""
    emulator = SlackEmulator(port=port, host=host, **kwargs)
    emulator.add_channel("C_OPS", "mesh-ops")
    with emulator:
        print(f"Slack emulator: Web API {emulator.api_url}  Socket Mode {emulator.socket.url}")
        stop = threading.Event()
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
