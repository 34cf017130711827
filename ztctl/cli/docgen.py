"""Generate docs/commands.md, the man page docs/man/ztctl.1 and completions/ from the click tree.

python -m ztctl.cli.docgen           # rewrite both
python -m ztctl.cli.docgen --check   # exit 1 when either is stale (the tests do this)
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[2]
COMMANDS_MD = ROOT / "docs" / "commands.md"
COMPLETIONS = ROOT / "completions"
HELP_NAMES = ["-h", "--help"]
COMPLETION_FILES = {"bash": "ztctl.bash", "zsh": "_ztctl", "fish": "ztctl.fish"}
MAN_PAGE = ROOT / "docs" / "man" / "ztctl.1"


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


def _roff(text: str) -> str:
    """Escape text for roff: backslashes, and a leading dot or quote on a line."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(
        ("\\&" + line) if line.startswith((".", "'")) else line for line in text.splitlines()
    )


def _option_rows(command: click.Command, ctx: click.Context) -> list[tuple[str, str]]:
    rows = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
        if record is not None:
            rows.append(record)
    return rows


def man_page() -> str:
    """docs/man/ztctl.1: the same tree as commands.md, as a man page (no date: reproducible)."""
    from ztctl import __version__
    from ztctl.cli.main import cli

    root_ctx = click.Context(cli, info_name="ztctl", help_option_names=HELP_NAMES)
    out = [
        f'.TH ZTCTL 1 "" "ztctl {__version__}" "User Commands"',
        ".SH NAME",
        "ztctl \\- " + _roff(cli.help or "").splitlines()[0],
        ".SH SYNOPSIS",
        ".B ztctl",
        "[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".SH DESCRIPTION",
        "ztctl enrols the device in a Cloudflare Zero Trust team with WARP, keeps Access tokens "
        "in the OS keyring, writes the kubeconfig entries kubectl needs, diagnoses why a "
        "cluster cannot be reached, and opens an audited break\\-glass route when Zero Trust "
        "itself is down. Global options are accepted before or after the command.",
        ".SH GLOBAL OPTIONS",
    ]
    for names, text in _option_rows(cli, root_ctx):
        out += [".TP", f"\\fB{_roff(names)}\\fR", _roff(text)]
    out.append(".SH COMMANDS")
    for path, command in walk(cli):
        if len(path) == 1 or isinstance(command, click.Group):
            continue
        ctx = click.Context(command, info_name=path[-1], help_option_names=HELP_NAMES)
        usage = " ".join(command.collect_usage_pieces(ctx))
        out += [".SS " + _roff(" ".join(path[1:])), f".B {_roff(' '.join(path))}"]
        if usage:
            out[-1] += " " + _roff(usage)
        text = "\n".join(  # click's \b (do not rewrap) means nothing in .nf
            line for line in inspect.cleandoc(command.help or "").splitlines() if line != "\b"
        )
        out += [".PP", ".nf", _roff(text), ".fi"]
        rows = [row for row in _option_rows(command, ctx) if not row[0].startswith("-h")]
        for names, text in rows:
            out += [".TP", f"\\fB{_roff(names)}\\fR", _roff(text)]
    out += [
        ".SH EXIT STATUS",
        ".TP\n0\nsuccess (for doctor: no check failed)",
        ".TP\n1\nthe operation failed, or a doctor check failed",
        ".TP\n2\nusage error",
        ".TP\n3\ninvalid input: config, catalog, kubeconfig or certificate; nothing was written",
        ".TP\n4\nauthentication needed: run ztctl login",
        ".TP\n5\nunreachable: the API server did not answer on the requested route",
        ".TP\n130\ninterrupted",
        ".SH ENVIRONMENT",
        "ZTCTL_CONFIG, ZTCTL_CATALOG, ZTCTL_STATE_DIR, ZTCTL_NO_INPUT, NO_COLOR, KUBECONFIG, "
        "ZTCTL_WARP_CLI, ZTCTL_WARP_INTERFACE, ZTCTL_TRACE_URL, ZTCTL_CLOUDFLARED.",
        ".SH FILES",
        "The config file (\\fBztctl config path\\fR), the state directory (audit log, "
        "break\\-glass sessions, catalog cache).",
        ".SH SEE ALSO",
        "\\fBkubectl\\fR(1), \\fBwarp\\-cli\\fR(1); docs/ in the ztctl repository.",
    ]
    return "\n".join(out) + "\n"


def completion_scripts() -> dict[Path, str]:
    from ztctl.cli.commands.completion import completion_script

    return {
        COMPLETIONS / name: completion_script(shell) for shell, name in COMPLETION_FILES.items()
    }


def expected_files() -> dict[Path, str]:
    return {COMMANDS_MD: commands_markdown(), MAN_PAGE: man_page(), **completion_scripts()}


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
