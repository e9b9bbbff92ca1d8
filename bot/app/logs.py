"""Structured logging with secrets redacted.

Every record passes a filter that masks Slack tokens, bearer tokens and the configured
secret values before any handler sees it, so a token can never reach a log file even
through an exception message from a library. Library chatter is turned down
(bot.app.quiet_logs).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable

from bot.app.quiet_logs import quiet_libraries

_TOKEN = re.compile(r"\b(xox[abposr]-|xapp-)[A-Za-z0-9-]+")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]+@")


class Redactor(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s and len(s) >= 4]

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        text = _TOKEN.sub(lambda m: m.group(1) + "***", text)
        text = _BEARER.sub(lambda m: m.group(1) + "***", text)
        return _URL_PASSWORD.sub(lambda m: m.group(1) + "***@", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        record.msg = self.redact(message)
        record.args = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        error_id = getattr(record, "error_id", None)
        if error_id:
            entry["error_id"] = error_id
        return json.dumps(entry)


def configure(level: str, secrets: Iterable[str]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(Redactor(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_libraries()
