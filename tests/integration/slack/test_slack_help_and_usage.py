"""`/mesh help X` and usage errors in Slack: the same help the command line shows, in
Slack's words (`/mesh`, `key=value`), and a notification text that carries the usage."""

from __future__ import annotations

from tests.fixtures.meshbot import RunningBot
from tests.integration.slack.test_slack_front_end import section_texts


def test_help_for_one_command_shows_its_options_role_and_examples(http_bot: RunningBot) -> None:
    body = http_bot.answer(http_bot.slash("help preflight"))
    text = section_texts(body)
    assert "`/mesh preflight [cluster=NAME] [istio=1.30]" in text
    assert "• `namespace=NS` a namespace to be meshed" in text
    assert "_(role: viewer)_" in text
    assert "Examples:\n`/mesh preflight`\n`/mesh preflight istio=1.29 profile=ambient`" in text
    assert "--" not in text and "meshbot preflight" not in text
    assert str(body["text"]).startswith("/mesh preflight [cluster=NAME]")


def test_a_validation_error_notifies_with_what_was_wrong_and_the_usage(
    http_bot: RunningBot,
) -> None:
    body = http_bot.answer(http_bot.slash("history limit=abc"))
    assert body["response_type"] == "ephemeral"
    assert body["text"] == (
        "`limit=`: must be a whole number from 1 to 200, not `abc` — usage: "
        "/mesh history [cluster=NAME] [limit=N]"
    )
    assert "Usage:\n`/mesh history [cluster=NAME] [limit=N]`" in section_texts(body)


def test_a_mistyped_command_or_topic_gets_did_you_mean(http_bot: RunningBot) -> None:
    typo = http_bot.answer(http_bot.slash("prefligth"))
    assert "did you mean `preflight`?" in str(typo["text"])
    assert "usage: /mesh preflight [cluster=NAME]" in str(typo["text"])
    topic = http_bot.answer(http_bot.slash("help nosuch"))
    assert str(topic["text"]).startswith("no command `nosuch` — usage: /mesh help [COMMAND …]")
