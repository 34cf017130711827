"""The root command: global options, lazy subcommands, and the error → exit code map."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

import click

from ztctl import __version__
from ztctl.cli.app import App, no_color_from_env
from ztctl.cli.output import render_error
from ztctl.core.errors import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    Interrupted,
    OperationFailed,
    UsageError,
    ZtctlError,
)

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
_COMMANDS_DIR = Path(__file__).parent / "commands"
# Modules in cli/commands that are helpers, not commands.
_NOT_COMMANDS = frozenset({"__init__"})


def _command_names() -> list[str]:
    names = []
    for entry in os.listdir(_COMMANDS_DIR):
        stem, dot, ext = entry.rpartition(".")
        if dot and ext == "py" and stem not in _NOT_COMMANDS and not stem.startswith("_"):
            names.append(stem.replace("_", "-"))
    return sorted(names)


class LazyGroup(click.Group):
    """Subcommands are modules of ``ztctl.cli.commands``, imported only when used.

    ``cli/commands/use_cluster.py`` defines the ``use-cluster`` command as the attribute
    ``command``. Listing needs only the directory, so ``ztctl credential`` imports one
    module, not all of them.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return _command_names()

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _command_names():
            return None
        module = importlib.import_module(f"ztctl.cli.commands.{cmd_name.replace('-', '_')}")
        command: click.Command = module.command
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            from ztctl.core.suggest import did_you_mean

            hint = did_you_mean(name, _command_names())
            raise click.UsageError(f"no such command {name!r}{hint}", ctx)
        return super().resolve_command(ctx, args)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"ztctl {__version__}")
        ctx.exit(0)


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Print `ztctl <version>` and exit.",
)
@click.option(
    "--config",
    "config_path",
    envvar="ZTCTL_CONFIG",
    metavar="PATH",
    help="Config file (env ZTCTL_CONFIG; default: the platform's config dir).",
)
@click.option(
    "--catalog",
    envvar="ZTCTL_CATALOG",
    metavar="PATH|URL",
    help="Cluster catalog, a file or an https URL (env ZTCTL_CATALOG; default: from config).",
)
@click.option(
    "--kubeconfig",
    metavar="PATH",
    help="Use only this kubeconfig (default: KUBECONFIG, else ~/.kube/config).",
)
@click.option("-v", "--verbose", count=True, help="More detail; -vv for tracebacks.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and requested data.")
@click.option("--no-color", is_flag=True, help="No colour (also when NO_COLOR is set).")
@click.option(
    "--no-input",
    is_flag=True,
    envvar="ZTCTL_NO_INPUT",
    help="Never prompt or open a browser (env ZTCTL_NO_INPUT; implied without a TTY).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: str | None,
    catalog: str | None,
    kubeconfig: str | None,
    verbose: int,
    quiet: bool,
    no_color: bool,
    no_input: bool,
) -> None:
    """Reach Kubernetes clusters over Cloudflare Zero Trust, and diagnose why you cannot"""
    env = dict(os.environ)
    ctx.obj = App(
        config_option=config_path,
        catalog_option=catalog,
        kubeconfig=kubeconfig,
        verbose=verbose,
        quiet=quiet,
        no_color=no_color or no_color_from_env(env),
        no_input=no_input,
        env=env,
    )
    _current["app"] = ctx.obj
    if ctx.invoked_subcommand not in _NO_REAP:
        _reap_break_glass(ctx.obj)


# Commands that neither reach a cluster nor show session state, and must start fast: finding
# the state directory alone (platformdirs) would cost them about 9 ms.
_NO_REAP = frozenset({"clusters", "completion", "credential", "lab"})


def _reap_break_glass(app: App) -> None:
    """End break-glass sessions past their deadline before a command that could use them.

    The watchdog process does this at the deadline; this is the backstop for a watchdog
    that was killed. Cheap when there are no sessions: one stat of the state directory.
    """
    try:
        sessions = app.state_dir / "break-glass"
        if not sessions.is_dir():
            return
        from ztctl.core.breakglass.lifecycle import reap

        for ended in reap(app.state_dir, app.env):
            app.info(
                f"break-glass session for {ended.session.cluster} expired; its route is closed"
            )
    except Exception as exc:  # never let the backstop break the command itself
        app.debug(f"could not check break-glass sessions: {exc}")


_current: dict[str, Any] = {}


def _prog_name() -> str:
    """``kubectl ztctl`` when kubectl runs us as its plugin, else ``ztctl``."""
    invoked = os.path.basename(sys.argv[0]) if sys.argv else ""
    return "kubectl ztctl" if invoked.startswith("kubectl-ztctl") else "ztctl"


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI and map every outcome to an exit code."""
    args = sys.argv[1:] if argv is None else argv
    _current.clear()
    code = 0
    try:
        # Without standalone mode click returns ctx.exit()'s code instead of exiting.
        returned = cli.main(args=args, prog_name=_prog_name(), standalone_mode=False)
        if isinstance(returned, int) and not isinstance(returned, bool):
            code = returned
    except ZtctlError as error:
        app = _current.get("app")
        render_error(
            error,
            as_json=bool(app and app.json),
            verbose=bool(app and app.verbose > 1),
        )
        code = error.exit_code
    except click.exceptions.Exit as exit_:
        code = exit_.exit_code
    except click.ClickException as error:
        code = error.exit_code or EXIT_USAGE
        if "--json" in args:
            kind = UsageError if code == EXIT_USAGE else OperationFailed
            render_error(kind(error.format_message(), "see `ztctl --help`"), as_json=True)
        else:
            error.show()
    except (KeyboardInterrupt, click.Abort):
        app = _current.get("app")
        if app is not None and app.json:
            render_error(Interrupted("interrupted", "run the command again"), as_json=True)
        else:
            sys.stderr.write("\ninterrupted\n")
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`ztctl clusters | head`): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 0
    sys.exit(code)
