"""The explicit command table, global options after the subcommand, usage errors."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys

import click
import pytest

import ztctl.cli.commands as commands_pkg
from ztctl.cli.main import COMMANDS, hoist_global_options

ZTCTL = [sys.executable, "-m", "ztctl"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ZTCTL, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_every_command_module_is_registered_and_defines_its_command() -> None:
    on_disk = {
        info.name
        for info in pkgutil.iter_modules(commands_pkg.__path__)
        if not info.name.startswith("_")
    }
    assert set(COMMANDS.values()) == on_disk
    for name, module_name in COMMANDS.items():
        command = importlib.import_module(f"ztctl.cli.commands.{module_name}").command
        assert isinstance(command, click.Command)
        assert command.name == name


def test_commands_are_found_without_listing_the_directory(tmp_path, monkeypatch) -> None:
    """A zipapp has no directory to list: the table alone must be enough."""
    import os

    from ztctl.cli.main import cli

    def no_listing(*_a: object, **_k: object) -> list[str]:
        raise AssertionError("commands must not be discovered from the file system")

    monkeypatch.setattr(os, "listdir", no_listing)
    monkeypatch.setattr(os, "scandir", no_listing)
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    assert cli.get_command(ctx, "use-cluster") is not None


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["login", "--no-input"], ["--no-input", "login"]),
        (["probe", "lab", "--no-color", "-v"], ["--no-color", "-v", "probe", "lab"]),
        (["clusters", "--config", "c.toml"], ["--config", "c.toml", "clusters"]),
        (["clusters", "--catalog=x.yaml", "-vv"], ["--catalog=x.yaml", "-vv", "clusters"]),
        (["config", "get", "team", "-q"], ["-q", "config", "get", "team"]),
        # The subcommand's own options keep their values, even one that looks global.
        (
            ["break-glass", "start", "lab", "--reason", "-v", "--no-input"],
            ["--no-input", "break-glass", "start", "lab", "--reason", "-v"],
        ),
        # Nothing after `--`, nor after exec's first argument, is ztctl's.
        (["break-glass", "exec", "lab", "--", "kubectl", "-v", "9"], None),
        (["break-glass", "exec", "lab", "kubectl", "-q"], None),
        (["--quiet", "clusters"], None),
        (["nosuch", "-v"], None),
    ],
)
def test_hoist_global_options(given: list[str], expected: list[str] | None) -> None:
    assert hoist_global_options(given) == (given if expected is None else expected)


def test_global_option_after_the_subcommand_takes_effect(tmp_path) -> None:
    config = tmp_path / "after.toml"
    result = run("config", "path", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{config}\n"


def test_usage_error_is_two_lines_error_and_fix() -> None:
    result = run("config", "show", "--bogus")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: No such option '--bogus'.",
        "fix: see `ztctl config show --help`",
    ]
    as_json = run("config", "show", "--bogus", "--json")
    assert as_json.returncode == 2
    error = json.loads(as_json.stdout)["error"]
    assert error["kind"] == "usage"
    assert error["fix"] == "see `ztctl config show --help`"


def test_version_command_reports_ztctl_python_and_tools(tmp_path) -> None:
    from ztctl import __version__

    fake = tmp_path / "bin"
    fake.mkdir()
    warp = fake / "warp-cli"
    warp.write_text("#!/bin/sh\necho 'warp-cli 2025.9.558.0'\n")
    warp.chmod(0o755)
    env = {"PATH": f"{fake}", "HOME": str(tmp_path), "ZTCTL_CONFIG": str(tmp_path / "n.toml")}
    result = run("version", "--json", env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["ztctl"] == __version__
    assert document["python"] == ".".join(map(str, sys.version_info[:3]))
    assert document["tools"]["warp-cli"] == {"path": str(warp), "version": "2025.9.558.0"}
    assert document["tools"]["cloudflared"] == {"path": None, "version": None}
    text = run("version", env=env)
    assert "2025.9.558.0" in text.stdout
    assert "not found" in text.stdout


def test_kubectl_client_version_is_parsed() -> None:
    from ztctl.adapters.toolversions import parse_version

    text = "Client Version: v1.32.4\nKustomize Version: v5.5.0\n"
    assert parse_version("kubectl", text) == "1.32.4"
    assert parse_version("cloudflared", "cloudflared version 2024.6.1 (built 2024-06)") == (
        "2024.6.1"
    )


def test_an_unexpected_error_is_one_line_and_the_traceback_needs_vv(tmp_path) -> None:
    """A bug in ztctl: `error:`/`fix:` and exit 1; -vv adds the traceback (-v does not)."""
    import os

    # Stand in for a bug: a sitecustomize makes the catalog loader raise something ztctl
    # does not expect.
    hook = tmp_path / "sitecustomize.py"
    hook.write_text(
        "import ztctl.core.catalog as c\n"
        "def boom(*a, **k):\n    raise RuntimeError('kaboom')\n"
        "c.load_catalog = boom\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": f"{tmp_path}:{os.environ.get('PYTHONPATH', '')}",
        "ZTCTL_CATALOG": str(tmp_path / "c.yaml"),
    }
    plain = run("clusters", "-v", env=env)
    assert plain.returncode == 1
    assert plain.stderr.splitlines()[0] == "error: internal error: RuntimeError: kaboom"
    assert "Traceback" not in plain.stderr
    loud = run("clusters", "-vv", env=env)
    assert loud.returncode == 1 and "Traceback" in loud.stderr
    as_json = run("clusters", "--json", env=env)
    assert json.loads(as_json.stdout)["error"]["message"].startswith("internal error")
