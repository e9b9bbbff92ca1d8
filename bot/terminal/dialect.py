"""One message source, two renderings: what to type, said the command line's way.

The core writes every hint the way Slack shows it — `/mesh history limit=5` in
backticks, an option as `limit=` — because that is the one place the words live. In a
terminal the same text must say `meshbot history --limit 5` and `--limit`. `Dialect`
rewrites exactly those spans: backticked text that starts with `/mesh`, a backticked
`key=`, a backticked `key=value` whose key is one of the commands' options, and lines of usage
that start with `/mesh`. Everything else (a label selector in a fix, YAML in a diff)
is left as it was written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

SLACK_PREFIX = "/mesh"
PROGRAM = "meshbot"

_SPAN = re.compile(r"`([^`\n]+)`")
_TOKEN = re.compile(r"""(?:[^\s"']+|"[^"]*"|'[^']*')+""")
_OPTION = re.compile(r"^(\[?)([a-z][a-z0-9_-]*)=(.*)$", re.DOTALL)
_LINE = re.compile(r"^(\s*(?:usage:\s*)?)(/mesh(?:\s.*)?)$", re.MULTILINE)


class Dialect:
    """Rewrites Slack-worded text for the command line; `options`: every option name the
    commands take (only those become `--key`)."""

    def __init__(self, options: Iterable[str] = (), program: str = PROGRAM) -> None:
        self.options = frozenset(options)
        self.program = program

    def command(self, text: str) -> str:
        """`/mesh change approve ID override="x"` → `meshbot change approve ID --override "x"`."""
        if text != SLACK_PREFIX and not text.startswith(SLACK_PREFIX + " "):
            return text
        words = [self.program]
        for token in _TOKEN.findall(text[len(SLACK_PREFIX) :]):
            match = _OPTION.match(token)
            if match is None:
                words.append(token)
                continue
            bracket, key, value = match.groups()
            words.append(f"{bracket}--{key} {value}" if value else f"{bracket}--{key}")
        return " ".join(words)

    def option(self, text: str) -> str | None:
        """`limit=` → `--limit`, `cluster=NAME` → `--cluster NAME`; None if not an option."""
        match = _OPTION.match(text)
        if match is None or match.group(1):
            return None
        key, value = match.group(2), match.group(3)
        if value and key not in self.options:  # `key=` alone is always an option's name
            return None
        return f"--{key} {value}" if value else f"--{key}"

    def say(self, text: str) -> str:
        """Every command and option mention in `text`, in command-line words."""
        if "`" not in text and SLACK_PREFIX not in text:
            return text  # most strings of a large report: nothing to rewrite
        text = _LINE.sub(lambda m: m.group(1) + self.command(m.group(2)), text)
        return _SPAN.sub(self._span, text)

    def _span(self, match: re.Match[str]) -> str:
        inner = match.group(1)
        if inner.startswith(SLACK_PREFIX):
            return f"`{self.command(inner)}`"
        if " " not in inner or inner.count('"') == 2:
            option = self.option(inner)
            if option is not None:
                return f"`{option}`"
        return match.group(0)

    def json(self, text: str, *, indent: int | None = 2) -> str:
        """The same rewrite applied to every string of a JSON document.

        `indent=None`: compact, written by json's C encoder — a 2,000-node preflight is
        megabytes, and indenting it goes through the pure-Python encoder (seconds)."""
        nothing_to_say = "`" not in text and SLACK_PREFIX not in text
        if nothing_to_say and indent is None and "\n" not in text:
            return text  # compact already (JSON strings escape newlines): nothing to redo
        document = json.loads(text) if nothing_to_say else self._walk(json.loads(text))
        if indent is None:
            return json.dumps(document, separators=(",", ":"))
        return json.dumps(document, indent=indent)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.say(value)
        if isinstance(value, list):
            return [self._walk(v) for v in value]
        if isinstance(value, dict):
            return {k: self._walk(v) for k, v in value.items()}
        return value
