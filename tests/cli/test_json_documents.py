"""Every --json document: camelCase keys everywhere, and each command documented."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.access import AccessEnv, access_fixture  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")
# Objects whose keys are data, not field names: tool names, environment variable names,
# Cloudflare API permission groups (`zero-trust`).
DATA_MAPS = {"tools", "env", "settingsSources", "permissions"}


def keys(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield path, key
            if key not in DATA_MAPS:
                yield from keys(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for inner in value:
            yield from keys(inner, f"{path}[]")


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["clusters"],
        ["config", "show"],
        ["config", "path"],
        ["version"],
        ["probe", "lab"],
        ["doctor", "lab"],
        ["use-cluster", "lab", "--dry-run"],
        ["break-glass", "status"],
        ["lab", "status"],
        ["logout"],
    ],
    ids=" ".join,
)
def test_json_keys_are_camel_case(access: AccessEnv, args: list[str]) -> None:
    access.put("lab-sso", access.mint())
    result = access.run([*args, "--json"])
    document = json.loads(result.stdout)
    assert "error" not in document, document
    bad = [f"{where}.{key}" for where, key in keys(document) if not CAMEL.match(key)]
    assert bad == [], bad


def test_every_json_command_is_documented() -> None:
    from ztctl.cli.main import COMMANDS

    doc = (REPO / "docs" / "json-output.md").read_text(encoding="utf-8")
    for name, module in COMMANDS.items():
        source = (REPO / "ztctl" / "cli" / "commands" / f"{module}.py").read_text()
        if "@json_option" in source:
            assert f"## `ztctl {name}" in doc, f"docs/json-output.md lacks `ztctl {name} --json`"
