"""The import boundaries of DESIGN.md, checked for every module, including new ones.

import-linter checks the contracts in pyproject.toml for the modules listed there;
this test walks the tree so a module added later cannot slip past the same rules: no
module of `commands` or `bot` is part of an import loop, and every package under them
sits in a layers contract (a new capability package has to be placed, not forgotten).
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import grimp

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


# the CLI, its `sandbox …` commands and `meshbot demo`, which runs the stand-ins
CLI_MODULES = {"bot/app/cli.py", "bot/app/cli_sandbox.py", "bot/app/demo.py"}


def test_only_the_cli_imports_the_sandbox() -> None:
    for path in modules("bot"):
        rel = path.relative_to(ROOT).as_posix()
        if rel in CLI_MODULES or rel.startswith("bot/sandbox/"):
            continue
        bad = {n for n in imported_roots(path) if n.startswith("bot.sandbox")}
        assert not bad, f"{rel} imports {sorted(bad)}"


def import_loops() -> list[list[str]]:
    """Groups of modules that import each other, directly or round a loop (Tarjan).

    Imports under `if TYPE_CHECKING:` are left out: they never run, and a back-reference
    typed that way (a request handler naming its server's class) loads nothing."""
    graph = grimp.build_graph("commands", "bot", exclude_type_checking_imports=True, cache_dir=None)
    ours = set(graph.modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & ours) for m in ours}
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    loops: list[list[str]] = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        for target in edges[module]:
            if target not in order:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], order[target])
        if low[module] == order[module]:
            group = []
            while not group or group[-1] != module:
                group.append(stack.pop())
            if len(group) > 1 or module in edges[module]:
                loops.append(sorted(group))

    for module in sorted(ours):
        if module not in order:
            visit(module)
    return loops


def test_no_module_is_part_of_an_import_loop() -> None:
    assert import_loops() == []


def layered_names() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    names: set[str] = set()
    for contract in config["tool"]["importlinter"]["contracts"]:
        if contract["type"] == "layers":
            for layer in contract["layers"]:
                names.update(part.strip() for part in layer.replace(":", "|").split("|"))
    return names


def test_every_package_sits_in_a_layers_contract() -> None:
    packages = {
        f"{root}.{init.parent.name}"
        for root in ("commands", "bot")
        for init in (ROOT / root).glob("*/__init__.py")
    }
    layered = layered_names()
    assert packages - layered == set(), "add these to a layers contract in pyproject.toml"
    assert {n for n in layered if n.count(".") == 1} <= packages, "layers naming no package"
