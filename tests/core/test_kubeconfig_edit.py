"""Splicing: only the changed entries' text changes; everything else keeps its bytes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ztctl.core.kubeconfig.edit import EditedFile, FileEditor
from ztctl.core.kubeconfig.files import parse_file

NEW_CLUSTER = {"cluster": {"server": "https://new:6443"}, "name": "m-new"}
NEW_USER = {"name": "m-new", "user": {"token": "t"}}

KUBECTL_STYLE = """\
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: eA==
    server: https://a:6443
  name: a-first
- cluster:
    server: https://z:6443 # the z cluster
  name: z-last
contexts:
- context:
    cluster: a-first
    user: a-first
  name: a-first
current-context: a-first
kind: Config
preferences: {}
users:
- name: a-first
  user:
    token: secret
"""


def edit(text: str | bytes, path: Path = Path("/k/config"), **ops: Any) -> EditedFile | None:
    raw = text.encode() if isinstance(text, str) else text
    editor = FileEditor(parse_file(path, raw))
    for key, item in ops.get("add", ()):
        editor.add_item(key, item)
    for key, index, item in ops.get("replace", ()):
        editor.replace_item(key, index, item)
    for key, index in ops.get("remove", ()):
        editor.remove_item(key, index)
    for key, value in ops.get("scalars", ()):
        editor.set_scalar(key, value)
    return editor.build()


def removed_lines(old: str, new: str) -> list[str]:
    """Lines of ``old`` that ``new`` no longer has (multiset difference)."""
    remaining = new.splitlines()
    gone = []
    for line in old.splitlines():
        if line in remaining:
            remaining.remove(line)
        else:
            gone.append(line)
    return gone


def test_adding_touches_no_existing_byte_and_keeps_kubectl_order() -> None:
    result = edit(KUBECTL_STYLE, add=[("clusters", NEW_CLUSTER), ("users", NEW_USER)])
    assert result is not None and result.method == "splice"
    assert removed_lines(KUBECTL_STYLE, result.text) == []
    # kubectl keeps lists sorted by name: the new cluster lands between a-first and z-last
    text = result.text
    assert text.index("name: a-first") < text.index("name: m-new") < text.index("name: z-last")
    assert "server: https://z:6443 # the z cluster" in text
    assert result.data["clusters"][1] == NEW_CLUSTER


def test_replace_and_remove_touch_only_their_items() -> None:
    new_a = {"cluster": {"server": "https://a2:6443"}, "name": "a-first"}
    result = edit(
        KUBECTL_STYLE,
        replace=[("clusters", 0, new_a)],
        remove=[("users", 0)],
        scalars=[("current-context", "z-last")],
    )
    assert result is not None and result.method == "splice"
    assert removed_lines(KUBECTL_STYLE, result.text) == [
        "    certificate-authority-data: eA==",
        "    server: https://a:6443",
        "current-context: a-first",
        "users:",
        "- name: a-first",
        "  user:",
        "    token: secret",
    ]
    assert "users: []" in result.text
    assert result.data["current-context"] == "z-last"


def test_unsorted_lists_get_new_items_at_the_end() -> None:
    text = "clusters:\n- name: b\n  cluster: {}\n- name: a\n  cluster: {}\n"
    result = edit(text, add=[("clusters", NEW_CLUSTER)])
    assert result is not None
    assert [c["name"] for c in result.data["clusters"]] == ["b", "a", "m-new"]
    assert result.text.startswith(text)


def test_indented_sequences_keep_their_indentation() -> None:
    text = "clusters:\n  - name: a\n    cluster:\n      server: https://a\n"
    result = edit(text, add=[("clusters", NEW_CLUSTER)])
    assert result is not None and result.method == "splice"
    assert result.text == text + "  - cluster:\n      server: https://new:6443\n    name: m-new\n"


def test_comments_everywhere_survive() -> None:
    text = """\
# Managed by hand. Do not reorder.
apiVersion: v1   # v1 only
clusters:        # the clusters
# a comment between items
- name: a
  cluster:
    server: https://a   # trailing
    # inside a
contexts: []
current-context: a  # the one I use
"""
    result = edit(text, add=[("clusters", NEW_CLUSTER)], scalars=[("current-context", "m-new")])
    assert result is not None and result.method == "splice"
    assert removed_lines(text, result.text) == ["current-context: a  # the one I use"]
    assert "current-context: m-new  # the one I use" in result.text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("current-context:\n", "current-context: m-new\n"),
        ('current-context: ""\n', "current-context: m-new\n"),
        ("current-context: 'old'\n", "current-context: m-new\n"),
        ("current-context: null\n", "current-context: m-new\n"),
    ],
)
def test_current_context_forms(line: str, expected: str) -> None:
    result = edit("kind: Config\n" + line + "users: []\n", scalars=[("current-context", "m-new")])
    assert result is not None
    assert result.text == "kind: Config\n" + expected + "users: []\n"


def test_missing_keys_are_appended() -> None:
    text = "apiVersion: v1\nkind: Config\n"
    result = edit(text, add=[("clusters", NEW_CLUSTER)], scalars=[("current-context", "m-new")])
    assert result is not None
    assert result.text == (
        text + "clusters:\n- cluster:\n    server: https://new:6443\n  name: m-new\n"
        "current-context: m-new\n"
    )


def test_no_trailing_newline() -> None:
    text = "apiVersion: v1\nclusters:\n- name: a\n  cluster: {}"
    result = edit(text, add=[("clusters", NEW_CLUSTER)])
    assert result is not None and result.method == "splice"
    assert result.text.startswith(text + "\n")


def test_null_and_flow_lists_are_replaced_as_a_whole_pair() -> None:
    text = "clusters:\nusers: [{name: u, user: {token: x}}]   # flow\nkind: Config\n"
    result = edit(text, add=[("clusters", NEW_CLUSTER), ("users", NEW_USER)])
    assert result is not None and result.method == "splice"
    assert result.text.endswith("kind: Config\n")
    assert result.data["users"] == [NEW_USER, {"name": "u", "user": {"token": "x"}}] or result.data[
        "users"
    ] == [{"name": "u", "user": {"token": "x"}}, NEW_USER]


def test_crlf_and_bom_are_kept(tmp_path: Path) -> None:
    text = "\ufeffapiVersion: v1\r\nclusters:\r\n- name: a\r\n  cluster: {}\r\nkind: Config\r\n"
    result = edit(text.encode("utf-8"), add=[("clusters", NEW_CLUSTER)])
    assert result is not None and result.method == "splice"
    body = result.text
    assert "\n" not in body.replace("\r\n", "")
    assert result.content.startswith(b"\xef\xbb\xbf")


def test_empty_and_comment_only_files() -> None:
    result = edit("", add=[("clusters", NEW_CLUSTER)], scalars=[("current-context", "m-new")])
    assert result is not None
    assert result.text == (
        "clusters:\n- cluster:\n    server: https://new:6443\n  name: m-new\n"
        "current-context: m-new\n"
    )
    result = edit("# nothing yet\n", add=[("clusters", NEW_CLUSTER)])
    assert result is not None and result.text.startswith("# nothing yet\nclusters:\n")


def test_anchors_fall_back_to_a_faithful_rewrite() -> None:
    text = (
        "clusters:\n- name: a\n  cluster: &shared {server: https://s}\n"
        "- name: b\n  cluster: *shared\n"
    )
    result = edit(text, remove=[("clusters", 0)])
    assert result is not None
    assert result.method == "rewrite"  # splicing would leave *shared dangling
    assert result.data == {"clusters": [{"name": "b", "cluster": {"server": "https://s"}}]}


def test_flow_style_root_falls_back_to_rewrite() -> None:
    result = edit('{"apiVersion": "v1", "clusters": []}', add=[("clusters", NEW_CLUSTER)])
    assert result is not None and result.method == "rewrite"
    assert result.data == {"apiVersion": "v1", "clusters": [NEW_CLUSTER]}


def test_no_change_means_no_result() -> None:
    assert edit(KUBECTL_STYLE, scalars=[("current-context", "a-first")]) is None
    same = {
        "cluster": {"certificate-authority-data": "eA==", "server": "https://a:6443"},
        "name": "a-first",
    }
    assert edit(KUBECTL_STYLE, replace=[("clusters", 0, same)]) is None


@pytest.mark.skipif(shutil.which("patch") is None, reason="patch not installed")
@pytest.mark.parametrize(
    "ops",
    [
        {"add": [("clusters", NEW_CLUSTER)], "scalars": [("current-context", "m-new")]},
        {"remove": [("clusters", 0), ("users", 0)], "add": [("users", NEW_USER)]},
        {"remove": [("clusters", 1)]},
    ],
)
def test_diff_applies_with_patch(tmp_path: Path, ops: dict[str, Any]) -> None:
    target = tmp_path / "config"
    target.write_text(KUBECTL_STYLE)
    result = edit(KUBECTL_STYLE, path=target, **ops)
    assert result is not None
    patch = result.diff()
    assert patch.startswith(f"--- a{target}\n+++ b{target}\n")
    subprocess.run(
        ["patch", "-s", "-p0", str(target)], input=patch, text=True, check=True, timeout=30
    )
    assert target.read_text() == result.text


def test_diff_of_a_new_file_is_from_dev_null(tmp_path: Path) -> None:
    from ztctl.core.kubeconfig.files import read_file

    editor = FileEditor(read_file(tmp_path / "config"))
    editor.add_item("clusters", NEW_CLUSTER)
    result = editor.build()
    assert result is not None
    assert result.diff().startswith("--- /dev/null\n")
