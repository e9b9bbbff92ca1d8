"""What made `meshbot preflight --output json` slow at 2,000 nodes, held fixed (issue 17).

- JSON for a program (stdout not a terminal) is compact, written by json's C encoder;
  on a terminal it is indented. Both say exactly the same thing.
- A read-only command against a real cluster starts no embedded store, and a one-shot
  command leaves the cyclic garbage collector as it found it when run in-process.
- Kubernetes quantities are parsed once per distinct string, and still parsed right.
- A list's next page is read while this one is parsed: still every item once, in order,
  and a refused later page still fails the list.
"""

from __future__ import annotations

import gc
import io
import json
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

import httpx
import pytest

from bot.adapters.kube import KubeCluster
from bot.adapters.kube.inventory import cpu_milli, quantity
from bot.app.cli import main
from bot.sandbox.kube import KubeTestServer, generate_large_cluster
from bot.sandbox.kube.seeds import seed_path
from commands.preflight.model import InventoryForbidden
from tests.integration.app.test_cli_output import on_terminal
from tests.processes import run_meshbot


@pytest.fixture
def problems(tmp_path: Path) -> Iterator[Path]:
    with KubeTestServer() as server:
        server.load_seed(seed_path("problems"))
        yield server.write_kubeconfig(tmp_path / "kubeconfig")


def _without_clock(report: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in report.items() if k != "generated_at"}


def test_json_in_a_pipe_is_compact_and_says_what_the_terminal_says(
    problems: Path, tmp_path: Path
) -> None:
    piped = run_meshbot(["preflight", "--kubeconfig", str(problems), "--output", "json"])
    code, shown, _ = on_terminal(
        ["preflight", "--kubeconfig", str(problems), "--output", "json"], {}, tmp_path
    )
    assert piped.returncode == code == 1
    assert piped.stdout.count("\n") == 1  # one line: the document, then a newline
    assert "\n  " in shown  # indented for a person
    terminal_json = shown[shown.index("{") : shown.rindex("}") + 1]
    assert _without_clock(json.loads(piped.stdout)) == _without_clock(json.loads(terminal_json))


def test_a_read_only_command_on_a_cluster_starts_no_store(problems: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    done = run_meshbot(
        ["preflight", "--kubeconfig", str(problems), "--output", "json"], env={"HOME": str(home)}
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["summary"]["fail"] > 0
    assert not (home / ".local" / "share" / "meshbot" / "valkey").exists()


def test_a_command_run_in_process_leaves_the_collector_on(problems: Path) -> None:
    assert gc.isenabled()
    with redirect_stdout(io.StringIO()) as out:
        code = main(["preflight", "--kubeconfig", str(problems), "--output", "json"])
    assert code == 1 and json.loads(out.getvalue())["cluster"] == "sandbox"
    assert gc.isenabled()


@pytest.mark.parametrize(
    ("text", "milli"),
    [("250m", 250), ("1", 1000), ("1.5", 1500), ("2k", 2_000_000), (None, 0), (4, 4000)],
)
def test_cpu_quantities(text: object, milli: int) -> None:
    assert cpu_milli(text) == milli
    assert cpu_milli(text) == milli  # the cached answer is the same answer


@pytest.mark.parametrize(
    ("text", "size"),
    [("512Mi", 512 * 1024**2), ("1Gi", 1024**3), ("100M", 100e6), ("100m", 0.1), ("7", 7.0)],
)
def test_memory_quantities(text: str, size: float) -> None:
    assert quantity(text) == pytest.approx(size)


def test_a_bad_quantity_is_still_refused() -> None:
    with pytest.raises(ValueError):
        quantity("lots")
    with pytest.raises(ValueError):
        cpu_milli("lotsm")


@pytest.fixture
def paged(tmp_path: Path) -> Iterator[tuple[KubeTestServer, KubeCluster]]:
    with KubeTestServer() as server:
        server.load_objects(generate_large_cluster(nodes=5, pods=250))
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        cluster = KubeCluster("lab", kubeconfig=str(kubeconfig), context="sandbox", timeout_s=5)
        cluster.page_size = 100
        try:
            yield server, cluster
        finally:
            cluster.close()


def test_pages_read_ahead_give_every_item_once_in_order(
    paged: tuple[KubeTestServer, KubeCluster],
) -> None:
    server, cluster = paged
    pods = cluster.list_pods()
    token = server.token or "sandbox-token"
    whole = httpx.get(f"{server.url}/api/v1/pods", headers={"Authorization": f"Bearer {token}"})
    served = [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in whole.json()["items"]]
    assert [(p.namespace, p.name) for p in pods] == served and len(served) == 250


def test_a_refused_later_page_fails_the_list(paged: tuple[KubeTestServer, KubeCluster]) -> None:
    server, cluster = paged
    server.faults.add(method="GET", path_regex=r"^/api/v1/pods\?.*continue=", status=403)
    with pytest.raises(InventoryForbidden):
        cluster.list_pods()
