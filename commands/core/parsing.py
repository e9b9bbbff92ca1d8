"""Turn the text after `/mesh` into words and `key=value` options.

Slack hands us whatever the user typed, including smart quotes from macOS and iOS
keyboards, so quoting is normalised before splitting. Any text gives either a
`ParsedText` or a `UsageError`; nothing else is raised (a hypothesis test holds us to it).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from commands.core.model import UsageError

_SMART_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})
_OPTION = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*)=(.*)$", re.DOTALL)
MAX_TEXT = 4000


@dataclass(frozen=True)
class ParsedText:
    """Positional words in order, and options (each key may repeat)."""

    words: tuple[str, ...]
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)


def parse(text: str) -> ParsedText | UsageError:
    if len(text) > MAX_TEXT:
        return UsageError(f"the command is too long ({len(text)} characters, at most {MAX_TEXT})")
    normalised = text.translate(_SMART_QUOTES).replace("\x00", "")
    try:
        tokens = shlex.split(normalised, posix=True)
    except ValueError as exc:
        return UsageError(f"could not read the command: {exc} (check the quotes)")
    words: list[str] = []
    options: dict[str, list[str]] = {}
    for token in tokens:
        match = _OPTION.match(token)
        if match:
            options.setdefault(match.group(1).lower().replace("_", "-"), []).append(match.group(2))
        elif token.startswith("--") and len(token) > 2:
            return UsageError(
                f"`{token}` looks like a command-line flag; in Slack write options as key=value"
            )
        else:
            words.append(token)
    return ParsedText(tuple(words), {k: tuple(v) for k, v in options.items()})
