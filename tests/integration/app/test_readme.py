"""The README as a newcomer uses it: its `meshbot --help` is the real one, and the lines of
"Try it against the sandbox" run as written (ports swapped for free ones) against the
sandbox parts, real Prometheus and an embedded Valkey."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from bot.sandbox.prometheus_runner import PROMTOOL
from tests.fixtures.prometheus import require_prometheus
from tests.fixtures.shared import missing
from tests.processes import CLEARED_PREFIXES, free_port, run_meshbot

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
SANDBOX_PORTS = ("18080", "18081", "18082", "18090", "19090", "19464")


def test_the_readme_shows_meshbots_help_as_it_is() -> None:
    done = run_meshbot(["--help"], env={"COLUMNS": "100"})
    assert done.returncode == 0
    assert f"```text\n{done.stdout}```" in README.read_text(encoding="utf-8")


def sandbox_section() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Try it against the sandbox", 1)[1].split("\n## ", 1)[0]
    return "\n".join(re.findall(r"```sh\n(.*?)```", section, re.DOTALL))


@pytest.mark.timeout(600)  # ~20 meshbot runs, each starting its embedded Valkey, + Prometheus
def test_the_try_it_lines_run_as_written(tmp_path: Path) -> None:
    require_prometheus()
    require_prometheus(PROMTOOL)
    if shutil.which("curl") is None:
        missing("curl is not installed")
    script = sandbox_section()
    for port in SANDBOX_PORTS:
        script = script.replace(port, str(free_port()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED_PREFIXES)}
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.pop("KUBECONFIG", None)
    log = tmp_path / "output.txt"
    with log.open("w") as output:
        shell = subprocess.Popen(
            ["bash", "-c", "trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\nset -x\n" + script],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: nothing it started outlives it
        )
        try:
            code = shell.wait(timeout=560)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(shell.pid, signal.SIGKILL)
    out = log.read_text()
    assert code == 0, out[-4000:]
    assert "Traceback" not in out
    # no line of the README is a usage or config error
    assert not re.search(r"^(error:|meshbot: )", out, re.MULTILINE), out[-4000:]
    for expected in (
        "Slack & CLI commands",
        "Usage: meshbot preflight",
        "prometheus  migration    ok",
        "Preflight of migration for Istio 1.30",
        "shop  PERMISSIVE from mesh PeerAuthentication istio-system/default  ready for STRICT",
        "refused — you proposed",
        "Rejected",
        "ERROR to-1bb9c754 retries-exceed-timeout on payments/payments route #0",
        "proposed: approve in Slack or with `meshbot change approve",
        "Watcher lease: nobody holds it",
        '{"ready": true, "checks": {"redis": true, "slack": true}}',
    ):
        assert expected in out, expected
