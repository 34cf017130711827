"""Property tests: for random kubeconfig files in random layouts, merging never changes a
foreign entry or unknown field, writes where kubectl would, and is idempotent."""

from __future__ import annotations

import json
import os
import string
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ztctl.core.kubeconfig.files import read_file
from ztctl.core.kubeconfig.model import load_kubeconfig
from ztctl.core.kubeconfig.yamlio import dump_document
from ztctl.core.model import ClientCertificate, Cluster
from ztctl.core.use_cluster import merge_cluster

NAME = "prod-eu"
PROD = Cluster(
    name=NAME,
    server="https://k8s.prod-eu.acme.net:6443",
    addresses=("203.0.113.10",),
    credentials=ClientCertificate(Path("/keys/prod.crt"), Path("/keys/prod.key")),
    certificate_authority=Path("/ca/prod-eu.pem"),
    namespace="default",
)
SERVERS = [
    "https://k8s.prod-eu.acme.net:6443",  # a duplicate: same host and port
    "https://203.0.113.10:6443",  # a duplicate: catalog address
    "https://k8s.prod-eu.acme.net",  # not: other port
    "https://other.example:6443",
    "https://10.1.2.3:443",
]

names = st.text(alphabet=string.ascii_letters + string.digits + "-._:/ é", max_size=12).map(
    lambda s: "x" + s
)
scalars = st.one_of(st.integers(-5, 5), st.booleans(), names, st.none())
extra = st.recursive(
    scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(names, c, max_size=3), max_leaves=6
)


@st.composite
def kubeconfig(draw: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    if draw(st.booleans()):
        doc["apiVersion"] = "v1"
    clusters = draw(st.lists(names, max_size=5, unique=True))
    users = draw(st.lists(names, max_size=4, unique=True))
    contexts = draw(st.lists(names, max_size=5, unique=True))
    doc["clusters"] = [
        {"name": n, "cluster": {"server": draw(st.sampled_from(SERVERS))}} for n in clusters
    ]
    doc["users"] = [{"name": n, "user": {"token": draw(names)}} for n in users]
    doc["contexts"] = [
        {
            "name": n,
            "context": {
                "cluster": draw(st.sampled_from([*clusters, "missing"])),
                "user": draw(st.sampled_from([*users, "missing"])),
            },
        }
        for n in contexts
    ]
    for key in ("clusters", "users", "contexts"):
        if draw(st.booleans()):
            doc[key].sort(key=lambda item: item["name"])
        if not doc[key] and draw(st.booleans()):
            doc[key] = None
    if draw(st.booleans()):
        doc["current-context"] = draw(st.sampled_from([*contexts, ""]))
    if draw(st.booleans()):
        doc["x-unknown"] = draw(extra)
    return doc


class _IndentedDumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)


RENDERERS = {
    "ztctl": lambda d: dump_document(d),
    "pyyaml-block": lambda d: yaml.safe_dump(d, default_flow_style=False, allow_unicode=True),
    "pyyaml-mixed": lambda d: yaml.safe_dump(d, default_flow_style=None),
    "pyyaml-indented": lambda d: yaml.dump(d, Dumper=_IndentedDumper, default_flow_style=False),
    "json": lambda d: json.dumps(d, indent=1),
    "commented": lambda d: "# top\n" + dump_document(d).replace("\n- ", "\n# item\n- "),
}

files_strategy = st.lists(
    st.tuples(st.one_of(st.none(), kubeconfig()), st.sampled_from(sorted(RENDERERS))),
    min_size=1,
    max_size=3,
)


def _foreign(data: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        key: [item for item in (data.get(key) or []) if item.get("name") != NAME]
        for key in ("clusters", "users", "contexts")
    }


def _others(data: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in data.items()
        if k not in ("clusters", "users", "contexts", "current-context", "apiVersion", "kind")
    }


def _setup(directory: Path, files: list[tuple[dict[str, Any] | None, str]]) -> dict[str, str]:
    paths = []
    for index, (doc, renderer) in enumerate(files):
        path = directory / f"f{index}" / "config"
        path.parent.mkdir()
        if doc is not None:
            path.write_text(RENDERERS[renderer](doc))
        paths.append(str(path))
    return {"KUBECONFIG": os.pathsep.join(paths), "HOME": str(directory)}


def _snapshot(env: dict[str, str]) -> dict[str, bytes | None]:
    out = {}
    for path in env["KUBECONFIG"].split(os.pathsep):
        p = Path(path)
        out[path] = p.read_bytes() if p.exists() else None
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files_strategy, st.booleans())
def test_merge_keeps_foreign_entries_and_is_idempotent(
    files: list[tuple[dict[str, Any] | None, str]], switch: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = _setup(Path(tmp), files)
        before = {p: read_file(Path(p)) for p in env["KUBECONFIG"].split(os.pathsep)}
        raw_before = _snapshot(env)
        result = merge_cluster(PROD, team="acme", env=env, switch=switch)
        written = {f.path for f in result.files}
        renderer_of = {
            path: renderer
            for path, (_doc, renderer) in zip(
                env["KUBECONFIG"].split(os.pathsep), files, strict=True
            )
        }
        for change in result.files:
            if renderer_of[change.path] != "json" and not change.created:
                assert change.method == "splice", renderer_of[change.path]
        for path, old in before.items():
            new = read_file(Path(path))
            if path not in written:
                assert _snapshot(env)[path] == raw_before[path]
                continue
            assert _foreign(new.data) == _foreign(old.data)  # same entries, same order
            assert _others(new.data) == _others(old.data)
        kc = load_kubeconfig(None, env)
        for kind in ("cluster", "user", "context"):
            assert kc.entry(kind, NAME) is not None and kc.entry(kind, NAME).owned  # type: ignore[union-attr]
        if switch:
            assert kc.current_context == NAME
        snapshot = _snapshot(env)
        again = merge_cluster(PROD, team="acme", env=env, switch=switch)
        assert again.files == () and again.changes == ()
        assert _snapshot(env) == snapshot


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files_strategy)
def test_pruning_removes_only_duplicates(files: list[tuple[dict[str, Any] | None, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = _setup(Path(tmp), files)
        result = merge_cluster(PROD, team="acme", env=env, prune_duplicates=True)
        removed = {(d.kind, d.name, d.file) for d in result.duplicates}
        assert all(d.removed for d in result.duplicates)
        kc = load_kubeconfig(None, env)
        for entry in kc.entries:
            assert (entry.kind, entry.name, str(entry.origin)) not in removed
            if entry.kind == "cluster" and entry.name != NAME:
                assert entry.server not in SERVERS[:2]
        again = merge_cluster(PROD, team="acme", env=env, prune_duplicates=True)
        assert again.files == () and again.duplicates == ()
