"""One message source, two renderings: Slack's words said the command line's way."""

from __future__ import annotations

import json

from bot.terminal.dialect import Dialect

DIALECT = Dialect(["limit", "cluster", "override", "namespace", "retries"])


def test_commands_in_backticks_become_command_lines() -> None:
    assert DIALECT.say("see `/mesh history`") == "see `meshbot history`"
    assert DIALECT.say('`/mesh change approve chg-1 override="why it is safe"`') == (
        '`meshbot change approve chg-1 --override "why it is safe"`'
    )
    assert DIALECT.say("try `/mesh help`.") == "try `meshbot help`."


def test_usage_lines_with_optional_and_repeated_options() -> None:
    usage = "/mesh preflight [cluster=NAME] [namespace=NS …]\n/mesh history [limit=N]"
    assert DIALECT.say(usage) == (
        "meshbot preflight [--cluster NAME] [--namespace NS …]\nmeshbot history [--limit N]"
    )
    assert DIALECT.say("usage: /mesh status") == "usage: meshbot status"


def test_option_mentions_become_flags_and_nothing_else_changes() -> None:
    assert DIALECT.say("`limit=`: must be a number") == "`--limit`: must be a number"
    assert DIALECT.say("say which: `cluster=NAME`") == "say which: `--cluster NAME`"
    assert DIALECT.say("unknown option `limt=`") == "unknown option `--limt`"
    kept = "label it `istio-injection=enabled`; run `kubectl get ns`"
    assert DIALECT.say(kept) == kept


def test_every_string_of_a_json_document() -> None:
    doc = json.dumps({"kind": "UsageError", "usage": "/mesh help", "problem": "`limit=`: bad"})
    assert json.loads(DIALECT.json(doc)) == {
        "kind": "UsageError",
        "usage": "meshbot help",
        "problem": "`--limit`: bad",
    }
