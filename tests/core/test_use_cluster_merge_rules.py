"""use-cluster's merge rule as tables: what is added, updated, reported and removed.

Rules (the contract of ``ztctl use-cluster``):
- entries ztctl does not own never change, unless ``--prune-duplicates`` removes them;
- a duplicate is another entry whose server has the catalog cluster's host name, or one of
  its catalog addresses, with the same port (plus the contexts using such a cluster and the
  users only those contexts use); duplicates are reported, removed only with
  ``--prune-duplicates``; ztctl's own entries for other catalog clusters are not duplicates;
- a same-named entry ztctl did not write is refused (exit 1) unless pruned;
- an existing kubeconfig of 0 bytes (or only blanks) is refused with exit 3;
- ztctl's extension marks its entries; other tools' extensions are kept.
Real files, no lab.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ztctl.core.model import ClientCertificate, Cluster
from ztctl.core.use_cluster import merge_cluster
from ztctl.errors import EXIT_FAILED, EXIT_INVALID_INPUT, InvalidInput, OperationFailed

PROD = Cluster(
    name="prod",
    server="https://k8s.acme.net:6443",
    addresses=("203.0.113.10",),
    credentials=ClientCertificate(Path("/keys/prod.crt"), Path("/keys/prod.key")),
    certificate_authority=Path("/ca/prod.pem"),
)
EXT = [{"extension": {"cluster": "prod"}, "name": "ztctl"}]
OURS_STAGING = [{"extension": {"cluster": "staging"}, "name": "ztctl"}]


def cluster(name: str, server: str, ext: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"server": server}
    if ext is not None:
        body["extensions"] = ext
    return {"name": name, "cluster": body}


def context(name: str, cluster_name: str, user: str) -> dict[str, Any]:
    return {"name": name, "context": {"cluster": cluster_name, "user": user}}


def user(name: str) -> dict[str, Any]:
    return {"name": name, "user": {"token": "t-" + name}}


def config(
    clusters: Any = (), contexts: Any = (), users: Any = (), current: str = ""
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": list(clusters),
        "contexts": list(contexts),
        "users": list(users),
    }
    if current:
        doc["current-context"] = current
    return doc


# (the foreign entries in the kubeconfig, catalog names, the duplicates reported:
#  (kind, name, reason, server))
DUPLICATES = [
    pytest.param(
        config([cluster("old", "https://k8s.acme.net:6443")]),
        (),
        [("cluster", "old", "same host k8s.acme.net:6443", "https://k8s.acme.net:6443")],
        id="same host and port",
    ),
    pytest.param(
        config([cluster("old", "https://K8S.acme.net:6443")]),
        (),
        [("cluster", "old", "same host k8s.acme.net:6443", "https://K8S.acme.net:6443")],
        id="host names are case-insensitive",
    ),
    pytest.param(config([cluster("old", "https://k8s.acme.net:443")]), (), [], id="other port"),
    pytest.param(config([cluster("old", "https://k8s.acme.net")]), (), [], id="default port"),
    pytest.param(config([cluster("old", "https://k8s2.acme.net:6443")]), (), [], id="other host"),
    pytest.param(
        config([cluster("old", "https://203.0.113.10:6443")]),
        (),
        [("cluster", "old", "catalog address 203.0.113.10:6443", "https://203.0.113.10:6443")],
        id="catalog address",
    ),
    pytest.param(
        config([cluster("old", "https://203.0.113.11:6443")]), (), [], id="another address"
    ),
    pytest.param(
        config([cluster("old", "https://203.0.113.10:443")]), (), [], id="address, other port"
    ),
    pytest.param(
        config(
            [cluster("old", "https://k8s.acme.net:6443"), cluster("mine", "https://x.net:6443")],
            [context("old-ctx", "old", "old-user"), context("mine", "mine", "mine")],
            [user("old-user"), user("mine")],
        ),
        (),
        [
            ("cluster", "old", "same host k8s.acme.net:6443", "https://k8s.acme.net:6443"),
            ("context", "old-ctx", "uses the duplicate cluster old", None),
            ("user", "old-user", "used only by duplicate contexts", None),
        ],
        id="a duplicate cluster's context and its user",
    ),
    pytest.param(
        config(
            [cluster("old", "https://k8s.acme.net:6443"), cluster("mine", "https://x.net:6443")],
            [context("old-ctx", "old", "shared"), context("mine", "mine", "shared")],
            [user("shared")],
        ),
        (),
        [
            ("cluster", "old", "same host k8s.acme.net:6443", "https://k8s.acme.net:6443"),
            ("context", "old-ctx", "uses the duplicate cluster old", None),
        ],
        id="a user another context uses is kept",
    ),
    pytest.param(
        config(
            [cluster("mine", "https://x.net:6443")],
            [context("mine", "mine", "mine")],
            [user("mine")],
        ),
        (),
        [],
        id="no duplicate cluster, no duplicate context or user",
    ),
    pytest.param(
        config([cluster("staging", "https://k8s.acme.net:6443", OURS_STAGING)]),
        ("prod", "staging"),
        [],
        id="ztctl's entry for another catalog cluster",
    ),
    pytest.param(
        config([cluster("staging", "https://k8s.acme.net:6443", OURS_STAGING)]),
        ("prod",),
        [("cluster", "staging", "same host k8s.acme.net:6443", "https://k8s.acme.net:6443")],
        id="ztctl's entry for a cluster gone from the catalog",
    ),
    pytest.param(
        config([cluster("old", "https://k8s.acme.net:6443", EXT)]),
        ("prod",),
        [("cluster", "old", "same host k8s.acme.net:6443", "https://k8s.acme.net:6443")],
        id="ztctl's entry for this cluster under another name",
    ),
    pytest.param(
        config(
            [
                cluster("prod", "https://k8s.acme.net:6443", EXT),
                cluster("old", "https://k8s.acme.net:6443"),
            ]
        ),
        ("prod",),
        [("cluster", "old", "same host k8s.acme.net:6443", "https://k8s.acme.net:6443")],
        id="a duplicate after ztctl's own entry",
    ),
    pytest.param(
        config(
            [
                cluster("staging", "https://k8s.acme.net:6443", OURS_STAGING),
                cluster("old", "https://203.0.113.10:6443"),
            ]
        ),
        ("prod", "staging"),
        [("cluster", "old", "catalog address 203.0.113.10:6443", "https://203.0.113.10:6443")],
        id="a duplicate after ztctl's entry for another catalog cluster",
    ),
]


def _write(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _names(doc: dict[str, Any], key: str) -> list[str]:
    return [e["name"] for e in doc.get(key) or []]


@pytest.mark.parametrize("prune", [False, True], ids=["report", "prune"])
@pytest.mark.parametrize(("before", "catalog", "expected"), DUPLICATES)
def test_duplicates(
    tmp_path: Path,
    before: dict[str, Any],
    catalog: tuple[str, ...],
    expected: list[Any],
    prune: bool,
) -> None:
    cfg = tmp_path / "config"
    _write(cfg, before)
    result = merge_cluster(PROD, kubeconfig=str(cfg), prune_duplicates=prune, catalog_names=catalog)
    assert [d.to_dict() for d in result.duplicates] == [
        {
            "kind": kind,
            "name": name,
            "file": str(cfg),
            "reason": reason,
            "server": server,
            "removed": prune,
        }
        for kind, name, reason, server in expected
    ]
    after = yaml.safe_load(cfg.read_text())
    removed = {(kind, name) for kind, name, *_ in expected} if prune else set()
    for kind, key in (("cluster", "clusters"), ("context", "contexts"), ("user", "users")):
        kept = [e for e in before[key] if (kind, e["name"]) not in removed | {(kind, "prod")}]
        assert [e for e in after[key] if e["name"] != "prod"] == kept  # untouched, in order
    removals = [c.to_dict() for c in result.changes if c.action == "remove"]
    assert removals == [
        {"kind": kind, "name": name, "action": "remove", "file": str(cfg)}
        for kind, name, *_ in expected
        if prune
    ]


def test_the_changes_of_a_first_merge_into_a_new_file(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    result = merge_cluster(PROD, kubeconfig=str(cfg))
    assert [c.to_dict() for c in result.changes] == [
        {"kind": kind, "name": "prod", "action": action, "file": str(cfg)}
        for kind, action in (
            ("cluster", "add"),
            ("user", "add"),
            ("context", "add"),
            ("current-context", "set"),
        )
    ]
    doc = yaml.safe_load(cfg.read_text())
    assert doc["apiVersion"] == "v1" and doc["kind"] == "Config"
    assert doc["current-context"] == "prod"
    assert (result.previous_context, result.current_context, result.switched) == ("", "prod", True)
    again = merge_cluster(PROD, kubeconfig=str(cfg))  # nothing to do: nothing written
    assert again.changes == () and again.files == () and again.duplicates == ()


# (switch, prune, the current context before, changes of current-context, the warning)
SWITCHING = [
    (True, False, "mine", [("current-context", "prod", "set")], None),
    (False, False, "mine", [], None),
    (True, True, "old-ctx", [("current-context", "prod", "set")], None),
    (
        False,
        True,
        "old-ctx",
        [],
        "the current context 'old-ctx' was removed as a duplicate; "
        "switch with `kubectl config use-context prod`",
    ),
    (False, False, "old-ctx", [], None),  # reported, not removed: no warning
    (True, False, "prod", [], None),  # already current
]


@pytest.mark.parametrize(("switch", "prune", "current", "sets", "warning"), SWITCHING)
def test_current_context(
    tmp_path: Path,
    switch: bool,
    prune: bool,
    current: str,
    sets: list[tuple[str, str, str]],
    warning: str | None,
) -> None:
    cfg = tmp_path / "config"
    doc = config(
        [cluster("old", "https://k8s.acme.net:6443"), cluster("mine", "https://x.net:6443")],
        [context("old-ctx", "old", "old-user"), context("mine", "mine", "mine")],
        [user("old-user"), user("mine")],
        current=current,
    )
    if current == "prod":
        merge_cluster(PROD, kubeconfig=str(cfg))
        loaded = yaml.safe_load(cfg.read_text())
        for key in ("clusters", "contexts", "users"):
            loaded[key] = doc[key] + loaded[key]
        doc = loaded
    _write(cfg, doc)
    result = merge_cluster(PROD, kubeconfig=str(cfg), switch=switch, prune_duplicates=prune)
    assert [
        (c.kind, c.name, c.action) for c in result.changes if c.kind == "current-context"
    ] == sets
    assert list(result.warnings) == ([warning] if warning else [])
    expected_current = "prod" if switch else current
    assert yaml.safe_load(cfg.read_text()).get("current-context") == expected_current


@pytest.mark.parametrize("kind", ["cluster", "user", "context"])
def test_a_same_named_foreign_entry(tmp_path: Path, kind: str) -> None:
    cfg = tmp_path / "config"
    foreign = {
        "cluster": config([cluster("prod", "https://elsewhere.net:6443")]),
        "user": config(users=[user("prod")]),
        "context": config(contexts=[context("prod", "other", "other")]),
    }[kind]
    _write(cfg, foreign)
    before = cfg.read_bytes()
    with pytest.raises(OperationFailed) as caught:
        merge_cluster(PROD, kubeconfig=str(cfg))
    assert caught.value.exit_code == EXIT_FAILED
    assert caught.value.message == (
        "kubeconfig already has entries named 'prod' that ztctl did not write: "
        f"{kind} 'prod' in {cfg}"
    )
    assert caught.value.fix == (
        "rerun with --prune-duplicates to replace them, or remove them first with "
        f"`kubectl config delete-{kind} prod`"
    )
    assert cfg.read_bytes() == before

    result = merge_cluster(PROD, kubeconfig=str(cfg), prune_duplicates=True)
    server = "https://elsewhere.net:6443" if kind == "cluster" else None
    assert [d.to_dict() for d in result.duplicates] == [
        {
            "kind": kind,
            "name": "prod",
            "file": str(cfg),
            "reason": "has this name but was not written by ztctl",
            "server": server,
            "removed": True,
        }
    ]
    assert "update" in {c.action for c in result.changes if c.kind == kind and c.name == "prod"}
    doc = yaml.safe_load(cfg.read_text())
    key = kind + "s"
    (replaced,) = [e for e in doc[key] if e["name"] == "prod"]
    assert replaced[kind]["extensions"] == EXT


def test_every_same_named_foreign_entry_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    _write(
        cfg,
        config(
            [cluster("prod", "https://elsewhere.net:6443")],
            [context("prod", "other", "prod")],
            [user("prod")],
        ),
    )
    with pytest.raises(OperationFailed) as caught:
        merge_cluster(PROD, kubeconfig=str(cfg))
    assert caught.value.message.endswith(
        f"cluster 'prod' in {cfg}, user 'prod' in {cfg}, context 'prod' in {cfg}"
    )
    assert caught.value.fix.endswith(
        "`kubectl config delete-cluster prod` and `kubectl config delete-user prod` and "
        "`kubectl config delete-context prod`"
    )


def test_an_entry_is_updated_in_the_file_it_lives_in(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    _write(first, config([cluster("mine", "https://x.net:6443")], current="mine"))
    merge_cluster(PROD, kubeconfig=str(second), team="old")
    env = {"KUBECONFIG": f"{first}:{second}"}
    result = merge_cluster(PROD, env=env, team="new", switch=False)
    assert [c.to_dict() for c in result.changes] == [
        {"kind": kind, "name": "prod", "action": "update", "file": str(second)}
        for kind in ("cluster", "user", "context")
    ]
    assert [f.path for f in result.files] == [str(second)]


# (the namespace asked for, the namespace of the existing context and whose it is, result)
NAMESPACES = [
    (None, None, None, None),
    ("asked", None, None, "asked"),
    (None, "kept", "ours", "kept"),
    ("asked", "kept", "ours", "asked"),
    (None, "kept", "adoptable", "kept"),
    (None, "", "ours", None),
]


@pytest.mark.parametrize(("asked", "existing", "whose", "expected"), NAMESPACES)
def test_namespace(
    tmp_path: Path, asked: str | None, existing: str | None, whose: str | None, expected: str | None
) -> None:
    cfg = tmp_path / "config"
    if whose is not None:
        merge_cluster(PROD, kubeconfig=str(cfg))
        doc = yaml.safe_load(cfg.read_text())
        (ctx,) = doc["contexts"]
        ctx["context"]["namespace"] = existing
        if whose == "adoptable":
            ctx["context"].pop("extensions")
        _write(cfg, doc)
    result = merge_cluster(PROD, kubeconfig=str(cfg), namespace=asked)
    assert result.namespace == expected
    (ctx,) = yaml.safe_load(cfg.read_text())["contexts"]
    assert ctx["context"].get("namespace") == expected


# (what the file holds, whether a backup exists, refused)
EMPTY_FILES = [
    (b"", False, True),
    (b"", True, True),
    (b"  \n\n", False, True),  # only blanks
    (b"apiVersion: v1\nkind: Config\n", False, False),
    (None, False, False),  # missing: created
]


@pytest.mark.parametrize("position", ["first", "second"])
@pytest.mark.parametrize(("content", "with_backup", "refused"), EMPTY_FILES)
def test_an_empty_kubeconfig_is_refused(
    tmp_path: Path, content: bytes | None, with_backup: bool, refused: bool, position: str
) -> None:
    other = tmp_path / "other"
    _write(other, config([cluster("mine", "https://x.net:6443")]))
    cfg = tmp_path / "config"
    if content is not None:
        cfg.write_bytes(content)
    backup = tmp_path / "config.ztctl.bak"
    from ztctl.core.kubeconfig.store import backup_path

    assert backup_path(cfg) == backup
    if with_backup:
        backup.write_text("apiVersion: v1\n")
    paths = [cfg, other] if position == "first" else [other, cfg]
    env = {"KUBECONFIG": ":".join(map(str, paths))}
    if not refused:
        merge_cluster(PROD, env=env)
        return
    before = {p: p.read_bytes() for p in paths}
    with pytest.raises(InvalidInput) as caught:
        merge_cluster(PROD, env=env)
    assert caught.value.exit_code == EXIT_INVALID_INPUT
    assert caught.value.message == (
        f"kubeconfig {cfg} is empty (0 bytes): often what an interrupted write "
        "leaves behind, so ztctl will not write into it"
    )
    restore = f"restore it from {backup} or " if with_backup else ""
    assert caught.value.fix == (
        f"{restore}delete it if it should be empty (ztctl then creates it anew), "
        "and run the command again"
    )
    assert {p: p.read_bytes() for p in paths} == before


def test_a_duplicate_in_a_later_file(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    _write(first, config([cluster("mine", "https://x.net:6443")]))
    _write(second, config([cluster("old", "https://k8s.acme.net:6443")]))
    result = merge_cluster(PROD, env={"KUBECONFIG": f"{first}:{second}"}, prune_duplicates=True)
    assert [(d.kind, d.name, d.file, d.removed) for d in result.duplicates] == [
        ("cluster", "old", str(second), True)
    ]
    assert yaml.safe_load(second.read_text())["clusters"] == []


def test_a_same_named_foreign_context_on_a_duplicate_cluster_is_reported_once(
    tmp_path: Path,
) -> None:
    cfg = tmp_path / "config"
    _write(
        cfg,
        config([cluster("old", "https://k8s.acme.net:6443")], [context("prod", "old", "u")]),
    )
    result = merge_cluster(PROD, kubeconfig=str(cfg), prune_duplicates=True)
    assert [(d.kind, d.name, d.reason) for d in result.duplicates] == [
        ("context", "prod", "has this name but was not written by ztctl"),
        ("cluster", "old", "same host k8s.acme.net:6443"),
    ]


def test_an_adopted_context_takes_the_namespace_asked_for(tmp_path: Path) -> None:
    """Another tool's context with ztctl's cluster and user: adopted even when --namespace
    differs from its namespace, which then becomes the one asked for."""
    cfg = tmp_path / "config"
    merge_cluster(PROD, kubeconfig=str(cfg))
    doc = yaml.safe_load(cfg.read_text())
    (ctx,) = doc["contexts"]
    ctx["context"] = {"cluster": "prod", "namespace": "team-a", "user": "prod"}
    _write(cfg, doc)
    result = merge_cluster(PROD, kubeconfig=str(cfg), namespace="dev")
    assert result.duplicates == ()
    (ctx,) = yaml.safe_load(cfg.read_text())["contexts"]
    assert ctx["context"] == {
        "cluster": "prod",
        "extensions": EXT,
        "namespace": "dev",
        "user": "prod",
    }


def test_a_pruned_same_named_context_does_not_lend_its_namespace(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    foreign = context("prod", "other", "other")
    foreign["context"]["namespace"] = "theirs"
    _write(cfg, config(contexts=[foreign]))
    result = merge_cluster(PROD, kubeconfig=str(cfg), prune_duplicates=True)
    assert result.namespace is None
    (ctx,) = yaml.safe_load(cfg.read_text())["contexts"]
    assert ctx["context"] == {"cluster": "prod", "extensions": EXT, "user": "prod"}


def test_the_credential_command_is_the_one_asked_for(tmp_path: Path) -> None:
    from dataclasses import replace

    from ztctl.core.model import AccessToken

    cfg = tmp_path / "config"
    token_cluster = replace(PROD, credentials=AccessToken("https://k8s.acme.net"))
    merge_cluster(token_cluster, kubeconfig=str(cfg), credential_command="/opt/bin/ztctl")
    (user_entry,) = yaml.safe_load(cfg.read_text())["users"]
    assert user_entry["user"]["exec"]["command"] == "/opt/bin/ztctl"


def test_plan_merge_switches_and_does_not_prune_by_default(tmp_path: Path) -> None:
    from ztctl.core.kubeconfig.files import precedence, read_file
    from ztctl.core.kubeconfig.model import merge_files
    from ztctl.core.use_cluster import plan_merge

    cfg = tmp_path / "config"
    _write(cfg, config([cluster("old", "https://k8s.acme.net:6443")], current="old"))
    prec = precedence(str(cfg))
    plan = plan_merge(merge_files(prec, tuple(read_file(p) for p in prec.paths)), PROD)
    assert [(c.kind, c.action) for c in plan.changes] == [
        ("cluster", "add"),
        ("user", "add"),
        ("context", "add"),
        ("current-context", "set"),
    ]
    assert [(d.name, d.removed) for d in plan.duplicates] == [("old", False)]
