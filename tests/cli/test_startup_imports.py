"""`ztctl --version` and `--help` must stay fast: no heavy imports on their path."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("httpx", "kubernetes", "keyring", "ztctl.lab", "rich", "cryptography", "yaml")

PROBE = """
import json, sys
from ztctl.cli.main import main
try:
    main({args!r})
except SystemExit:
    pass
sys.__stderr__.write(json.dumps(sorted(sys.modules)))
"""


def loaded_modules(args: list[str]) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(result.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("args", [["--version"], ["--help"]])
def test_no_heavy_imports(args: list[str]) -> None:
    modules = loaded_modules(args)
    assert "ztctl.cli.main" in modules  # the probe really ran ztctl
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith("ztctl.lab"))
    assert heavy == []
