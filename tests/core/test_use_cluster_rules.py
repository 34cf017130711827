"""use-cluster's merge rules as tables: what happens to other tools' data in ztctl's entries.

Rule: when ztctl re-merges its own cluster, user and context entries, the ``extensions``
another tool added to them stay, in their place; ztctl's own ``ztctl`` extension is updated
where it is (or put first when it is missing). Real files, no lab.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ztctl.core.model import AccessToken, ClientCertificate, Cluster, ExecCredential
from ztctl.core.use_cluster import merge_cluster

PROD = Cluster(
    name="prod",
    server="https://k8s.acme.net:6443",
    addresses=("203.0.113.10",),
    credentials=ClientCertificate(Path("/keys/prod.crt"), Path("/keys/prod.key")),
    certificate_authority=Path("/ca/prod.pem"),
)
KINDS = {"cluster": "clusters", "user": "users", "context": "contexts"}
OLD = {"name": "ztctl", "extension": {"cluster": "prod", "team": "old-team"}}
NEW = {"name": "ztctl", "extension": {"cluster": "prod", "team": "acme"}}
LENS = {"name": "lens", "extension": {"lastSeen": "2026-01-01", "icon": "k8s.png"}}
OIDC = {"name": "oidc-helper", "extension": {"issuer": "https://id.acme.net"}}

# (the extensions on ztctl's entry before the re-merge, the extensions after it)
EXTENSIONS = [
    ([OLD], [NEW]),
    ([LENS, OLD], [LENS, NEW]),  # ours is updated in place
    ([OLD, LENS], [NEW, LENS]),
    ([LENS, OLD, OIDC], [LENS, NEW, OIDC]),
    ([LENS, OIDC, OLD], [LENS, OIDC, NEW]),
    ([NEW, LENS], [NEW, LENS]),
    ([LENS, NEW], [LENS, NEW]),
]


def entry(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    (found,) = [e for e in doc[KINDS[kind]] if e["name"] == "prod"]
    body: dict[str, Any] = found[kind]
    return body


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize(("before", "after"), EXTENSIONS)
def test_other_tools_extensions_survive_a_re_merge(
    tmp_path: Path, kind: str, before: list[Any], after: list[Any]
) -> None:
    cfg = tmp_path / "config"
    merge_cluster(PROD, team="old-team", kubeconfig=str(cfg))
    doc = yaml.safe_load(cfg.read_text())
    entry(doc, kind)["extensions"] = before
    cfg.write_text(yaml.safe_dump(doc))

    merge_cluster(PROD, team="acme", kubeconfig=str(cfg))

    doc = yaml.safe_load(cfg.read_text())
    assert entry(doc, kind)["extensions"] == after
    for other in set(KINDS) - {kind}:  # the other entries carry only ztctl's
        assert entry(doc, other)["extensions"] == [NEW]


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_same_content_entry_without_our_mark_is_adopted_keeping_its_extensions(
    tmp_path: Path, kind: str
) -> None:
    """An entry another tool wrote with exactly ztctl's content: ours goes first, theirs stays."""
    cfg = tmp_path / "config"
    merge_cluster(PROD, team="acme", kubeconfig=str(cfg))
    doc = yaml.safe_load(cfg.read_text())
    entry(doc, kind)["extensions"] = [LENS]
    cfg.write_text(yaml.safe_dump(doc))

    merge_cluster(PROD, team="acme", kubeconfig=str(cfg))

    assert entry(yaml.safe_load(cfg.read_text()), kind)["extensions"] == [NEW, LENS]


def test_a_malformed_extensions_value_is_refused_and_nothing_written(tmp_path: Path) -> None:
    from ztctl.errors import EXIT_INVALID_INPUT, InvalidInput

    cfg = tmp_path / "config"
    merge_cluster(PROD, team="old-team", kubeconfig=str(cfg))
    doc = yaml.safe_load(cfg.read_text())
    entry(doc, "cluster")["extensions"] = {"lens": {"icon": "k8s.png"}}  # not a list
    cfg.write_text(yaml.safe_dump(doc))
    before = cfg.read_bytes()
    with pytest.raises(InvalidInput) as caught:
        merge_cluster(PROD, team="acme", kubeconfig=str(cfg))
    assert caught.value.exit_code == EXIT_INVALID_INPUT
    assert "extensions (line" in caught.value.message and "must be a list" in caught.value.message
    assert cfg.read_bytes() == before


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_empty_extensions_list_gets_ours(tmp_path: Path, kind: str) -> None:
    cfg = tmp_path / "config"
    merge_cluster(PROD, team="old-team", kubeconfig=str(cfg))
    doc = yaml.safe_load(cfg.read_text())
    entry(doc, kind)["extensions"] = []
    cfg.write_text(yaml.safe_dump(doc))
    merge_cluster(PROD, team="acme", kubeconfig=str(cfg))
    assert entry(yaml.safe_load(cfg.read_text()), kind)["extensions"] == [NEW]


@pytest.mark.parametrize("extensions", [None, [LENS]])
def test_a_same_content_context_keeps_its_namespace_when_adopted(
    tmp_path: Path, extensions: list[Any] | None
) -> None:
    """Another tool's context for the same cluster and user, with its own namespace."""
    cfg = tmp_path / "config"
    merge_cluster(PROD, team="acme", kubeconfig=str(cfg))
    doc = yaml.safe_load(cfg.read_text())
    context = entry(doc, "context")
    context.pop("extensions")
    context["namespace"] = "team-a"
    if extensions is not None:
        context["extensions"] = extensions
    cfg.write_text(yaml.safe_dump(doc))
    merge_cluster(PROD, team="acme", kubeconfig=str(cfg))
    adopted = entry(yaml.safe_load(cfg.read_text()), "context")
    assert adopted["namespace"] == "team-a"
    assert adopted["extensions"] == [NEW, *(extensions or [])]


def test_a_same_named_cluster_with_other_content_is_not_adopted(tmp_path: Path) -> None:
    from ztctl.errors import OperationFailed

    cfg = tmp_path / "config"
    merge_cluster(PROD, team="acme", kubeconfig=str(cfg))
    doc = yaml.safe_load(cfg.read_text())
    cluster = entry(doc, "cluster")
    cluster.pop("extensions")
    cluster["namespace"] = "x"  # what kubectl would not ignore on a cluster entry
    cfg.write_text(yaml.safe_dump(doc))
    with pytest.raises(OperationFailed):
        merge_cluster(PROD, team="acme", kubeconfig=str(cfg))


EXT = [{"extension": {"cluster": "prod", "team": "acme"}, "name": "ztctl"}]
INSTALL_HINT = (
    "ztctl provides the credentials of this cluster: install it and put it on PATH "
    "(see docs/use-cluster.md)"
)

# (the catalog's credentials, the kubeconfig user ztctl writes for them)
USERS = [
    (
        ClientCertificate(Path("/keys/prod.crt"), Path("/keys/prod.key")),
        {"client-certificate": "/keys/prod.crt", "client-key": "/keys/prod.key", "extensions": EXT},
    ),
    (
        ExecCredential("kubelogin", ("get-token", "--x"), (("A", "1"),)),
        {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "args": ["get-token", "--x"],
                "command": "kubelogin",
                "env": [{"name": "A", "value": "1"}],
                "interactiveMode": "IfAvailable",
                "provideClusterInfo": False,
            },
            "extensions": EXT,
        },
    ),
    (
        ExecCredential("kubelogin", (), ()),
        {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "args": None,
                "command": "kubelogin",
                "env": None,
                "interactiveMode": "IfAvailable",
                "provideClusterInfo": False,
            },
            "extensions": EXT,
        },
    ),
    (
        AccessToken("https://k8s.acme.net"),
        {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "args": ["credential", "prod"],
                "command": "ztctl",
                "env": None,
                "installHint": INSTALL_HINT,
                "interactiveMode": "IfAvailable",
                "provideClusterInfo": False,
            },
            "extensions": EXT,
        },
    ),
]


@pytest.mark.parametrize(("credentials", "user"), USERS)
def test_the_user_entry_for_each_kind_of_credentials(
    tmp_path: Path, credentials: Any, user: dict[str, Any]
) -> None:
    from dataclasses import replace

    cfg = tmp_path / "config"
    merge_cluster(replace(PROD, credentials=credentials), team="acme", kubeconfig=str(cfg))
    doc = yaml.safe_load(cfg.read_text())
    assert entry(doc, "user") == user
    assert entry(doc, "cluster") == {
        "certificate-authority": "/ca/prod.pem",
        "extensions": EXT,
        "server": "https://k8s.acme.net:6443",
    }
    assert entry(doc, "context") == {"cluster": "prod", "extensions": EXT, "user": "prod"}
