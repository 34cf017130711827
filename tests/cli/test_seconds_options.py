"""Non-finite seconds (issue 15, low): `nan`/`inf` are usage errors (exit 2, a JSON error under
--json), never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from ztctl.cli.params import Seconds


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN", "1e400", "abc", "-1", "700"])
def test_seconds_refuses_non_finite_and_out_of_range_values(value: str) -> None:
    with pytest.raises(click.BadParameter):
        Seconds(0.05, 600).convert(value, None, None)


def test_seconds_accepts_a_finite_value_in_range() -> None:
    assert Seconds(0.05, 600).convert("2.5", None, None) == 2.5


@pytest.mark.parametrize(
    "args",
    [
        ["probe", "lab", "--timeout", "nan"],
        ["probe", "lab", "--timeout", "inf"],
        ["probe", "lab", "--count", "2", "--interval", "inf"],
        ["break-glass", "start", "lab", "--reason", "INC-1: test", "--timeout", "nan"],
        ["doctor", "--timeout", "nan"],
        ["catalog", "check", "--timeout", "nan"],
        ["catalog", "check", "--timeout", "inf"],
    ],
)
def test_commands_refuse_non_finite_seconds_with_exit_2(args: list[str], tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ZTCTL_CONFIG": str(tmp_path / "none.toml"),
        "ZTCTL_STATE_DIR": str(tmp_path / "state"),
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
    }
    run = subprocess.run(
        [sys.executable, "-m", "ztctl", *args, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    assert json.loads(run.stdout)["error"]["code"] == 2
