"""Loading like client-go: which files, first-wins merging, origins, relative paths."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest

from ztctl.core.kubeconfig.files import precedence
from ztctl.core.kubeconfig.model import load_kubeconfig
from ztctl.core.model import Catalog, ClientCertificate, Cluster
from ztctl.errors import InvalidInput


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- which files ---------------------------------------------------------------------------


def test_explicit_file_wins_over_kubeconfig(tmp_path: Path) -> None:
    prec = precedence(str(tmp_path / "x"), {"KUBECONFIG": "/a:/b", "HOME": "/home/u"})
    assert prec.paths == (tmp_path / "x",)
    assert prec.explicit


def test_kubeconfig_list_is_split_deduplicated_and_skips_empty(tmp_path: Path) -> None:
    env = {"KUBECONFIG": os.pathsep.join(["/a", "", "/b", "/a", "/c", ""]), "HOME": "/h"}
    assert precedence(None, env).paths == (Path("/a"), Path("/b"), Path("/c"))


def test_empty_kubeconfig_counts_as_unset() -> None:
    prec = precedence(None, {"KUBECONFIG": "", "HOME": "/home/u"})
    assert prec.paths == (Path("/home/u/.kube/config"),)
    assert prec.source == "default"


def test_relative_elements_resolve_against_cwd_and_tilde_is_literal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    prec = precedence(None, {"KUBECONFIG": "rel/config:~/x", "HOME": "/h"})
    assert prec.paths == (tmp_path / "rel" / "config", tmp_path / "~" / "x")


# --- merging ---------------------------------------------------------------------------------


A = """\
clusters:
- name: shared
  cluster: {server: https://from-a, certificate-authority: ca.pem, proxy-url: http://p:3128}
users:
- name: u1
  user: {client-certificate: certs/u.crt, client-key: ../u.key, tokenFile: tok,
         exec: {command: ./bin/plugin, apiVersion: client.authentication.k8s.io/v1}}
- name: u2
  user: {exec: {command: aws, apiVersion: client.authentication.k8s.io/v1}}
contexts:
- name: ctx
  context: {cluster: shared, user: u1}
current-context: ""
"""
B = """\
clusters:
- name: shared
  cluster: {server: https://from-b, insecure-skip-tls-verify: true}
- name: only-b
  cluster: {server: https://b}
current-context: from-b
"""
C = "current-context: from-c\n"


def test_first_file_wins_whole_entry_and_first_non_empty_current_context(tmp_path: Path) -> None:
    a = write(tmp_path / "a" / "config", A)
    b = write(tmp_path / "b" / "config", B)
    c = write(tmp_path / "c" / "config", C)
    kc = load_kubeconfig(None, {"KUBECONFIG": f"{a}:{b}:{c}:{tmp_path / 'missing'}"})
    shared = kc.clusters["shared"]
    assert shared.origin == a
    assert shared.body == {
        "server": "https://from-a",
        "certificate-authority": "ca.pem",
        "proxy-url": "http://p:3128",
    }  # no field of b's entry leaks in
    assert kc.clusters["only-b"].origin == b
    assert kc.current_context == "from-b"
    assert kc.current_context_file == b
    assert [f.exists for f in kc.files] == [True, True, True, False]
    shadowed = [e for e in kc.entries if e.name == "shared"]
    assert [e.origin for e in shadowed] == [a, b]


def test_relative_paths_resolve_against_the_defining_file_only_for_client_go_fields(
    tmp_path: Path,
) -> None:
    a = write(tmp_path / "a" / "config", A)
    kc = load_kubeconfig(str(a), {})
    cluster = kc.clusters["shared"].resolved()
    assert cluster["certificate-authority"] == str(tmp_path / "a" / "ca.pem")
    assert cluster["proxy-url"] == "http://p:3128"
    u1 = kc.users["u1"].resolved()
    assert u1["client-certificate"] == str(tmp_path / "a" / "certs" / "u.crt")
    assert u1["client-key"] == str(tmp_path / "u.key")  # cleaned, like Go filepath.Join
    assert u1["tokenFile"] == str(tmp_path / "a" / "tok")
    assert u1["exec"]["command"] == str(tmp_path / "a" / "bin" / "plugin")
    assert kc.users["u2"].resolved()["exec"]["command"] == "aws"
    # the raw body is untouched
    assert kc.users["u1"].body["client-certificate"] == "certs/u.crt"


def test_resolution_matches_kubectl_flatten(tmp_path: Path, kubectl: str) -> None:
    """kubectl --flatten inlines the files it resolves; ours must name the same files."""
    a = write(
        tmp_path / "a" / "config",
        "clusters:\n- name: c\n  cluster: {server: https://x, certificate-authority: ca.pem}\n"
        "users:\n- name: u\n  user: {client-certificate: sub/u.crt, client-key: u.key}\n"
        "contexts:\n- name: x\n  context: {cluster: c, user: u}\n",
    )
    b = write(tmp_path / "b" / "config", "current-context: x\n")
    write(tmp_path / "a" / "ca.pem", "CA of a\n")
    write(tmp_path / "a" / "sub" / "u.crt", "cert of a\n")
    write(tmp_path / "a" / "u.key", "key of a\n")
    write(tmp_path / "b" / "ca.pem", "CA of b (wrong)\n")
    env = {**os.environ, "KUBECONFIG": f"{b}:{a}"}
    proc = subprocess.run(
        [kubectl, "config", "view", "--flatten", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    flat = json.loads(proc.stdout)
    kc = load_kubeconfig(None, env)

    def data(path: str) -> str:
        return base64.b64encode(Path(path).read_bytes()).decode()

    assert flat["clusters"][0]["cluster"]["certificate-authority-data"] == data(
        kc.clusters["c"].resolved()["certificate-authority"]
    )
    user = kc.users["u"].resolved()
    assert flat["users"][0]["user"]["client-certificate-data"] == data(user["client-certificate"])
    assert flat["users"][0]["user"]["client-key-data"] == data(user["client-key"])


def test_merge_matches_kubectl_config_view(tmp_path: Path, kubectl: str) -> None:
    a = write(tmp_path / "a" / "config", A)
    b = write(tmp_path / "b" / "config", B)
    c = write(tmp_path / "c" / "config", C)
    env = {**os.environ, "KUBECONFIG": f"{a}:{b}:{c}"}
    proc = subprocess.run(
        [kubectl, "config", "view", "--raw", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    view = json.loads(proc.stdout)
    kc = load_kubeconfig(None, env)
    assert view["current-context"] == kc.current_context
    assert {c["name"]: c["cluster"]["server"] for c in view["clusters"]} == {
        name: e.server for name, e in kc.clusters.items()
    }
    assert sorted(u["name"] for u in view["users"]) == sorted(kc.users)
    assert sorted(c["name"] for c in view["contexts"]) == sorted(kc.contexts)


def test_python_client_disagrees_on_current_context(tmp_path: Path) -> None:
    """kubernetes-client/python: the last file with the key wins; client-go: the first."""
    from kubernetes import config as kconfig

    body = "clusters: [{name: c, cluster: {server: 'https://x'}}]\nusers: [{name: u, user: {}}]\n"
    a = write(
        tmp_path / "a",
        body + "current-context: first\ncontexts:\n"
        "- {name: first, context: {cluster: c, user: u}}\n",
    )
    b = write(
        tmp_path / "b",
        body + "current-context: second\ncontexts:\n"
        "- {name: second, context: {cluster: c, user: u}}\n",
    )
    files = f"{a}{os.pathsep}{b}"
    _contexts, active = kconfig.list_kube_config_contexts(config_file=files)
    assert active["name"] == "second"
    assert load_kubeconfig(None, {"KUBECONFIG": files}).current_context == "first"


def test_context_entries_and_catalog_cluster(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "config",
        """\
clusters:
- name: mine
  cluster:
    server: https://k8s.prod.acme.net:6443
    extensions: [{name: ztctl, extension: {cluster: prod}}]
- name: gke_x
  cluster: {server: "https://203.0.113.10:6443"}
users: [{name: u, user: {}}]
contexts:
- {name: mine, context: {cluster: mine, user: u}}
- {name: gke, context: {cluster: gke_x, user: u}}
- {name: other, context: {cluster: nowhere, user: u}}
current-context: gke
""",
    )
    prod = Cluster(
        name="prod",
        server="https://k8s.prod.acme.net:6443",
        addresses=("203.0.113.10",),
        credentials=ClientCertificate(Path("/c"), Path("/k")),
        certificate_authority_data="eA==",
    )
    catalog = Catalog(team="acme", clusters=(prod,), source="test")
    kc = load_kubeconfig(str(cfg), {})
    ctx, cluster, user = kc.context_entries()
    assert (ctx.name, cluster.name, user.name) == ("gke", "gke_x", "u")  # type: ignore[union-attr]
    assert kc.catalog_cluster(catalog) == prod  # by address and port
    assert kc.catalog_cluster(catalog, "mine") == prod  # by ztctl's extension
    assert kc.catalog_cluster(catalog, "other") is None
    assert kc.context_entries("absent") == (None, None, None)


# --- files kubectl would refuse ------------------------------------------------------------


def test_missing_files_are_empty_configs(tmp_path: Path) -> None:
    kc = load_kubeconfig(str(tmp_path / "nope"), {})
    assert kc.files[0].exists is False
    assert kc.current_context == ""


def test_zero_byte_file_is_an_empty_config_like_client_go(tmp_path: Path) -> None:
    cfg = write(tmp_path / "config", "")
    kc = load_kubeconfig(str(cfg), {})
    assert kc.files[0].exists and kc.files[0].data == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"clusters: [\n", "not valid YAML at line"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "not valid YAML"),
        (b"\xff\xfe\x00\x00garbage", "not UTF-8"),
        (b"clusters:\n- {name: a}\n- {name: a}\n", "duplicate name 'a' in clusters"),
        (b"current-context: [x]\n", "must be a string"),
    ],
)
def test_malformed_files_are_invalid_input(tmp_path: Path, content: bytes, message: str) -> None:
    cfg = tmp_path / "config"
    cfg.write_bytes(content)
    with pytest.raises(InvalidInput) as info:
        load_kubeconfig(None, {"KUBECONFIG": f"{tmp_path / 'other'}:{cfg}"})
    assert message in info.value.message
    assert str(cfg) in info.value.message
    assert "nothing was written" in info.value.fix


def test_dangling_symlink_and_directory_are_invalid_input(tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "gone")
    with pytest.raises(InvalidInput, match=r"symbolic link to .*gone, which does not exist"):
        load_kubeconfig(str(link), {})
    (tmp_path / "dir").mkdir()
    with pytest.raises(InvalidInput, match="is a directory"):
        load_kubeconfig(str(tmp_path / "dir"), {})


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a mode-000 file")
def test_unreadable_file_is_invalid_input(tmp_path: Path) -> None:
    cfg = write(tmp_path / "config", "current-context: x\n")
    cfg.chmod(0)
    with pytest.raises(InvalidInput, match="permission denied"):
        load_kubeconfig(str(cfg), {})
