"""The `/mesh` text parser: words, key=value options, quotes, and never an exception."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from commands.core.builtin import register
from commands.core.model import Caller, Role, UsageError
from commands.core.parsing import ParsedText, parse
from commands.core.registry import Registry


def test_words_and_options() -> None:
    parsed = parse("mtls strict namespace=payments reason='gate override' ")
    assert parsed == ParsedText(
        ("mtls", "strict"), {"namespace": ("payments",), "reason": ("gate override",)}
    )


def test_repeated_options_keep_their_order() -> None:
    parsed = parse("preflight namespace=a namespace=b")
    assert isinstance(parsed, ParsedText)
    assert parsed.options["namespace"] == ("a", "b")


def test_smart_quotes_from_slack_clients_are_understood() -> None:
    parsed = parse("timeouts set reason=\u201cfix the storm\u201d")
    assert isinstance(parsed, ParsedText)
    assert parsed.options["reason"] == ("fix the storm",)


def test_values_may_contain_equals_signs() -> None:
    parsed = parse("history filter=a=b")
    assert isinstance(parsed, ParsedText)
    assert parsed.options["filter"] == ("a=b",)


def test_unbalanced_quote_is_a_usage_error() -> None:
    result = parse('mtls strict reason="oops')
    assert isinstance(result, UsageError)
    assert "quote" in result.problem


def test_command_line_flags_in_slack_are_explained() -> None:
    result = parse("preflight --cluster prod")
    assert isinstance(result, UsageError)
    assert "key=value" in result.problem


def test_overlong_text_is_refused() -> None:
    assert isinstance(parse("x" * 5000), UsageError)


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_any_text_parses_or_gives_a_usage_error(text: str) -> None:
    assert isinstance(parse(text), ParsedText | UsageError)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["help", "status", "version", "mtls", "strict", "=", '"', "'"]),
            st.from_regex(r"[a-z-]{1,8}=[^\s]{0,6}", fullmatch=True),
            st.text(max_size=8),
        ),
        max_size=6,
    )
)
def test_any_text_gives_a_command_or_a_usage_error_through_the_registry(words: list[str]) -> None:
    registry = Registry()
    register(registry)
    prepared = registry.prepare(" ".join(words), Caller("U1", Role.VIEWER))
    assert isinstance(prepared, tuple) or type(prepared).__name__ in {"UsageError", "Denied"}
