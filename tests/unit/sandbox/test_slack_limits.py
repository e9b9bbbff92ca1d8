"""Slack's message and Block Kit limits as the emulator checks them (pure, no server)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.sandbox.slack.limits import WARNING_MISSING_TEXT, validate_message


def section(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def button(action_id: str = "approve", text: str = "Approve", **extra: Any) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text},
        **extra,
    }


def actions(*elements: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "actions", "elements": list(elements), **extra}


def refused(blocks: list[Any], text: str = "fallback") -> list[str]:
    verdict = validate_message(text, blocks)
    assert verdict.error == "invalid_blocks", verdict
    return verdict.errors


def test_a_reasonable_message_passes() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "mTLS change"}},
        section(
            "Namespace *payments* PERMISSIVE → STRICT",
            fields=[
                {"type": "mrkdwn", "text": "*Cluster*\nprod-eu"},
            ],
        ),
        {"type": "divider"},
        actions(button("approve", style="primary", value="chg-1"), button("reject", "Reject")),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "requested by <@U1>"}]},
    ]
    verdict = validate_message("mTLS change", blocks)
    assert verdict.ok and verdict.warnings == []


def test_blocks_as_a_json_string_are_accepted() -> None:
    assert validate_message("t", json.dumps([section()])).ok


def test_more_than_50_blocks() -> None:
    errors = refused([section(str(i)) for i in range(51)])
    assert errors == ["no more than 50 items allowed [json-pointer:/blocks]"]
    assert validate_message("t", [section(str(i)) for i in range(50)]).ok


def test_section_text_over_3000() -> None:
    errors = refused([section("x" * 3001)])
    assert errors == ["must be less than 3001 characters [json-pointer:/blocks/0/text/text]"]
    assert validate_message("t", [section("x" * 3000)]).ok


def test_more_than_10_fields_and_a_field_over_2000() -> None:
    fields = [{"type": "mrkdwn", "text": "f"} for _ in range(11)]
    assert refused([{"type": "section", "fields": fields}]) == [
        "no more than 10 items allowed [json-pointer:/blocks/0/fields]"
    ]
    long_field = [{"type": "mrkdwn", "text": "x" * 2001}]
    assert refused([{"type": "section", "fields": long_field}]) == [
        "must be less than 2001 characters [json-pointer:/blocks/0/fields/0/text]"
    ]


def test_actions_over_25_elements() -> None:
    elements = [button(f"a{i}") for i in range(26)]
    assert "no more than 25 items allowed [json-pointer:/blocks/0/elements]" in refused(
        [actions(*elements)]
    )


def test_duplicate_action_id_in_a_block() -> None:
    errors = refused([actions(button("approve"), button("approve", "Again"))])
    assert errors == ["duplicate action_id: approve [json-pointer:/blocks/0/elements/1/action_id]"]
    # Slack allows the same action_id in different blocks (one row per item).
    assert validate_message("t", [actions(button("approve")), actions(button("approve"))]).ok


def test_duplicate_block_id() -> None:
    errors = refused([section(block_id="b"), section(block_id="b")])
    assert errors == ["duplicate block_id: b [json-pointer:/blocks/1/block_id]"]


def test_button_text_over_75_and_value_over_2000() -> None:
    assert refused([actions(button(text="x" * 76))]) == [
        "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]"
    ]
    assert refused([actions(button(value="v" * 2001))]) == [
        "must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]"
    ]


def test_ids_over_255() -> None:
    assert refused([actions(button("a" * 256))]) == [
        "must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]"
    ]
    assert refused([section(block_id="b" * 256)]) == [
        "must be less than 256 characters [json-pointer:/blocks/0/block_id]"
    ]


def test_context_over_10_elements() -> None:
    elements = [{"type": "mrkdwn", "text": str(i)} for i in range(11)]
    assert refused([{"type": "context", "elements": elements}]) == [
        "no more than 10 items allowed [json-pointer:/blocks/0/elements]"
    ]


def test_accessory_button_is_checked() -> None:
    assert refused([section(accessory=button(text="y" * 80))]) == [
        "must be less than 76 characters [json-pointer:/blocks/0/accessory/text/text]"
    ]


@pytest.mark.parametrize(
    ("block", "error"),
    [
        ({"type": "sections"}, "unsupported type: sections [json-pointer:/blocks/0/type]"),
        ({"type": "mrkdwn", "text": "x"}, "unsupported type: mrkdwn [json-pointer:/blocks/0/type]"),
        (section(""), "must be more than 0 characters [json-pointer:/blocks/0/text/text]"),
        (
            {"type": "header", "text": {"type": "mrkdwn", "text": "h"}},
            "must be one of: plain_text [json-pointer:/blocks/0/text/type]",
        ),
    ],
)
def test_malformed_blocks(block: dict[str, Any], error: str) -> None:
    assert refused([block]) == [error]


def test_blocks_json_over_13k_characters() -> None:
    blocks = [section("x" * 2900) for _ in range(5)]
    assert validate_message("t", blocks).error == "msg_blocks_too_long"


def test_text_over_40000() -> None:
    assert validate_message("x" * 40_001, None).error == "msg_too_long"
    assert validate_message("x" * 40_000, None).ok


def test_no_text_no_blocks() -> None:
    assert validate_message("", None).error == "no_text"


def test_not_a_list_of_blocks() -> None:
    assert validate_message("t", {"type": "section"}).error == "invalid_blocks_format"
    assert validate_message("t", "[not json").error == "invalid_blocks_format"


def test_missing_fallback_text_is_an_error_when_strict_and_a_warning_otherwise() -> None:
    strict = validate_message("", [section()])
    assert strict.error == WARNING_MISSING_TEXT
    body = strict.to_response()
    assert body["ok"] is False
    assert body["response_metadata"]["warnings"] == [WARNING_MISSING_TEXT]
    assert body["response_metadata"]["messages"][0].startswith("[ERROR] ")

    lenient = validate_message("", [section()], strict_fallback_text=False)
    assert lenient.ok and lenient.warnings == [WARNING_MISSING_TEXT]


def test_error_body_is_shaped_like_slack() -> None:
    body = validate_message("t", [section("x" * 3001)]).to_response()
    assert body == {
        "ok": False,
        "error": "invalid_blocks",
        "errors": ["must be less than 3001 characters [json-pointer:/blocks/0/text/text]"],
        "response_metadata": {
            "messages": [
                "[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
            ]
        },
    }
