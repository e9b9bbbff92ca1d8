"""Secrets never reach the logs, whatever carries them there."""

from __future__ import annotations

import logging

from bot.app.logs import JsonFormatter, Redactor


def emit(redactor: Redactor, message: str, *args: object, exc: BaseException | None = None) -> str:
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, message, args, None)
    if exc is not None:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    redactor.filter(record)
    return JsonFormatter().format(record)


def test_tokens_bearer_values_url_passwords_and_configured_secrets_are_masked() -> None:
    redactor = Redactor(["my-signing-secret"])
    line = emit(
        redactor,
        "token %s app %s auth %s redis %s secret %s",
        "xoxb-123-456-abc",
        "xapp-1-A1-xyz",
        "Bearer eyJhbGciOi.abc",
        "redis://:hunter2@redis:6379/0",
        "my-signing-secret",
    )
    for leaked in ("123-456-abc", "A1-xyz", "eyJhbGciOi", "hunter2", "my-signing-secret"):
        assert leaked not in line
    assert "xoxb-***" in line and "Bearer ***" in line and ":***@redis" in line


def test_secrets_inside_exception_tracebacks_are_masked() -> None:
    try:
        raise RuntimeError("failed with xoxb-999-leak")
    except RuntimeError as exc:
        line = emit(Redactor(), "boom", exc=exc)
    assert "xoxb-999-leak" not in line and "RuntimeError" in line
