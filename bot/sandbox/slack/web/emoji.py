"""``:shortcode:`` → emoji, for the shortcodes Slack messages commonly carry.

Why this exists: Slack clients turn ``:white_check_mark:`` into ✅ in mrkdwn and in
plain_text with ``emoji: true``; a face on the emulator must too, without a font or an
image set from the network. Unknown shortcodes stay as text, as Slack shows them when a
custom emoji is missing.
"""

from __future__ import annotations

import re

EMOJI = {
    "white_check_mark": "✅",
    "heavy_check_mark": "✔️",
    "x": "❌",
    "warning": "⚠️",
    "rotating_light": "🚨",
    "no_entry": "⛔",
    "no_entry_sign": "🚫",
    "rewind": "⏪",
    "information_source": "\u2139\ufe0f",
    "gear": "⚙️",
    "white_circle": "⚪",
    "red_circle": "🔴",
    "large_green_circle": "🟢",
    "large_orange_circle": "🟠",
    "large_yellow_circle": "🟡",
    "zzz": "💤",
    "thumbsup": "👍",
    "+1": "👍",
    "stopwatch": "⏱️",
    "leftwards_arrow_with_hook": "↩️",
    "bell": "🔔",
    "arrows_counterclockwise": "🔄",
    "pause_button": "⏸️",
    "mute": "🔇",
    "lock": "🔒",
    "hourglass_flowing_sand": "⏳",
    "hourglass": "⌛",
    "grey_question": "❔",
    "question": "❓",
    "eyes": "👀",
    "fire": "🔥",
    "tada": "🎉",
    "wave": "👋",
    "rocket": "🚀",
    "bulb": "💡",
    "mag": "🔍",
    "memo": "📝",
    "chart_with_upwards_trend": "📈",
    "construction": "🚧",
    "shield": "🛡️",
    "key": "🔑",
    "link": "🔗",
    "clipboard": "📋",
    "arrow_right": "➡️",
    "point_right": "👉",
    "sparkles": "✨",
}
_SHORTCODE = re.compile(r":([a-z0-9_+-]+):")


def emojize(text: str) -> str:
    """Replace known shortcodes; leave the rest (and times like 10:30:00) alone."""
    return _SHORTCODE.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), text)
