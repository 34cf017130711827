"""Walk the click tree: every command documented the same way."""

from __future__ import annotations

import click

from ztctl.cli.docgen import walk
from ztctl.cli.main import cli


def all_commands() -> list[tuple[tuple[str, ...], click.Command]]:
    return list(walk(cli))


def test_tree_has_the_foundation_commands() -> None:
    names = {" ".join(path) for path, _ in all_commands()}
    assert {"ztctl", "ztctl clusters", "ztctl completion"} <= names


def test_every_command_has_help_starting_with_a_capital_and_no_trailing_period() -> None:
    for path, command in all_commands():
        short = command.get_short_help_str(limit=200)
        assert short, f"{' '.join(path)} has no help"
        assert short[0].isupper(), f"{' '.join(path)}: help should start with a capital"
        assert not short.endswith("."), f"{' '.join(path)}: help should not end with a period"


def test_every_option_has_help() -> None:
    for path, command in all_commands():
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help, f"{' '.join(path)} {param.opts} has no help"


def test_reporting_commands_accept_json() -> None:
    # Every command that reports something accepts --json (docs/json-output.md).
    exempt = {
        "ztctl",
        "ztctl completion",
        "ztctl credential",
        "ztctl lab",
        "ztctl break-glass",
        "ztctl break-glass exec",
        "ztctl break-glass shell",
        "ztctl lab demo",
    }
    for path, command in all_commands():
        name = " ".join(path)
        if name in exempt or isinstance(command, click.Group):
            continue
        opts = {o for p in command.params for o in getattr(p, "opts", [])}
        assert "--json" in opts, f"{name} reports something but has no --json"
