"""Terminal injection (issue 15 item 7): control characters and bidi overrides from the data
never reach the terminal raw, whatever the command prints them through."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ztctl.cli.output import escape_terminal, print_table

HOSTILE = "a\x1b]0;pwned\x07b\x1b[2Jc\x9b31md\u202ee\u2066f\x7fg\x00h"
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\u2066", "\x7f", "\x00")


def test_escape_terminal_makes_every_control_and_bidi_character_visible() -> None:
    shown = escape_terminal(HOSTILE)
    assert not any(c in shown for c in RAW)
    assert "\\x1b]0;pwned\\x07" in shown and "\\u202e" in shown and "\\x9b" in shown
    assert escape_terminal("one\ntwo") == "one\\x0atwo"
    assert escape_terminal("one\ntwo\tx", multiline=True) == "one\ntwo\tx"
    assert escape_terminal("plain: ü, 中文") == "plain: ü, 中文"


def test_tables_escape_their_cells(capsys: pytest.CaptureFixture[str]) -> None:
    print_table(["NAME"], [[HOSTILE]])
    out = capsys.readouterr().out
    assert not any(c in out for c in RAW)


def _ztctl(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ZTCTL_CONFIG": str(tmp_path / "none.toml"),
        "ZTCTL_STATE_DIR": str(tmp_path / "state"),
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
    }
    return subprocess.run(
        [sys.executable, "-m", "ztctl", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


CATALOG = """\
apiVersion: ztctl/v1
kind: ClusterCatalog
team: acme
clusters:
  - name: lab
    server: https://127.0.0.1:6443
    addresses: [127.0.0.1]
    certificateAuthorityData: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
    credentials: {accessToken: {app: https://lab.example}}
"""


def test_a_hostile_kubeconfig_context_name_is_escaped_in_use_cluster_text(
    tmp_path: Path,
) -> None:
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    (tmp_path / "kubeconfig").write_text(
        'apiVersion: v1\nkind: Config\ncurrent-context: "evil\\e]0;pwned\\a\\u202e"\n'
    )
    run = _ztctl(
        tmp_path,
        "--catalog",
        str(tmp_path / "catalog.yaml"),
        "use-cluster",
        "lab",
        "--no-switch",
        "--no-probe",
    )
    assert run.returncode == 0, run.stderr
    assert "evil\\x1b]0;pwned\\x07\\u202e" in run.stdout
    assert not any(c in run.stdout + run.stderr for c in RAW)


def test_a_hostile_value_in_an_error_is_escaped(tmp_path: Path) -> None:
    run = _ztctl(tmp_path, "--catalog", str(tmp_path / "x\x1b]0;pwned\x07.yaml"), "clusters")
    assert run.returncode == 3
    assert "\\x1b]0;pwned\\x07" in run.stderr
    assert not any(c in run.stderr for c in RAW)
