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
from ztctl.cli.output import install_terminal_guard, render_error
from ztctl.errors import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    Interrupted,
    InvalidInput,
    OperationFailed,
    UsageError,
    ZtctlError,
)

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# Every subcommand: its name -> the module of ``ztctl.cli.commands`` that defines it as the
# attribute ``command``. Listed here, not found on disk, so a zipapp, a frozen build or a
# sourceless install sees them all; imported only when used, so ``ztctl credential`` loads
# one module, not all of them.
COMMANDS: dict[str, str] = {
    "break-glass": "break_glass",
    "catalog": "catalog",
    "clusters": "clusters",
    "completion": "completion",
    "config": "config",
    "credential": "credential",
    "doctor": "doctor",
    "lab": "lab",
    "login": "login",
    "logout": "logout",
    "probe": "probe",
    "status": "status",
    "use-cluster": "use_cluster",
    "version": "version",
}


class LazyGroup(click.Group):
    """Subcommands come from :data:`COMMANDS`, each imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = COMMANDS.get(cmd_name)
        if module_name is None:
            return None
        module = importlib.import_module(f"ztctl.cli.commands.{module_name}")
        command: click.Command = module.command
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in COMMANDS:
            from ztctl.core.suggest import did_you_mean

            hint = did_you_mean(name, sorted(COMMANDS))
            raise click.UsageError(f"no such command {name!r}{hint}", ctx)
        return super().resolve_command(ctx, args)


# The root's options, accepted after the subcommand too (`ztctl probe lab --no-color -v`).
_GLOBAL_WITH_VALUE = frozenset({"--config", "--catalog", "--kubeconfig"})
_GLOBAL_FLAGS = frozenset({"--verbose", "--quiet", "--no-color", "--no-input"})
_SHORT_GLOBALS = frozenset("vq")


def _is_global(word: str) -> bool:
    name = word.split("=", 1)[0]
    if name in _GLOBAL_WITH_VALUE or word in _GLOBAL_FLAGS:
        return True
    return len(word) > 1 and word[0] == "-" and word[1] != "-" and set(word[1:]) <= _SHORT_GLOBALS


def _leaf(args: list[str]) -> tuple[click.Command | None, int]:
    """The (sub)command ``args`` name and the index after its name, without importing more."""
    ctx = click.Context(cli)
    command: click.Command = cli
    index = 0
    while isinstance(command, click.Group) and index < len(args):
        word = args[index]
        if word == "--":
            return None, index
        if word.startswith("-"):
            index += 2 if command is cli and word in _GLOBAL_WITH_VALUE else 1
            continue
        found = command.get_command(ctx, word)
        if found is None:
            return None, index
        command, index = found, index + 1
    return (None if command is cli else command), index


def hoist_global_options(args: list[str]) -> list[str]:
    """Move root options given after the subcommand in front of it, for click.

    Options the subcommand defines itself, their values, and everything after ``--`` (or
    after the first argument of a command that passes the rest through) stay where they are.
    """
    command, start = _leaf(args)
    if command is None:
        return args
    own: dict[str, bool] = {}  # option name -> takes a value
    for param in command.params:
        if isinstance(param, click.Option):
            for name in (*param.opts, *param.secondary_opts):
                own[name] = not (param.is_flag or param.count)
    passes_rest = not command.context_settings.get(
        "allow_interspersed_args", command.allow_interspersed_args
    )
    hoisted: list[str] = []
    kept: list[str] = []
    index = start
    while index < len(args):
        word = args[index]
        if word == "--":
            kept.extend(args[index:])
            break
        name = word.split("=", 1)[0]
        if name in own:
            take = 2 if own[name] and "=" not in word else 1
            kept.extend(args[index : index + take])
            index += take
            continue
        if _is_global(word):
            take = 2 if name in _GLOBAL_WITH_VALUE and "=" not in word else 1
            hoisted.extend(args[index : index + take])
            index += take
            continue
        kept.append(word)
        index += 1
        if passes_rest and not word.startswith("-"):
            kept.extend(args[index:])
            break
    if not hoisted:
        return args
    return [*hoisted, *args[:start], *kept]


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
    if ctx.get_parameter_source("config_path") == click.core.ParameterSource.ENVIRONMENT:
        config_path = None  # $ZTCTL_CONFIG, which must be absolute: paths.config_path checks
    ctx.obj = App(
        config_option=config_path,
        catalog_option=catalog,
        catalog_on_command_line=(
            ctx.get_parameter_source("catalog") == click.core.ParameterSource.COMMANDLINE
        ),
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
        from ztctl.cli.commands.break_glass import catalog_routes
        from ztctl.core.breakglass.lifecycle import reap

        for ended in reap(app.state_dir, app.env, catalog_routes(app)):
            app.info(
                f"break-glass session for {ended.session.cluster} expired; its route is closed"
            )
            if ended.audit:
                app.warn(ended.audit)
    except Exception as exc:  # never let the backstop break the command itself
        app.debug(f"could not check break-glass sessions: {exc}")


_current: dict[str, Any] = {}


def _prog_name() -> str:
    """``kubectl ztctl`` when kubectl runs us as its plugin, else ``ztctl``."""
    invoked = os.path.basename(sys.argv[0]) if sys.argv else ""
    return "kubectl ztctl" if invoked.startswith("kubectl-ztctl") else "ztctl"


def _usage_fix(error: click.ClickException) -> str:
    """Where to read how the command is used: its own --help when known."""
    ctx = getattr(error, "ctx", None)
    path = ctx.command_path if ctx is not None else _prog_name()
    return f"see `{path} --help`"


def _state_access_error(app: App | None, exc: BaseException) -> InvalidInput | None:
    """A file or directory inside the state directory that the user may not use (left by
    `sudo ztctl`, another user's) or on a read-only file system, as exit 3 with the fix.

    The state directory itself is checked when it is first needed (:mod:`ztctl.core.paths`);
    this is the backstop for what is inside it, wherever a command first touches it.
    """
    import errno

    from ztctl.core.paths import access_problem

    if app is None or "state_dir" not in vars(app):  # never computed: not about it
        return None
    state = app.state_dir
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if (
            isinstance(current, OSError)
            and current.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
            and current.filename
        ):
            path = Path(os.fsdecode(current.filename))
            if path == state or state in path.parents:
                # The deepest part that exists and that the user cannot use.
                for part in [path, *path.parents]:
                    if part != state and state not in part.parents:
                        break
                    wanted = os.R_OK | os.W_OK | (os.X_OK if part.is_dir() else 0)
                    problem = access_problem(part, wanted, chown=state)
                    if problem is not None:
                        why, fix = problem
                        return InvalidInput(
                            f"{part} (in the state directory) {why}",
                            f"{fix}, or point ZTCTL_STATE_DIR at a directory of yours",
                        )
                why = current.strerror or str(current)
                return InvalidInput(
                    f"cannot use {path} (in the state directory): {why}",
                    f'sudo chown -R "$USER" {state} if `sudo ztctl` left it there, or point '
                    "ZTCTL_STATE_DIR at a directory of yours",
                )
        current = current.__cause__ or current.__context__
    return None


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI and map every outcome to an exit code."""
    args = sys.argv[1:] if argv is None else argv
    _current.clear()
    install_terminal_guard()  # no control character from the data reaches the terminal
    code = 0
    try:
        # Without standalone mode click returns ctx.exit()'s code instead of exiting.
        returned = cli.main(
            args=hoist_global_options(args), prog_name=_prog_name(), standalone_mode=False
        )
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
        kind = UsageError if code == EXIT_USAGE else OperationFailed
        render_error(kind(error.format_message(), _usage_fix(error)), as_json="--json" in args)
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
    except Exception as exc:  # a bug: one clear line; the traceback with -vv
        app = _current.get("app")
        # A state directory file the user may not use is theirs to fix, not a bug.
        failure: ZtctlError | None = _state_access_error(app, exc)
        if failure is None:
            if app is not None and app.verbose > 1:
                import traceback

                traceback.print_exc()
            failure = OperationFailed(
                f"internal error: {type(exc).__name__}: {exc}",
                "this is a bug in ztctl: rerun with -vv for the traceback and report it with "
                "the output of `ztctl version`",
            )
        render_error(failure, as_json=bool(app and app.json))
        code = failure.exit_code
    sys.exit(code)
