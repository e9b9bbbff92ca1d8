"""The import boundaries of DESIGN.md, checked for every module, including new ones.

import-linter checks the contracts in pyproject.toml for the modules listed there;
this test walks the tree so a module added later cannot slip past the same rules.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
IO_LIBRARIES = {"slack_bolt", "slack_sdk", "kubernetes", "redis", "httpx", "apscheduler"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_the_core_imports_no_io_library_and_nothing_from_bot() -> None:
    for path in modules("commands"):
        bad = {n for n in imported_roots(path) if n.split(".")[0] in IO_LIBRARIES | {"bot"}}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_only_the_kube_adapter_and_the_sandbox_import_kubernetes() -> None:
    for path in modules("bot"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(("bot/adapters/kube/", "bot/sandbox/")):
            continue
        bad = {n for n in imported_roots(path) if n.split(".")[0] == "kubernetes"}
        assert not bad, f"{rel} imports kubernetes"


def test_only_the_cli_imports_the_sandbox() -> None:
    for path in modules("bot"):
        rel = path.relative_to(ROOT).as_posix()
        # the CLI: its entry point and its `meshbot demo` command, which runs the sandbox
        if rel in ("bot/app/cli.py", "bot/app/demo.py") or rel.startswith("bot/sandbox/"):
            continue
        bad = {n for n in imported_roots(path) if n.startswith("bot.sandbox")}
        assert not bad, f"{rel} imports {sorted(bad)}"
