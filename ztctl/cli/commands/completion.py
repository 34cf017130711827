"""`ztctl completion`: print a shell completion script."""

from __future__ import annotations

import click

SHELLS = ("bash", "zsh", "fish")


def completion_script(shell: str) -> str:
    """The completion script click generates for ``shell``."""
    from click.shell_completion import get_completion_class

    from ztctl.cli.main import cli

    complete_class = get_completion_class(shell)
    assert complete_class is not None
    script = complete_class(cli, {}, "ztctl", "_ZTCTL_COMPLETE").source()
    if shell == "fish":
        # click splits "plain,VALUE\tHELP" at every comma, cutting descriptions (and values)
        # that contain one; only the first comma separates the type.
        script = script.replace(
            '(string split "," $completion)', '(string split -m 1 "," $completion)'
        )
    return script if script.endswith("\n") else script + "\n"


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def command(shell: str) -> None:
    """Print the completion script for bash, zsh or fish

    \b
    bash:  eval "$(ztctl completion bash)"       (e.g. in ~/.bashrc)
    zsh:   eval "$(ztctl completion zsh)"        (e.g. in ~/.zshrc)
    fish:  ztctl completion fish > ~/.config/fish/completions/ztctl.fish
    """
    click.echo(completion_script(shell), nl=False)
