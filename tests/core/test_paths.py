"""Where ztctl's files live: the XDG fast path agrees with platformdirs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

from ztctl.core import paths


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fast path is Linux-only")
def test_an_absolute_xdg_directory_is_used_without_platformdirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert paths.default_config_path() == platformdirs.user_config_path("ztctl") / "config.toml"
    assert paths.default_state_dir() == platformdirs.user_state_path("ztctl")
    assert paths.default_state_dir() == tmp_path / "state" / "ztctl"
    code = (
        "import sys; from ztctl.core import paths; paths.default_state_dir(); "
        "paths.default_config_path(); print('platformdirs' in sys.modules)"
    )
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize("value", ["", "relative/dir", "~/state"])
def test_anything_else_is_left_to_platformdirs(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_STATE_HOME", value)
    monkeypatch.setenv("XDG_CONFIG_HOME", value)
    assert paths.default_state_dir() == platformdirs.user_state_path("ztctl")
    assert paths.default_config_path() == platformdirs.user_config_path("ztctl") / "config.toml"


def test_ztctl_state_dir_wins(tmp_path: Path) -> None:
    assert paths.state_dir({"ZTCTL_STATE_DIR": str(tmp_path)}) == tmp_path
