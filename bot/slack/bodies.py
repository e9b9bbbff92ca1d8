"""What a signed request's body must look like before Bolt sees it.

Slack sends us two shapes: a slash command (form fields, `command=/mesh&text=…`) and an
interaction (form field `payload=` holding a JSON object with a `type`); the Events API
sends a JSON object. Anything else — garbage form data, an empty `payload=`, a payload
that is not JSON, bytes that are not UTF-8 — made Bolt raise and answer 500. Here it is
a plain problem for a 400.

Bolt's own parser also drops every form body that merely *contains* the word
"payload" and has no `payload=` field (`/mesh mtls status namespace=payload-api` became
an empty request), so the front hands Bolt the fields parsed here.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

FORM = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"


def parse_slack_body(body: bytes, content_type: str) -> dict[str, Any] | str:
    """The request's fields, or why this is not a body Slack sends."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    media = content_type.split(";", 1)[0].strip().lower()
    if media == JSON_TYPE or (media != FORM and text.startswith("{")):
        return _typed_object(text, "JSON body")
    if media != FORM:
        return f"Content-Type {media or '(none)'} is not one Slack sends"
    try:
        fields = dict(parse_qsl(text, keep_blank_values=True, strict_parsing=True))
    except ValueError:
        return "body is not form data"
    if "payload" in fields:
        return _typed_object(fields["payload"], "payload=")
    if fields.get("command", "").startswith("/"):
        return fields
    return "form data is neither a slash command nor an interaction payload"


def _typed_object(text: str, what: str) -> dict[str, Any] | str:
    if not text:
        return f"{what} is empty"
    try:
        value = json.loads(text)
    except ValueError:
        return f"{what} is not JSON"
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        return f"{what} is not a JSON object with a type"
    return value
