"""The Slack emulator's Web API, exercised through the real ``slack_sdk.WebClient``."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from bot.sandbox.slack import SlackEmulator

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*hello*"}}


def slack_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        call()
    return caught.value


def test_auth_test_answers_for_the_bot(slack_web_client: WebClient) -> None:
    auth = slack_web_client.auth_test()
    assert auth["ok"] and auth["user_id"] == "U0BOT" and auth["team_id"] == "T0MESH"


def test_tokens_are_checked(slack_emulator: SlackEmulator) -> None:
    bad = WebClient(token="xoxb-wrong", base_url=slack_emulator.api_url)
    assert slack_error(bad.auth_test).response["error"] == "invalid_auth"
    anonymous = WebClient(base_url=slack_emulator.api_url)
    err = slack_error(lambda: anonymous.chat_postMessage(channel="C_OPS", text="x"))
    assert err.response["error"] == "not_authed"
    app_level = WebClient(token=slack_emulator.app_token, base_url=slack_emulator.api_url)
    err = slack_error(lambda: app_level.chat_postMessage(channel="C_OPS", text="x"))
    assert err.response["error"] == "not_allowed_token_type"
    bot = WebClient(token=slack_emulator.bot_token, base_url=slack_emulator.api_url)
    err = slack_error(lambda: bot.apps_connections_open(app_token=slack_emulator.bot_token))
    assert err.response["error"] == "not_allowed_token_type"


def test_token_as_a_form_field_and_json_bodies(slack_emulator: SlackEmulator) -> None:
    with httpx.Client(base_url=slack_emulator.api_url) as http:
        form = http.post(
            "chat.postMessage",
            data={"token": slack_emulator.bot_token, "channel": "C_OPS", "text": "form"},
        ).json()
        as_json = http.post(
            "chat.postMessage",
            json={"channel": "C_OPS", "text": "json", "blocks": [SECTION]},
            headers={"Authorization": f"Bearer {slack_emulator.bot_token}"},
        ).json()
    assert form["ok"] and as_json["ok"]
    assert [m.text for m in slack_emulator.messages("C_OPS")] == ["form", "json"]
    calls = slack_emulator.calls("chat.postMessage")
    assert [c.json_body for c in calls] == [False, True]
    assert calls[1].params["blocks"] == calls[1].blocks == [SECTION]
    assert calls[0].token == slack_emulator.bot_token


def test_post_thread_update_and_permalink(
    slack_emulator: SlackEmulator, slack_web_client: WebClient
) -> None:
    parent = slack_web_client.chat_postMessage(channel="C_OPS", text="change", blocks=[SECTION])
    reply = slack_web_client.chat_postMessage(
        channel="C_OPS", text="approved by bob", thread_ts=parent["ts"]
    )
    nested = slack_web_client.chat_postMessage(
        channel="#mesh-ops", text="applied", thread_ts=reply["ts"]
    )
    assert float(parent["ts"]) < float(reply["ts"]) < float(nested["ts"])
    assert [m.text for m in slack_emulator.messages("C_OPS")] == ["change"]
    assert [m.text for m in slack_emulator.thread("C_OPS", parent["ts"])] == [
        "approved by bob",
        "applied",
    ]

    updated = slack_web_client.chat_update(channel="C_OPS", ts=parent["ts"], text="change (done)")
    assert updated["ts"] == parent["ts"]
    message = slack_emulator.message("C_OPS", parent["ts"])
    assert message is not None and message.text == "change (done)" and message.edited
    assert message.history[0]["text"] == "change"

    link = slack_web_client.chat_getPermalink(channel="C_OPS", message_ts=reply["ts"])
    assert link["permalink"].endswith(
        f"/archives/C_OPS/p{reply['ts'].replace('.', '')}?thread_ts={parent['ts']}&cid=C_OPS"
    )
    replies = slack_web_client.conversations_replies(channel="C_OPS", ts=parent["ts"])
    assert [m["text"] for m in replies["messages"]] == [
        "change (done)",
        "approved by bob",
        "applied",
    ]


def test_reply_broadcast_shows_in_the_channel(
    slack_emulator: SlackEmulator, slack_web_client: WebClient
) -> None:
    parent = slack_web_client.chat_postMessage(channel="C_OPS", text="alert")
    slack_web_client.chat_postMessage(
        channel="C_OPS", text="rolled back", thread_ts=parent["ts"], reply_broadcast=True
    )
    assert [m.text for m in slack_emulator.messages("C_OPS")] == ["alert", "rolled back"]


def test_unknown_channel_message_and_thread(slack_web_client: WebClient) -> None:
    post = slack_web_client.chat_postMessage
    assert slack_error(lambda: post(channel="C_NOPE", text="x")).response["error"] == (
        "channel_not_found"
    )
    err = slack_error(
        lambda: slack_web_client.chat_update(channel="C_OPS", ts="1.000001", text="x")
    )
    assert err.response["error"] == "message_not_found"
    err = slack_error(lambda: post(channel="C_OPS", text="x", thread_ts="1.000001"))
    assert err.response["error"] == "thread_not_found"
    err = slack_error(
        lambda: slack_web_client.chat_getPermalink(channel="C_OPS", message_ts="1.000001")
    )
    assert err.response["error"] == "message_not_found"


def test_ephemeral_messages_are_kept_apart(
    slack_emulator: SlackEmulator, slack_web_client: WebClient
) -> None:
    answer = slack_web_client.chat_postEphemeral(
        channel="C_OPS", user="U_VIEWER", text="you may not approve"
    )
    assert answer["message_ts"]
    assert slack_emulator.messages("C_OPS") == []
    (eph,) = slack_emulator.ephemerals("C_OPS", user="U_VIEWER")
    assert eph.text == "you may not approve"
    assert slack_emulator.ephemerals("C_OPS", user="U_BOB") == []
    err = slack_error(
        lambda: slack_web_client.chat_postEphemeral(channel="C_OPS", user="U_GHOST", text="x")
    )
    assert err.response["error"] == "user_not_found"


def test_users_and_usergroups(slack_web_client: WebClient) -> None:
    alice = slack_web_client.users_info(user="U_ALICE")["user"]
    assert alice["name"] == "alice" and alice["is_admin"] is True
    assert slack_web_client.users_info(user="U_BOB")["user"]["is_admin"] is False
    assert slack_error(lambda: slack_web_client.users_info(user="U_GHOST")).response["error"] == (
        "user_not_found"
    )
    groups = slack_web_client.usergroups_list(include_users=True)["usergroups"]
    assert [(g["id"], g["handle"], g["users"]) for g in groups] == [
        ("S_APPROVERS", "mesh-approvers", ["U_BOB"])
    ]
    assert slack_web_client.usergroups_users_list(usergroup="S_APPROVERS")["users"] == ["U_BOB"]
    err = slack_error(lambda: slack_web_client.usergroups_users_list(usergroup="S_NOPE"))
    assert err.response["error"] == "no_such_subteam"


def test_files_upload_v2_shares_into_a_thread(
    slack_emulator: SlackEmulator, slack_web_client: WebClient
) -> None:
    parent = slack_web_client.chat_postMessage(channel="C_ONCALL", text="p99 latency high")
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    result = slack_web_client.files_upload_v2(
        channel="C_ONCALL",
        thread_ts=parent["ts"],
        content=png,
        filename="p99.png",
        title="p99 latency",
        initial_comment="last hour",
    )
    assert result["file"]["title"] == "p99 latency"
    (uploaded,) = slack_emulator.files()
    assert uploaded.data == png and uploaded.name == "p99.png"
    assert uploaded.channels == ["C_ONCALL"] and uploaded.thread_ts == parent["ts"]
    (share,) = slack_emulator.thread("C_ONCALL", parent["ts"])
    assert share.files == [uploaded.id] and share.text == "last hour"
    assert [c.method for c in slack_emulator.calls()][-2:] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    assert slack_web_client.files_info(file=uploaded.id)["file"]["id"] == uploaded.id


def test_completing_an_upload_whose_bytes_never_arrived(slack_web_client: WebClient) -> None:
    url = slack_web_client.files_getUploadURLExternal(filename="x.png", length=3)
    err = slack_error(
        lambda: slack_web_client.files_completeUploadExternal(
            files=[{"id": url["file_id"], "title": "x"}], channel_id="C_OPS"
        )
    )
    assert err.response["error"] == "file_not_found"


def many(n: int, make: Any) -> list[Any]:
    return [make(i) for i in range(n)]


def button(i: int, **extra: Any) -> dict[str, Any]:
    text = {"type": "plain_text", "text": f"b{i}"}
    return {"type": "button", "action_id": f"a{i}", "text": text, **extra}


LIMIT_CASES = {
    "too many blocks": (many(51, lambda i: SECTION), "invalid_blocks", "/blocks]"),
    "section text": (
        [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
        "invalid_blocks",
        "must be less than 3001 characters [json-pointer:/blocks/0/text/text]",
    ),
    "too many fields": (
        [{"type": "section", "fields": many(11, lambda i: {"type": "mrkdwn", "text": "f"})}],
        "invalid_blocks",
        "no more than 10 items allowed [json-pointer:/blocks/0/fields]",
    ),
    "long field": (
        [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}],
        "invalid_blocks",
        "[json-pointer:/blocks/0/fields/0/text]",
    ),
    "actions elements": (
        [{"type": "actions", "elements": many(26, button)}],
        "invalid_blocks",
        "no more than 25 items allowed [json-pointer:/blocks/0/elements]",
    ),
    "duplicate action_id": (
        [{"type": "actions", "elements": [button(1), button(1)]}],
        "invalid_blocks",
        "duplicate action_id: a1",
    ),
    "button text": (
        [
            {
                "type": "actions",
                "elements": [button(1, text={"type": "plain_text", "text": "t" * 76})],
            }
        ],
        "invalid_blocks",
        "must be less than 76 characters",
    ),
    "button value": (
        [{"type": "actions", "elements": [button(1, value="v" * 2001)]}],
        "invalid_blocks",
        "must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]",
    ),
    "action_id length": (
        [{"type": "actions", "elements": [button(1, action_id="a" * 256)]}],
        "invalid_blocks",
        "must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]",
    ),
    "block_id length": (
        [{**SECTION, "block_id": "b" * 256}],
        "invalid_blocks",
        "[json-pointer:/blocks/0/block_id]",
    ),
    "context elements": (
        [{"type": "context", "elements": many(11, lambda i: {"type": "mrkdwn", "text": "c"})}],
        "invalid_blocks",
        "no more than 10 items allowed",
    ),
    "blocks json size": (
        many(5, lambda i: {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2900}}),
        "msg_blocks_too_long",
        None,
    ),
}


@pytest.mark.parametrize("case", LIMIT_CASES, ids=list(LIMIT_CASES))
def test_limits_are_enforced_like_slack(
    case: str, slack_emulator: SlackEmulator, slack_web_client: WebClient
) -> None:
    blocks, error, message = LIMIT_CASES[case]
    err = slack_error(
        lambda: slack_web_client.chat_postMessage(channel="C_OPS", text="t", blocks=blocks)
    )
    assert err.response.status_code == 200
    assert err.response["error"] == error
    if message is not None:
        messages = err.response["response_metadata"]["messages"]
        assert any(m.startswith("[ERROR] ") and message in m for m in messages), messages
    assert slack_emulator.messages("C_OPS") == []


def test_limits_apply_to_updates_and_ephemerals(slack_web_client: WebClient) -> None:
    ts = slack_web_client.chat_postMessage(channel="C_OPS", text="ok")["ts"]
    blocks = many(51, lambda i: SECTION)
    err = slack_error(
        lambda: slack_web_client.chat_update(channel="C_OPS", ts=ts, text="t", blocks=blocks)
    )
    assert err.response["error"] == "invalid_blocks"
    err = slack_error(
        lambda: slack_web_client.chat_postEphemeral(
            channel="C_OPS", user="U_BOB", text="t", blocks=blocks
        )
    )
    assert err.response["error"] == "invalid_blocks"


def test_text_over_40000(slack_web_client: WebClient) -> None:
    err = slack_error(lambda: slack_web_client.chat_postMessage(channel="C_OPS", text="x" * 40_001))
    assert err.response["error"] == "msg_too_long"


def test_missing_fallback_text(slack_emulator: SlackEmulator, slack_web_client: WebClient) -> None:
    with pytest.warns(UserWarning, match="top-level `text` argument is missing"):
        err = slack_error(
            lambda: slack_web_client.chat_postMessage(channel="C_OPS", blocks=[SECTION])
        )
    assert err.response["error"] == "missing_text_or_fallback_or_attachments"

    slack_emulator.strict_fallback_text = False
    with pytest.warns(UserWarning, match="top-level `text` argument is missing"):
        ok = slack_web_client.chat_postMessage(channel="C_OPS", blocks=[SECTION])
    assert ok["response_metadata"]["warnings"] == ["missing_text_or_fallback_or_attachments"]


def test_rate_limit_is_retried_by_the_sdk_handler(slack_emulator: SlackEmulator) -> None:
    client = WebClient(
        token=slack_emulator.bot_token,
        base_url=slack_emulator.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )
    slack_emulator.rate_limit("chat.postMessage", count=1, retry_after=0)
    started = time.monotonic()
    assert client.chat_postMessage(channel="C_OPS", text="after a 429")["ok"]
    assert time.monotonic() - started < 5
    first, second = slack_emulator.calls("chat.postMessage")
    assert (first.status, first.error, second.status) == (429, "ratelimited", 200)
    assert len(slack_emulator.messages("C_OPS")) == 1


def test_rate_limit_without_retries_surfaces_retry_after(
    slack_emulator: SlackEmulator, slack_web_client: WebClient
) -> None:
    slack_emulator.rate_limit("chat.update", count=1, retry_after=7)
    ts = slack_web_client.chat_postMessage(channel="C_OPS", text="x")["ts"]
    err = slack_error(lambda: slack_web_client.chat_update(channel="C_OPS", ts=ts, text="y"))
    assert err.response.status_code == 429
    assert err.response.headers["Retry-After"] in (["7"], "7")
    assert slack_web_client.chat_update(channel="C_OPS", ts=ts, text="y")["ok"]


def test_server_errors(slack_emulator: SlackEmulator) -> None:
    slack_emulator.fail("chat.postMessage", count=1, status=503)
    plain = WebClient(token=slack_emulator.bot_token, base_url=slack_emulator.api_url)
    err = slack_error(lambda: plain.chat_postMessage(channel="C_OPS", text="x"))
    assert err.response.status_code == 503
    slack_emulator.fail("*", count=1, status=500)
    retrying = WebClient(
        token=slack_emulator.bot_token,
        base_url=slack_emulator.api_url,
        retry_handlers=[ServerErrorRetryHandler(max_retry_count=1)],
    )
    assert retrying.chat_postMessage(channel="C_OPS", text="x")["ok"]


def test_unknown_method(slack_web_client: WebClient) -> None:
    err = slack_error(lambda: slack_web_client.api_call("chat.frobnicate"))
    assert err.response["error"] == "unknown_method"


def test_response_url_posts_are_recorded_and_limited(slack_emulator: SlackEmulator) -> None:
    url = slack_emulator.new_response_url(channel="C_OPS", user="U_ALICE")
    webhook = WebhookClient(url)
    assert webhook.send(text="working on it").status_code == 200
    assert webhook.send(text="done", response_type="in_channel").status_code == 200
    (eph,) = slack_emulator.ephemerals("C_OPS", user="U_ALICE")
    assert eph.text == "working on it" and eph.via == "response_url"
    assert [m.text for m in slack_emulator.messages("C_OPS")] == ["done"]
    for _ in range(3):
        assert webhook.send(text="more").status_code == 200
    sixth = webhook.send(text="one too many")
    assert sixth.status_code == 404 and json.loads(sixth.body)["error"] == "used_url"
    posts = slack_emulator.responses(url)
    assert [p.response_type for p in posts[:2]] == ["ephemeral", "in_channel"]
    assert posts[-1].error == "used_url"


def test_response_url_replaces_and_deletes_the_original(
    slack_emulator: SlackEmulator, slack_web_client: WebClient
) -> None:
    ts = slack_web_client.chat_postMessage(channel="C_OPS", text="Approve?", blocks=[SECTION])["ts"]
    url = slack_emulator.new_response_url(channel="C_OPS", user="U_BOB", message_ts=ts)
    webhook = WebhookClient(url)
    webhook.send(text="Approved by bob", replace_original=True)
    message = slack_emulator.message("C_OPS", ts)
    assert message is not None and message.text == "Approved by bob" and message.blocks is None
    (post,) = slack_emulator.responses(url)
    assert post.replace_original and post.text == "Approved by bob"
    webhook.send(delete_original=True)
    assert slack_emulator.messages("C_OPS") == []


def test_response_url_rejects_bad_blocks_and_expires(slack_emulator: SlackEmulator) -> None:
    url = slack_emulator.new_response_url(channel="C_OPS", user="U_ALICE")
    bad = WebhookClient(url).send(text="x", blocks=[SECTION] * 51)
    assert bad.status_code == 400 and json.loads(bad.body)["error"] == "invalid_blocks"
    slack_emulator.expire_response_url(url)
    late = WebhookClient(url).send(text="x")
    assert late.status_code == 404 and json.loads(late.body)["error"] == "expired_url"


def test_wait_for_a_call_made_from_another_thread(
    slack_emulator: SlackEmulator, slack_web_client: WebClient
) -> None:
    def later() -> None:
        time.sleep(0.2)
        slack_web_client.chat_postMessage(channel="C_OPS", text="async")

    worker = threading.Thread(target=later)
    worker.start()
    call = slack_emulator.wait_for("chat.postMessage", timeout=5)
    worker.join()
    assert call.params["text"] == "async"
    assert slack_emulator.wait_for(lambda: slack_emulator.messages("C_OPS"))[0].text == "async"
    with pytest.raises(TimeoutError, match=r"chat\.postMessage=ok"):
        slack_emulator.wait_for("chat.update", timeout=0.2)


def test_ts_are_unique_and_increasing_under_concurrency(
    slack_emulator: SlackEmulator, slack_web_client: WebClient
) -> None:
    def burst(n: int) -> None:
        for i in range(n):
            slack_web_client.chat_postMessage(channel="C_ONCALL", text=str(i))

    workers = [threading.Thread(target=burst, args=(15,)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    stamps = [m.ts for m in slack_emulator.messages("C_ONCALL")]
    assert len(stamps) == len(set(stamps)) == 60
    assert stamps == sorted(stamps, key=float)
    assert all(len(ts.split(".")[1]) == 6 for ts in stamps)


def test_views_open_keeps_the_modal_and_refuses_a_malformed_one(
    slack_emulator: SlackEmulator, slack_web_client: WebClient
) -> None:
    modal = {
        "type": "modal",
        "callback_id": "why",
        "title": {"type": "plain_text", "text": "Why?"},
        "private_metadata": "inst-abcdefgh",
        "blocks": [],
    }
    opened = slack_web_client.views_open(trigger_id="1.2.abc", view=modal)
    assert opened["view"]["callback_id"] == "why" and opened["view"]["id"].startswith("V")
    assert [v["private_metadata"] for v in slack_emulator.workspace.views] == ["inst-abcdefgh"]
    refused = slack_error(lambda: slack_web_client.views_open(trigger_id="1.2.abc", view={}))
    assert refused.response["error"] == "invalid_arguments"
    missing_trigger = slack_error(lambda: slack_web_client.views_open(trigger_id="", view=modal))
    assert missing_trigger.response["error"] == "invalid_arguments"
