"""The two processes of bench_front_load besides meshbot: the Slack emulator (answering
the parent's questions over a pipe) and the open-loop load generator."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection

import httpx

from bot.sandbox.slack import SlackEmulator, block_actions_body, sign, slash_command_body

# ---- the emulator's process ------------------------------------------------------------------


def emulator_process(urls_needed: int, out: Connection, control: Connection, secret: str) -> None:
    with SlackEmulator(signing_secret=secret) as emulator:
        emulator.add_user("U_ALICE", "alice")
        emulator.add_user("U_BOB", "bob")
        emulator.add_user("U_VIEWER", "viewer")
        emulator.add_channel("C_OPS", "mesh-ops")
        emulator.add_channel("C_ONCALL", "oncall")
        emulator.add_usergroup("mesh-approvers", ["U_BOB"], usergroup_id="S_APPROVERS")
        urls = [emulator.new_response_url("C_OPS") for _ in range(urls_needed)]
        out.send((emulator.api_url, emulator.bot_token, urls))
        while True:
            request = control.recv()
            if request == "stop":
                return
            if request == "answers":  # url id -> (posts, time of the first)
                answers: dict[str, tuple[int, float]] = {}
                for r in emulator.responses():
                    count, first = answers.get(r.url_id, (0, r.at))
                    answers[r.url_id] = (count + 1, min(first, r.at))
                control.send(answers)
            elif request == "proposal":
                control.send(_proposal(emulator))
            elif request == "calls":
                control.send(dict(Counter(c.method for c in emulator.calls())))


def _proposal(emulator: SlackEmulator) -> tuple[str, str] | None:
    for message in emulator.messages("C_OPS"):
        for block in message.blocks or []:
            if block.get("type") != "actions":
                continue
            for element in block["elements"]:
                if element["action_id"] == "change_approve":
                    return str(element["value"]), message.ts
    return None


# ---- the load generator's process ------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    kind: str  # "command" or "click"
    what: str  # command text, or the action id
    user: str
    url: str
    value: str = ""
    message_ts: str = ""


def load_process(
    target: str, plan: list[Request], rate: float, secret: str, out: Connection
) -> None:
    results: list[tuple[str, int, float, str, float]] = []
    lock = threading.Lock()
    client = httpx.Client(timeout=10, limits=httpx.Limits(max_connections=64))

    def send(request: Request) -> None:
        if request.kind == "command":
            body = slash_command_body(
                text=request.what, user_id=request.user, response_url=request.url
            )
        else:
            body = block_actions_body(
                request.what,
                request.value,
                request.user,
                "C_OPS",
                request.message_ts,
                response_url=request.url,
            )
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(secret, body)}
        sent_at, started = time.time(), time.perf_counter()
        try:
            status = client.post(target, content=body, headers=headers).status_code
        except httpx.HTTPError:
            status = 0
        elapsed = time.perf_counter() - started
        url_id = request.url.rstrip("/").rsplit("/", 1)[-1]
        with lock:
            results.append((request.kind, status, elapsed, url_id, sent_at))

    start = time.perf_counter() + 0.2
    with ThreadPoolExecutor(64) as pool:
        for i, request in enumerate(plan):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, request)
    client.close()
    out.send((results, time.perf_counter() - start))
