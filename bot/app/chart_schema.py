"""The Helm chart's values.schema.json carries meshbot's own config schema.

`helm install` checks values against helm/meshbot/values.schema.json; its `config` key
is meshbot's config file, so the schema under it is the one meshbot validates at start
(`FileConfig`, pydantic), written as JSON Schema. A bad `config` then fails at install
with the field named, not in a crash-looping pod. The chart's own keys are written by
hand in that file; this module only refreshes its `$defs` (``python -m
bot.app.chart_schema --write``), and a test fails when they are stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.app.config import FileConfig
from bot.core.settings import ClusterConfig

SCHEMA_FILE = Path("helm/meshbot/values.schema.json")
# set by the chart itself for the cluster it runs in (in_cluster: true)
CHART_OWNED_CLUSTER_KEYS = ("in_cluster", "kubeconfig", "context")


def config_defs() -> dict[str, Any]:
    """`$defs` for the values schema: FileConfig, its parts, and InClusterSettings."""
    schema = FileConfig.model_json_schema()
    defs: dict[str, Any] = dict(schema.pop("$defs", {}))
    defs["FileConfig"] = schema
    cluster = ClusterConfig.model_json_schema()
    cluster.pop("$defs", None)
    for key in CHART_OWNED_CLUSTER_KEYS:
        cluster["properties"].pop(key, None)
    cluster["title"] = "InClusterSettings"
    defs["InClusterSettings"] = cluster
    return dict(sorted(defs.items()))


def refreshed(values_schema: dict[str, Any]) -> dict[str, Any]:
    out = dict(values_schema)
    out["$defs"] = config_defs()
    return out


def render(path: Path = SCHEMA_FILE) -> str:
    return json.dumps(refreshed(json.loads(path.read_text())), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update the file in place")
    parser.add_argument("--file", type=Path, default=SCHEMA_FILE)
    options = parser.parse_args(argv)
    text = render(options.file)
    if options.write:
        options.file.write_text(text)
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
