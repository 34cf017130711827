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

from ztctl.core.model import ClientCertificate, Cluster
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
