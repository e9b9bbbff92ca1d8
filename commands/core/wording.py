"""Small phrases every answer needs: counts with the right plural, lists that stop, durations.

"1 subjects", "0.166667 min" and a list of 2,000 node names are the kind of thing a
careful reader stops at. Every capability words counts, lists and durations through
these few functions, so each front end says them the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

_IRREGULAR = {"policy": "policies", "class": "classes"}


def number(count: float) -> str:
    """`2000` → `2,000`; whole floats lose their `.0`."""
    if isinstance(count, float) and not count.is_integer():
        return f"{count:,.2f}".rstrip("0").rstrip(".")
    return f"{int(count):,}"


def plural(word: str) -> str:
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


def count(amount: int, word: str) -> str:
    """`1 node`, `2,000 nodes`, `0 pods`."""
    return f"{number(amount)} {word if amount == 1 else plural(word)}"


def listing(names: Sequence[str], shown: int = 3) -> str:
    """`a, b, c … and 1,997 more`; every name when there are few."""
    if len(names) <= shown + 1:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} … and {number(len(names) - shown)} more"


def duration(seconds: float) -> str:
    """`45 s`, `10 min`, `1 min 30 s`, `1 h`, `2 h 30 min`: whole units, never `0.166667 min`."""
    if seconds < 10 and not float(seconds).is_integer():
        return f"{seconds:.1f} s"
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    if total < 3600:
        minutes, rest = divmod(total, 60)
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    hours, rest = divmod(total, 3600)
    minutes = round(rest / 60)
    if minutes == 60:
        hours, minutes = hours + 1, 0
    return f"{hours} h" + (f" {minutes} min" if minutes else "")
