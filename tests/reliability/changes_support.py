"""Helpers for the fault-matrix tests of the change pipeline: a proposal as Slack shows
it (clicked through any replica's signed front), the Kubernetes test server's writes,
and what `meshbot change ID` prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.sandbox.kube import KubeTestServer
from bot.sandbox.slack import SignedClient, SlackEmulator
from tests.processes import meshbot_process

PA_PATH = "/apis/security.istio.io/v1/namespaces/shop/peerauthentications/default"
SHOP = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop, labels: {team: shop}}
spec: {mtls: {mode: STRICT}}
"""


def texts(message: Any) -> str:
    return "\n".join(
        b["text"]["text"] for b in message.blocks or [] if b.get("type") in ("section", "header")
    )


def buttons(message: Any) -> dict[str, str]:
    return {
        e["action_id"]: e["value"]
        for b in message.blocks or []
        if b.get("type") == "actions"
        for e in b["elements"]
    }


class Thread:
    """One proposal in #mesh-ops: its id, its message, its thread."""

    def __init__(self, slack: SlackEmulator, client: SignedClient, user: str = "U_ALICE") -> None:
        self.slack = slack
        url = slack.new_response_url("C_OPS", user)
        sent = client.slash("mtls permissive namespace=shop", user_id=user, response_url=url)
        assert sent.status_code == 200, sent.text
        answer = slack.wait_for(lambda: slack.responses(url), 20)[0].body
        assert "Proposed chg-" in str(answer.get("text")), answer
        message = slack.wait_for(lambda: slack.messages("C_OPS"), 10)[-1]
        self.id = buttons(message)["change_approve"]
        self.ts = message.ts

    def click(self, client: SignedClient, action: str, user: str) -> str:
        url = self.slack.new_response_url("C_OPS", user)
        answer = client.action(action, self.id, user_id=user, message_ts=self.ts, response_url=url)
        assert answer.status_code == 200, answer.text
        return url

    def parent(self) -> Any:
        return self.slack.message("C_OPS", self.ts)

    def wait_state(self, state: str, timeout: float = 30.0) -> Any:
        def shown() -> Any:
            parent = self.parent()
            return parent if parent is not None and f"*{state}*" in texts(parent) else None

        try:
            return self.slack.wait_for(shown, timeout)
        except TimeoutError as exc:
            raise AssertionError(f"never {state}: {texts(self.parent())}\n{self.thread()}") from exc

    def thread(self) -> str:
        return "\n".join(m.text for m in self.slack.thread("C_OPS", self.ts))

    def wait_thread(self, text: str, timeout: float = 30.0) -> str:
        try:
            self.slack.wait_for(lambda: text in self.thread(), timeout)
        except TimeoutError as exc:
            raise AssertionError(f"{text!r} never said:\n{self.thread()}") from exc
        return self.thread()


def pa(server: KubeTestServer) -> dict[str, Any]:
    found = server.get_object("security.istio.io/v1", "peerauthentications", "default", "shop")
    assert found is not None
    return found


def writes(server: KubeTestServer, status: int = 200) -> int:
    """Writes (not dry runs) of shop/default the API server answered with `status` (200:
    the writes that landed), counted once each has been answered."""
    return sum(
        1 for r in server.requests if r.method == "PUT" and r.path == PA_PATH and r.status == status
    )


def meshbot_says(change_id: str, config: Path, env: dict[str, str]) -> str:
    """`meshbot change ID`, as an operator at a terminal would run it."""
    with meshbot_process(["change", change_id, "--config", str(config)], env) as process:
        assert process.wait(timeout=60) == 0
        return process.stdout.read() if process.stdout else ""
