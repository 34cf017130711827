"""Which kubeconfig context stands for a catalog cluster: the one ranking probe, doctor and
break-glass share, as a table (no lab: kubeconfig files in a temporary directory)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ztctl.core.contexts import context_for, reach_rank
from ztctl.core.kubeconfig.model import load_kubeconfig
from ztctl.core.model import Cluster, ExecCredential

PROD = Cluster(
    name="prod",
    server="https://api.prod.example:6443",
    addresses=("10.0.0.10",),
    credentials=ExecCredential(command="true"),
)
CATALOG = ("prod", "staging")


def ztctl_ext(cluster: str) -> list[dict[str, Any]]:
    return [{"name": "ztctl", "extension": {"cluster": cluster}}]


# Each context: (name, server, ztctl owner or None). Its cluster and user share its name.
SERVER = "https://api.prod.example:6443"
BY_IP = "https://10.0.0.10:6443"
OTHER = "https://elsewhere.example:6443"


def kubeconfig(tmp_path: Path, contexts: list[tuple[str, str, str | None]], current: str) -> Any:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": current,
        "clusters": [],
        "users": [],
        "contexts": [],
    }
    for name, server, owner in contexts:
        cluster: dict[str, Any] = {"server": server}
        context: dict[str, Any] = {"cluster": name, "user": name}
        if owner:
            context["extensions"] = ztctl_ext(owner)
        doc["clusters"].append({"name": name, "cluster": cluster})
        doc["users"].append({"name": name, "user": {"token": "x"}})
        doc["contexts"].append({"name": name, "context": context})
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return load_kubeconfig(str(path), {})


@pytest.mark.parametrize(
    ("contexts", "current", "chosen"),
    [
        # ztctl's own entry beats a namesake and a server match...
        ([("x", SERVER, None), ("prod", SERVER, None), ("mine", SERVER, "prod")], "x", "mine"),
        # ...and the current context wins among equals.
        ([("a", SERVER, None), ("b", SERVER, None)], "b", "b"),
        ([("a", SERVER, None), ("b", SERVER, None)], "", "a"),
        # A namesake with a matching server beats another matching context, current or not.
        ([("x", SERVER, None), ("prod", BY_IP, None)], "x", "prod"),
        # A namesake pointing elsewhere does not stand for the cluster.
        ([("prod", OTHER, None), ("x", BY_IP, None)], "prod", "x"),
        # A context named after another catalog cluster never does, even with the server.
        ([("staging", SERVER, None)], "staging", None),
        # ztctl's entry for another catalog cluster never does either.
        ([("mine", SERVER, "staging")], "mine", None),
        # Nothing matches: the catalog's own data is used.
        ([("x", OTHER, None)], "x", None),
    ],
    ids=[
        "ztctl-entry-first",
        "current-breaks-ties",
        "first-when-no-current",
        "namesake-over-other",
        "namesake-elsewhere-skipped",
        "other-catalog-name-skipped",
        "other-ztctl-entry-skipped",
        "none",
    ],
)
def test_context_for(
    tmp_path: Path, contexts: list[tuple[str, str, str | None]], current: str, chosen: str | None
) -> None:
    kc = kubeconfig(tmp_path, contexts, current)
    assert context_for(PROD, kc, CATALOG) == chosen


def test_the_ranks_in_order(tmp_path: Path) -> None:
    contexts = [
        ("own", SERVER, "prod"),
        ("prod", SERVER, None),
        ("other", BY_IP, None),
    ]
    ranks = {}
    for current in ("own", "prod", "other"):
        kc = kubeconfig(tmp_path, contexts, current)
        ranks[current] = reach_rank(kc, current, PROD, CATALOG)
    # current: ztctl's 0, namesake 2, any other 4 (not current: +1)
    assert ranks == {"own": 0, "prod": 2, "other": 4}
    kc = kubeconfig(tmp_path, contexts, "")
    assert [reach_rank(kc, c, PROD, CATALOG) for c, _s, _o in contexts] == [1, 3, 5]
