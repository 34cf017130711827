"""Which kubeconfig entry break-glass routes: the same context probe and doctor pick."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.core.breakglass.helpers import SERVER, make_cluster, user_kubeconfig, write_kubeconfig
from ztctl.core.breakglass.opening import find_entry
from ztctl.core.kubeconfig.model import load_kubeconfig
from ztctl.errors import OperationFailed

OTHER = "https://other.test:6443"


def test_entry_is_found_by_the_context_named_like_the_cluster(tmp_path: Path) -> None:
    path = user_kubeconfig(tmp_path)
    entry = find_entry(make_cluster(), load_kubeconfig(str(path), {}))
    assert entry.context == "prod-eu"
    assert entry.cluster.name == "prod-eu"
    assert entry.user.name == "prod-eu"
    # Every entry for the same API server is routed; the unrelated one is not.
    assert [e.name for e in entry.shadowed] == ["prod-eu", "alias"]


def test_entry_is_found_by_server_when_named_otherwise(tmp_path: Path) -> None:
    path = write_kubeconfig(
        tmp_path / "config",
        {
            "clusters": [{"name": "arn:eks:prod", "cluster": {"server": SERVER}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "work", "context": {"cluster": "arn:eks:prod", "user": "u"}}],
        },
    )
    entry = find_entry(make_cluster(), load_kubeconfig(str(path), {}))
    assert (entry.context, entry.cluster.name, entry.user.name) == ("work", "arn:eks:prod", "u")


def test_missing_entry_says_to_run_use_cluster(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", {"clusters": [], "users": [], "contexts": []})
    with pytest.raises(OperationFailed) as caught:
        find_entry(make_cluster(), load_kubeconfig(str(path), {}))
    assert "use-cluster prod-eu" in caught.value.fix


def test_entry_without_user_is_refused(tmp_path: Path) -> None:
    path = write_kubeconfig(
        tmp_path / "config",
        {"clusters": [{"name": "prod-eu", "cluster": {"server": SERVER}}]},
    )
    with pytest.raises(OperationFailed, match="no user"):
        find_entry(make_cluster(), load_kubeconfig(str(path), {}))


# --- which kubeconfig entry break-glass routes -------------------------------------------
#
# The same ranking as probe and doctor: the context of ztctl's own entry for the cluster
# (current context first), then a context named like the cluster on its API server, then
# any other context on its API server that is not named after another catalog cluster
# (current first); without any such context, the cluster and user entries named like the
# cluster. A context that points elsewhere is never picked because of its name.


def ctx(name: str, cluster: str, owner: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"cluster": cluster, "user": cluster}
    if owner:
        body["extensions"] = [{"name": "ztctl", "extension": {"cluster": owner}}]
    return {"name": name, "context": body}


def cl(name: str, server: str = SERVER, owner: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"server": server}
    if owner:
        body["extensions"] = [{"name": "ztctl", "extension": {"cluster": owner}}]
    return {"name": name, "cluster": body}


def kubeconfig(
    tmp_path: Path, clusters: list[dict[str, Any]], contexts: list[dict[str, Any]], current: str
) -> Any:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "users": [{"name": c["name"], "user": {"token": "t"}} for c in clusters],
        "contexts": contexts,
        "current-context": current,
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return load_kubeconfig(str(path), {})


ENTRY_CASES = [
    (
        "ztctl's own entry beats a context named like the cluster",
        [cl("zt", owner="prod-eu"), cl("prod-eu")],
        [ctx("prod-eu", "prod-eu"), ctx("zt-prod", "zt", owner="prod-eu")],
        "prod-eu",
        ("prod-eu-us",),
        ("zt-prod", "zt"),
    ),
    (
        "of two own entries, the current context",
        [cl("a", owner="prod-eu"), cl("b", owner="prod-eu")],
        [ctx("a", "a", owner="prod-eu"), ctx("b", "b", owner="prod-eu")],
        "b",
        (),
        ("b", "b"),
    ),
    (
        "a context named like the cluster that points elsewhere is not it",
        [cl("stale", OTHER), cl("arn:eks:prod")],
        [ctx("prod-eu", "stale"), ctx("work", "arn:eks:prod")],
        "prod-eu",
        (),
        ("work", "arn:eks:prod"),
    ),
    (
        "named like the cluster beats another context on the same server, even current",
        [cl("prod-eu"), cl("alias")],
        [ctx("prod-eu", "prod-eu"), ctx("work", "alias")],
        "work",
        (),
        ("prod-eu", "prod-eu"),
    ),
    (
        "a context named after another catalog cluster is skipped",
        [cl("prod-us"), cl("arn:eks:prod")],
        [ctx("prod-us", "prod-us"), ctx("work", "arn:eks:prod")],
        "prod-us",
        ("prod-eu", "prod-us"),
        ("work", "arn:eks:prod"),
    ),
    (
        "ztctl's entry for another catalog cluster on the same server is skipped",
        [cl("zt-us", owner="prod-us"), cl("mine")],
        [ctx("zt-us", "zt-us", owner="prod-us"), ctx("mine", "mine")],
        "zt-us",
        ("prod-eu", "prod-us"),
        ("mine", "mine"),
    ),
    (
        "of two other contexts on the same server, the current one",
        [cl("a"), cl("b")],
        [ctx("a", "a"), ctx("b", "b")],
        "b",
        (),
        ("b", "b"),
    ),
    (
        "no context at all: the cluster and user entries named like the cluster",
        [cl("prod-eu")],
        [],
        "",
        (),
        (None, "prod-eu"),
    ),
]


@pytest.mark.parametrize(
    ("clusters", "contexts", "current", "names", "expected"),
    [case[1:] for case in ENTRY_CASES],
    ids=[case[0] for case in ENTRY_CASES],
)
def test_find_entry_picks_the_context_probe_picks(
    tmp_path: Path,
    clusters: list[dict[str, Any]],
    contexts: list[dict[str, Any]],
    current: str,
    names: tuple[str, ...],
    expected: tuple[str | None, str],
) -> None:
    entry = find_entry(make_cluster(), kubeconfig(tmp_path, clusters, contexts, current), names)
    assert (entry.context, entry.cluster.name) == expected
    assert entry.user.name == expected[1]
