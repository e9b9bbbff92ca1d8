"""Kubernetes names typed by people: checked once, the same way for every command.

A namespace typed as `Bad_NS` must get the same answer from `preflight` and from `mtls
status`, before anything reads the cluster, and the answer must say what a valid name
looks like. Kubernetes names namespaces by RFC 1123 label rules (apimachinery
`IsDNS1123Label`): at most 63 characters, lowercase letters, digits and '-', starting
and ending with a letter or digit.
"""

from __future__ import annotations

import re
from collections.abc import Callable

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_LABEL_MAX = 63
LABEL_RULE = (
    "namespace names are at most 63 lowercase letters, digits or '-', "
    "starting and ending with a letter or digit"
)


def namespace_problem(name: str) -> str | None:
    """Why `name` is not a valid namespace name, or None when it is."""
    if len(name) > DNS1123_LABEL_MAX:
        return (
            f"`{name[:20]}…` is not a valid namespace name ({len(name)} characters): {LABEL_RULE}"
        )
    if DNS1123_LABEL.match(name):
        return None
    suggestion = _repaired(name)
    hint = f"; did you mean `{suggestion}`?" if suggestion and suggestion != name else ""
    return f"`{name}` is not a valid namespace name: {LABEL_RULE}{hint}"


def namespace_name(raw: str) -> str:
    """A `Param.convert` for namespaces: the name, or ValueError saying what is wrong."""
    problem = namespace_problem(raw)
    if problem is not None:
        raise ValueError(problem)
    return raw


def namespace_or(*words: str) -> Callable[[str], str]:
    """A converter accepting a namespace name or one of `words` (`all`, `mesh`)."""

    def convert(raw: str) -> str:
        return raw if raw in words else namespace_name(raw)

    return convert


def _repaired(name: str) -> str:
    fixed = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return fixed[:DNS1123_LABEL_MAX].rstrip("-")
