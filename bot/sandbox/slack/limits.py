"""Slack's message and Block Kit limits, checked on the raw JSON the app sends.

Why this exists: the app may send dicts as well as ``slack_sdk.models`` objects, and
the models only check what they were built from. Slack checks the JSON it receives, so
the emulator does too, and answers the way Slack does: ``invalid_blocks`` with
``errors`` and ``response_metadata.messages`` entries of the form
``"[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]"``,
``msg_too_long`` for text over 40,000 characters and ``msg_blocks_too_long`` for a
message whose blocks serialise to more than about 13,000 characters.

One deliberate difference from Slack, on by default: blocks without a top-level
``text`` fallback. Slack accepts them with the warning
``missing_text_or_fallback_or_attachments``; with ``strict_fallback_text`` the emulator
refuses them under that same name, so tests catch messages that would notify users
with an empty text.

``validate_message`` is pure: no I/O, no emulator state.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

MAX_TEXT = 40_000
MAX_BLOCKS_MESSAGE = 50
MAX_BLOCKS_SURFACE = 100  # modals and App Home
MAX_BLOCKS_JSON_CHARS = 13_000
MAX_SECTION_TEXT = 3_000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2_000
MAX_ACTIONS_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2_000
MAX_URL = 3_000
MAX_ID = 255
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_OPTIONS = 100
MAX_PLACEHOLDER = 150
MAX_IMAGE_ALT = 2_000

WARNING_MISSING_TEXT = "missing_text_or_fallback_or_attachments"

BLOCK_TYPES = frozenset(
    {
        "section",
        "actions",
        "context",
        "divider",
        "header",
        "image",
        "input",
        "file",
        "rich_text",
        "video",
        "markdown",
        "table",
        "context_actions",
    }
)
INTERACTIVE_ELEMENTS = frozenset(
    {
        "button",
        "static_select",
        "external_select",
        "users_select",
        "conversations_select",
        "channels_select",
        "multi_static_select",
        "multi_external_select",
        "multi_users_select",
        "multi_conversations_select",
        "multi_channels_select",
        "overflow",
        "datepicker",
        "timepicker",
        "datetimepicker",
        "checkboxes",
        "radio_buttons",
        "plain_text_input",
        "rich_text_input",
        "email_text_input",
        "url_text_input",
        "number_input",
        "workflow_button",
        "file_input",
    }
)


@dataclass
class Verdict:
    """The outcome of a check: ``error`` is None when Slack would accept the message."""

    error: str | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_response(self) -> dict[str, Any]:
        """The Slack-shaped error body (``ok: false``) for a refused message."""
        body: dict[str, Any] = {"ok": False, "error": self.error}
        if self.errors:
            body["errors"] = list(self.errors)
            body["response_metadata"] = {"messages": [f"[ERROR] {e}" for e in self.errors]}
        if self.warnings:
            body.setdefault("response_metadata", {})["warnings"] = list(self.warnings)
            body["warning"] = ",".join(self.warnings)
        return body


def validate_message(
    text: Any,
    blocks: Any,
    attachments: Any = None,
    *,
    strict_fallback_text: bool = True,
    max_blocks: int = MAX_BLOCKS_MESSAGE,
) -> Verdict:
    """Check a message (``text``, ``blocks`` as a list or JSON string) like Slack does."""
    verdict = Verdict()
    if blocks is not None and isinstance(blocks, str):
        try:
            blocks = json.loads(blocks) if blocks.strip() else None
        except ValueError:
            return Verdict("invalid_blocks_format")
    if blocks is not None and not isinstance(blocks, list):
        return Verdict("invalid_blocks_format")
    text = "" if text is None else str(text)
    if len(text) > MAX_TEXT:
        return Verdict("msg_too_long")
    if not text and not blocks and not attachments:
        return Verdict("no_text")
    if blocks:
        problems = list(_check_blocks(blocks, max_blocks))
        if problems:
            return Verdict("invalid_blocks", errors=problems)
        size = len(json.dumps(blocks, separators=(",", ":"), ensure_ascii=False))
        if size > MAX_BLOCKS_JSON_CHARS:
            return Verdict("msg_blocks_too_long")
        if not text.strip() and not attachments:
            verdict.warnings.append(WARNING_MISSING_TEXT)
            if strict_fallback_text:
                verdict.error = WARNING_MISSING_TEXT
                verdict.errors.append(
                    "blocks given without a top-level `text` fallback; Slack accepts this "
                    f"with warning {WARNING_MISSING_TEXT}, the emulator (strict_fallback_text) "
                    "refuses it"
                )
    return verdict


# ---- block checks ----------------------------------------------------------------


def _too_long(value: Any, limit: int, pointer: str) -> Iterator[str]:
    if isinstance(value, str) and len(value) > limit:
        yield f"must be less than {limit + 1} characters [json-pointer:{pointer}]"


def _too_many(items: Any, limit: int, pointer: str) -> Iterator[str]:
    if isinstance(items, list) and len(items) > limit:
        yield f"no more than {limit} items allowed [json-pointer:{pointer}]"


def _check_blocks(blocks: list[Any], max_blocks: int) -> Iterator[str]:
    yield from _too_many(blocks, max_blocks, "/blocks")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        at = f"/blocks/{i}"
        if not isinstance(block, dict):
            yield f"expected object [json-pointer:{at}]"
            continue
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            yield f"unsupported type: {kind} [json-pointer:{at}/type]"
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            yield from _too_long(block_id, MAX_ID, f"{at}/block_id")
            if block_id in block_ids:
                yield f"duplicate block_id: {block_id} [json-pointer:{at}/block_id]"
            block_ids.add(block_id)
        checker = _BLOCK_CHECKS.get(kind)
        if checker is not None:
            yield from checker(block, at)


def _check_text_object(
    obj: Any, at: str, limit: int, *, plain_only: bool = False, required: bool = True
) -> Iterator[str]:
    if obj is None:
        if required:
            yield f"missing required field: text [json-pointer:{at}]"
        return
    if not isinstance(obj, dict):
        yield f"expected object [json-pointer:{at}]"
        return
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if obj.get("type") not in allowed:
        yield f"must be one of: {', '.join(allowed)} [json-pointer:{at}/type]"
    value = obj.get("text")
    if not isinstance(value, str) or not value:
        yield f"must be more than 0 characters [json-pointer:{at}/text]"
        return
    yield from _too_long(value, limit, f"{at}/text")


def _check_section(block: dict[str, Any], at: str) -> Iterator[str]:
    text, fields = block.get("text"), block.get("fields")
    if text is None and not fields:
        yield f"must provide at least one of: text, fields [json-pointer:{at}]"
    if text is not None:
        yield from _check_text_object(text, f"{at}/text", MAX_SECTION_TEXT)
    if fields is not None:
        yield from _too_many(fields, MAX_SECTION_FIELDS, f"{at}/fields")
        for j, item in enumerate(fields if isinstance(fields, list) else []):
            yield from _check_text_object(item, f"{at}/fields/{j}", MAX_FIELD_TEXT)
    accessory = block.get("accessory")
    if accessory is not None:
        yield from _check_element(accessory, f"{at}/accessory")


def _check_actions(block: dict[str, Any], at: str) -> Iterator[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        yield f"must provide at least 1 item [json-pointer:{at}/elements]"
        return
    yield from _too_many(elements, MAX_ACTIONS_ELEMENTS, f"{at}/elements")
    yield from _check_elements(elements, f"{at}/elements")


def _check_elements(elements: list[Any], at: str) -> Iterator[str]:
    action_ids: set[str] = set()
    for j, element in enumerate(elements):
        yield from _check_element(element, f"{at}/{j}")
        action_id = element.get("action_id") if isinstance(element, dict) else None
        if action_id is not None:
            if action_id in action_ids:
                yield f"duplicate action_id: {action_id} [json-pointer:{at}/{j}/action_id]"
            action_ids.add(action_id)


def _check_context(block: dict[str, Any], at: str) -> Iterator[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        yield f"must provide at least 1 item [json-pointer:{at}/elements]"
        return
    yield from _too_many(elements, MAX_CONTEXT_ELEMENTS, f"{at}/elements")
    for j, element in enumerate(elements):
        where = f"{at}/elements/{j}"
        if isinstance(element, dict) and element.get("type") == "image":
            yield from _check_image(element, where)
        else:
            yield from _check_text_object(element, where, MAX_SECTION_TEXT)


def _check_header(block: dict[str, Any], at: str) -> Iterator[str]:
    yield from _check_text_object(block.get("text"), f"{at}/text", MAX_HEADER_TEXT, plain_only=True)


def _check_image(block: dict[str, Any], at: str) -> Iterator[str]:
    if "image_url" not in block and "slack_file" not in block:
        yield f"must provide one of: image_url, slack_file [json-pointer:{at}]"
    yield from _too_long(block.get("image_url"), MAX_URL, f"{at}/image_url")
    alt = block.get("alt_text")
    if not isinstance(alt, str) or not alt:
        yield f"must be more than 0 characters [json-pointer:{at}/alt_text]"
    else:
        yield from _too_long(alt, MAX_IMAGE_ALT, f"{at}/alt_text")


def _check_element(element: Any, at: str) -> Iterator[str]:
    if not isinstance(element, dict):
        yield f"expected object [json-pointer:{at}]"
        return
    kind = element.get("type")
    if kind == "image":
        yield from _check_image(element, at)
        return
    if kind not in INTERACTIVE_ELEMENTS:
        yield f"unsupported type: {kind} [json-pointer:{at}/type]"
        return
    yield from _too_long(element.get("action_id"), MAX_ID, f"{at}/action_id")
    if kind == "button":
        yield from _check_text_object(
            element.get("text"), f"{at}/text", MAX_BUTTON_TEXT, plain_only=True
        )
        yield from _too_long(element.get("value"), MAX_BUTTON_VALUE, f"{at}/value")
        yield from _too_long(element.get("url"), MAX_URL, f"{at}/url")
        style = element.get("style")
        if style is not None and style not in ("primary", "danger"):
            yield f"must be one of: primary, danger [json-pointer:{at}/style]"
    placeholder = element.get("placeholder")
    if placeholder is not None:
        yield from _check_text_object(placeholder, f"{at}/placeholder", MAX_PLACEHOLDER)
    options = element.get("options")
    if isinstance(options, list):
        yield from _too_many(options, 5 if kind == "overflow" else MAX_OPTIONS, f"{at}/options")
        for k, option in enumerate(options):
            where = f"{at}/options/{k}"
            if not isinstance(option, dict):
                yield f"expected object [json-pointer:{where}]"
                continue
            yield from _check_text_object(option.get("text"), f"{where}/text", MAX_OPTION_TEXT)
            yield from _too_long(option.get("value"), MAX_OPTION_VALUE, f"{where}/value")


_BLOCK_CHECKS = {
    "section": _check_section,
    "actions": _check_actions,
    "context": _check_context,
    "header": _check_header,
    "image": _check_image,
}
