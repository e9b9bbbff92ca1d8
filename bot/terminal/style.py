"""How text output looks on this terminal: its width, and colour only where it helps.

Colour goes only to a terminal (never into a pipe or a file a script reads) and never
when `NO_COLOR` is set (no-color.org). Lines wrap to the terminal's width (`COLUMNS`
when set; 100 when the output is not a terminal) so a long finding stays readable
instead of running to 250 characters.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from dataclasses import dataclass
from typing import TextIO

_CODES = {
    "fail": "31;1",
    "error": "31;1",
    "warn": "33;1",
    "warning": "33;1",
    "unknown": "35",
    "pass": "32",
    "ok": "32",
    "dim": "2",
    "bold": "1",
}
MIN_WIDTH = 40
PIPE_WIDTH = 100


@dataclass(frozen=True)
class Style:
    color: bool = False
    width: int = PIPE_WIDTH

    @classmethod
    def for_stream(cls, stream: TextIO, environ: dict[str, str] | None = None) -> Style:
        env = os.environ if environ is None else environ
        try:
            tty = stream.isatty()
        except (AttributeError, ValueError):
            tty = False
        color = tty and not env.get("NO_COLOR") and env.get("TERM") != "dumb"
        if env.get("COLUMNS", "").isdigit():
            width = int(env["COLUMNS"])
        elif tty:
            width = shutil.get_terminal_size((PIPE_WIDTH, 24)).columns
        else:
            width = PIPE_WIDTH
        return cls(color=color, width=max(MIN_WIDTH, width))

    def paint(self, text: str, kind: str) -> str:
        code = _CODES.get(kind.lower())
        if not self.color or code is None:
            return text
        return f"\033[{code}m{text}\033[0m"

    def wrap(self, text: str, indent: str = "", first: str | None = None) -> list[str]:
        """`text` in lines of at most the width, every word kept (never cut with "…")."""
        return textwrap.wrap(
            text,
            width=self.width,
            initial_indent=indent if first is None else first,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        ) or [indent if first is None else first]
