"""The browser workspace shows mrkdwn and Block Kit as a Slack client would, and nothing a
bot sends becomes markup or script except through Slack's own rules."""

from __future__ import annotations

import json
import re

from bot.sandbox.slack.web.blocks import blocks_html
from bot.sandbox.slack.web.mrkdwn import mrkdwn_to_html

USERS = {"U0ALICE": "Alice"}


def test_mrkdwn_styles_code_quotes_and_emoji() -> None:
    out = mrkdwn_to_html("*bold* _it_ ~gone~ `a*b*c` :white_check_mark: at 10:30:00\n> quoted")
    assert "<b>bold</b>" in out and "<i>it</i>" in out and "<s>gone</s>" in out
    assert "<code>a*b*c</code>" in out  # no styling inside code
    assert "✅" in out and "10:30:00" in out
    assert out.endswith("<blockquote>quoted</blockquote>")


def test_mrkdwn_links_mentions_and_fences() -> None:
    out = mrkdwn_to_html(
        "<@U0ALICE> see <https://example.com/a?b=1&amp;c=2|the runbook> in <#C1|oncall> "
        "<!here>\n```x = 1 < 2\n*not bold*```",
        USERS,
    )
    assert '<span class="mention">@Alice</span>' in out
    assert '<a href="https://example.com/a?b=1&amp;c=2" target="_blank"' in out
    assert ">the runbook</a>" in out and "#oncall" in out and "@here" in out
    assert "<pre>x = 1 &lt; 2\n*not bold*</pre>" in out


def test_nothing_a_bot_sends_becomes_markup() -> None:
    out = mrkdwn_to_html('&lt;script&gt;alert(1)&lt;/script&gt; <javascript:alert(1)|click> "x"')
    assert "<script" not in out and "&lt;script&gt;" in out
    assert "<a " not in out and "click" in out  # only http(s)/mailto become links
    header = blocks_html([{"type": "header", "text": {"type": "plain_text", "text": "<img>"}}], {})
    assert "<img" not in header and "&lt;img&gt;" in header


def test_blocks_header_section_fields_context_divider_image() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Deploy :rocket:"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*p99* up"},
            "fields": [
                {"type": "mrkdwn", "text": "*Before*\n200 ms"},
                {"type": "plain_text", "text": "after"},
            ],
        },
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "cluster *demo*"}]},
        {
            "type": "image",
            "image_url": "https://x/chart.png",
            "alt_text": "chart",
            "title": {"type": "plain_text", "text": "Last hour"},
        },
        {"type": "video"},
    ]
    out = blocks_html(blocks, USERS)
    assert '<div class="b b-header">Deploy 🚀</div>' in out
    assert out.count('class="s-field"') == 2 and "<b>Before</b><br>200 ms" in out
    assert '<hr class="b b-divider">' in out
    assert '<div class="b b-context"><span>cluster <b>demo</b></span></div>' in out
    assert 'src="https://x/chart.png" alt="chart"' in out and "Last hour" in out
    assert "[video block]" in out


def test_buttons_keep_style_confirm_and_position_but_not_their_value() -> None:
    confirm = {
        "title": {"type": "plain_text", "text": "Roll back?"},
        "text": {"type": "plain_text", "text": "Restore it"},
        "confirm": {"type": "plain_text", "text": "Roll back"},
        "deny": {"type": "plain_text", "text": "Cancel"},
        "style": "danger",
    }
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "x"}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "action_id": "a",
                    "value": "secret-id",
                    "style": "primary",
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Rollback"},
                    "action_id": "r",
                    "value": "v",
                    "style": "danger",
                    "confirm": confirm,
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Runbook"},
                    "action_id": "u",
                    "url": "https://wiki/p99",
                },
                {"type": "static_select", "placeholder": {"type": "plain_text", "text": "Pick"}},
            ],
        },
    ]
    out = blocks_html(blocks, USERS)
    assert "secret-id" not in out  # the emulator sends the stored value, never the page's
    approve = re.search(r'<button[^>]*class="btn btn-primary"[^>]*>Approve</button>', out)
    assert approve and 'data-block="1" data-element="0"' in approve.group(0)
    rollback = re.search(r'<button[^>]*btn-danger[^>]*data-confirm="([^"]+)"', out)
    assert rollback is not None
    spec = json.loads(rollback.group(1).replace("&quot;", '"'))
    assert spec == {
        "title": "Roll back?",
        "text": "Restore it",
        "confirm": "Roll back",
        "deny": "Cancel",
        "style": "danger",
    }
    assert 'data-url="https://wiki/p99"' in out
    assert "Pick ▾" in out
