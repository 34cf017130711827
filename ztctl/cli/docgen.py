"""Generate docs/commands.md and completions/ from the click tree.

python -m ztctl.cli.docgen           # rewrite both
python -m ztctl.cli.docgen --check   # exit 1 when either is stale (the tests do this)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[2]
COMMANDS_MD = ROOT / "docs" / "commands.md"
COMPLETIONS = ROOT / "completions"
HELP_NAMES = ["-h", "--help"]
COMPLETION_FILES = {"bash": "ztctl.bash", "zsh": "_ztctl", "fish": "ztctl.fish"}


def walk(
    command: click.Command, path: tuple[str, ...] = ("ztctl",)
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        ctx = click.Context(command, info_name=path[-1])
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from walk(sub, (*path, name))


def help_text(path: tuple[str, ...], command: click.Command) -> str:
    parent: click.Context | None = None
    for name in path[:-1]:
        parent = click.Context(
            click.Command(name), info_name=name, parent=parent, help_option_names=HELP_NAMES
        )
    ctx = click.Context(
        command,
        info_name=path[-1],
        parent=parent,
        terminal_width=100,
        max_content_width=100,
        help_option_names=HELP_NAMES,
    )
    return command.get_help(ctx)


def commands_markdown() -> str:
    from ztctl.cli.main import cli

    out = [
        "# Command reference",
        "",
        "Generated from `--help` by `python -m ztctl.cli.docgen`; do not edit by hand.",
        "",
    ]
    for path, command in walk(cli):
        out += [f"## `{' '.join(path)}`", "", "```", help_text(path, command).rstrip(), "```", ""]
    return "\n".join(out)


def completion_scripts() -> dict[Path, str]:
    from ztctl.cli.commands.completion import completion_script

    return {
        COMPLETIONS / name: completion_script(shell) for shell, name in COMPLETION_FILES.items()
    }


def expected_files() -> dict[Path, str]:
    return {COMMANDS_MD: commands_markdown(), **completion_scripts()}


def stale_files() -> list[Path]:
    stale = []
    for path, content in expected_files().items():
        try:
            current = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        if current != content:
            stale.append(path)
    return stale


def main(argv: list[str]) -> int:
    if "--check" in argv:
        stale = stale_files()
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)} (run `python -m ztctl.cli.docgen`)")
        return 1 if stale else 0
    for path, content in expected_files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
