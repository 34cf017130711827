"""`ztctl break-glass`: the out-of-band route during incidents, time-boxed and audited."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from ztctl.cli.complete import cluster_names, session_then_cluster_names
from ztctl.cli.output import emit, json_option, local_time, pass_app, print_table
from ztctl.cli.palette import stdout_palette
from ztctl.cli.params import Seconds

if TYPE_CHECKING:
    from ztctl.cli.app import App
    from ztctl.core.breakglass.child import ExecPlan
    from ztctl.core.breakglass.lifecycle import Ended, EndResult, StatusResult
    from ztctl.core.breakglass.opening import StartResult
    from ztctl.core.breakglass.trusted import CatalogRoutes
    from ztctl.core.model import Cluster


def catalog_routes(app: App) -> CatalogRoutes:
    """Where break-glass takes route commands and ``maxTtl`` from: ``--catalog`` or the
    configured catalog (read without the network), never the session file."""
    from ztctl.core.breakglass.trusted import CatalogRoutes
    from ztctl.errors import ZtctlError

    try:
        source = app.catalog_source
    except ZtctlError:  # a broken config: ZTCTL_CATALOG, else the route cannot be looked up
        source = None
    return CatalogRoutes(app.state_dir, app.env, source=source)


@click.group("break-glass")
def command() -> None:
    """Reach a cluster over its out-of-band route when Zero Trust is down"""


@command.command("start")
@click.argument("cluster", shell_complete=cluster_names)
@click.option(
    "--reason",
    metavar="TEXT",
    required=True,
    help="What is broken and why you need the route (goes to the audit log), "
    "e.g. 'INC-4711: tunnel down, restart cloudflared'.",
)
@click.option(
    "--ttl",
    metavar="DURATION",
    help="How long the route stays open, e.g. 30m or 2h (default 1h; at most the "
    "catalog's maxTtl, and never over 7d).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Open the route even though the Zero Trust path works (drills, partial outages).",
)
@click.option(
    "--timeout",
    type=Seconds(0.05, 600),
    default=None,
    metavar="S",
    help="Seconds each probe may take (default: doctor.timeout from the config, 3).",
)
@json_option
@pass_app
def start_command(
    app: App,
    cluster: str,
    reason: str,
    ttl: str | None,
    force: bool,
    timeout: float | None,
) -> None:
    """Open the out-of-band route, prove the API server answers"""
    from ztctl.core.breakglass import opening
    from ztctl.core.breakglass.policy import resolve_ttl, validate_reason

    chosen = app.cluster(cluster)
    if chosen.break_glass is not None:  # a bad request is refused before anything is asked
        validate_reason(reason)
        resolve_ttl(ttl, chosen.break_glass.max_ttl_s, chosen.name)
    _require_trust(app, chosen)
    request = opening.StartRequest(
        cluster=chosen,
        reason=reason,
        state_dir=app.state_dir,
        ttl=ttl,
        force=force,
        kubeconfig=app.kubeconfig,
        env=app.env,
        interactive=app.interactive,
        timeout=timeout if timeout is not None else app.config.doctor.timeout,
        catalog_names=tuple(app.catalog().names),
        catalog_source=app.catalog_source,
    )
    result = opening.start(request, on_progress=app.info)
    for ended in result.expired:
        app.info(f"closed the expired break-glass session for {ended.session.cluster}")
        if ended.audit:
            app.warn(ended.audit)
    for warning in result.warnings:
        app.warn(warning)
    emit(app, result.to_dict(), lambda: _start_text(app, result))


def _require_trust(app: App, cluster: Cluster) -> None:
    """A catalog VPN's up and down commands run only once approved (docs/security.md)."""
    from ztctl.core import trust

    commands = trust.vpn_commands(cluster)
    if not commands:
        return

    def confirm(shown: str) -> bool:
        click.echo(
            f"The catalog asks to run these commands on this computer to bring the break-glass "
            f"VPN of {cluster.name} up and down:",
            err=True,
        )
        click.echo(shown, err=True)
        return click.confirm("Run them?", default=False, err=True)

    trust.require(
        app.state_dir, commands, interactive=app.interactive, confirm=confirm, env=app.env
    )


def _start_text(app: App, result: StartResult) -> None:
    s = result.session
    v = result.verified
    paint = stdout_palette(app)
    answered = f"GET /readyz {v.readyz or 'ok'}"
    if v.timings.total_ms is not None:
        answered += f" in {v.timings.total_ms:.0f} ms"
    if v.user:
        answered += f", you are {v.user}"
    if v.version:
        answered += f", {v.version}"
    zt = result.zero_trust
    zt_text = (
        "healthy (opened with --force)"
        if zt.ok
        else (zt.problem.message if zt.problem else "failed")
    )
    lines = [
        paint(f"Break-glass route open for {s.cluster}", "bold"),
        f"  route      {s.route.display}",
        f"  verified   {s.server} answers over it: {answered}",
        f"  zero trust {zt_text}",
        f"  reason     {s.reason}",
        f"  expires    {local_time(s.deadline)}",
        "",
        f"Use it:   ztctl break-glass exec {s.cluster} -- kubectl get pods",
        f"          ztctl break-glass shell {s.cluster}",
        f"End it:   ztctl break-glass end {s.cluster}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")


_EXEC_SETTINGS = {"ignore_unknown_options": True, "allow_interspersed_args": False}


@command.command("exec", context_settings=_EXEC_SETTINGS)
@click.argument("cluster", shell_complete=session_then_cluster_names)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED, required=True, metavar="-- CMD [ARGS]...")
@pass_app
def exec_command(app: App, cluster: str, argv: tuple[str, ...]) -> None:
    """Run one command over the open break-glass route"""
    from ztctl.core.breakglass import child

    args = list(argv)
    if args and args[0] == "--":
        args = args[1:]
    plan = child.prepare_exec(
        app.state_dir,
        cluster,
        args,
        kubeconfig=app.kubeconfig,
        env=app.env,
        routes=catalog_routes(app),
    )
    _run(app, plan)


@command.command("shell")
@click.argument("cluster", shell_complete=session_then_cluster_names)
@pass_app
def shell_command(app: App, cluster: str) -> None:
    """Start a shell whose kubectl uses the break-glass route"""
    from ztctl.core.breakglass import child
    from ztctl.core.breakglass.session import ENV_CLUSTER

    shell = child.default_shell(app.env)
    plan = child.prepare_exec(
        app.state_dir,
        cluster,
        [shell],
        kubeconfig=app.kubeconfig,
        env=app.env,
        as_shell=True,
        routes=catalog_routes(app),
    )
    from ztctl.core.duration import format_duration

    app.info(
        f"break-glass shell for {cluster} over {plan.session.route.display}; it ends with the "
        f"session in {format_duration(plan.session.remaining())} (exit to leave; "
        f"${ENV_CLUSTER} is set for your prompt)"
    )
    _run(app, plan)


def _run(app: App, plan: ExecPlan) -> None:
    from ztctl.core.breakglass.child import run_child

    sys.stdout.flush()
    outcome = run_child(plan)
    if outcome.expired:
        sys.stderr.write(
            f"\nztctl: the break-glass session for {plan.session.cluster} reached its deadline; "
            f"the {'shell' if plan.shell else 'command'} was stopped\n"
        )
    app.exit(outcome.code)


@command.command("status")
@json_option
@pass_app
def status_command(app: App) -> None:
    """Show open break-glass sessions"""
    from ztctl.core.breakglass.lifecycle import status

    result = status(app.state_dir, app.env, catalog_routes(app))
    emit(app, result.to_dict(), lambda: _status_text(app, result))
    _exit_if_unaudited(app, result.expired)


def _exit_if_unaudited(app: App, ended: Sequence[Ended]) -> None:
    """Exit 1 when a session was closed but its event could not be audited."""
    lost = [e for e in ended if e.audit]
    for e in lost:
        app.warn(f"the break-glass session for {e.session.cluster} is closed, but {e.audit}")
    if lost:
        app.exit(1)


def _status_text(app: App, result: StatusResult) -> None:
    from ztctl.core.duration import format_duration

    for ended in result.expired:
        app.info(f"closed the expired break-glass session for {ended.session.cluster}")
    for stray in result.strays:  # first: a route of that cluster may still be open
        click.echo(f"{stray.cluster}: {stray.message}; a route of {stray.cluster} may be open")
        click.echo(f"  fix: {stray.fix}")
    if not result.sessions:
        if not result.strays:
            click.echo("No break-glass session is open.")
        return
    rows = []
    for row in result.sessions:
        s = row.session
        state = s.state
        if row.route_alive is False:
            state = "route gone"
        elif not row.watchdog_alive:
            state += " (no watchdog)"
        rows.append(
            (
                s.cluster,
                s.route.display,
                state,
                format_duration(s.remaining(result.now)),
                s.user,
                s.reason,
            )
        )
    print_table(
        ("CLUSTER", "ROUTE", "STATE", "LEFT", "USER", "REASON"),
        rows,
        color=stdout_palette(app).enabled,
    )


@command.command("end")
@click.argument("cluster", required=False, shell_complete=session_then_cluster_names)
@click.option("--all", "all_", is_flag=True, help="End every open session.")
@json_option
@pass_app
def end_command(app: App, cluster: str | None, all_: bool) -> None:
    """Close a break-glass session and its route"""
    from ztctl.core.audit import os_user
    from ztctl.core.breakglass.lifecycle import end, open_names
    from ztctl.errors import UsageError

    if cluster and all_:
        raise UsageError("give a CLUSTER or --all, not both", "ztctl break-glass end --all")
    if cluster:
        names: list[str] | None = [cluster]
    elif all_:
        names = None
    else:
        open_ = open_names(app.state_dir)
        if len(open_) > 1:
            raise UsageError(
                "several break-glass sessions are open: " + ", ".join(open_),
                "name one (`ztctl break-glass end CLUSTER`) or end them all with --all",
            )
        names = open_
    result = end(
        app.state_dir,
        names,
        by=os_user(),
        env=app.env,
        routes=catalog_routes(app),
        on_progress=app.info,
    )
    emit(app, result.to_dict(), lambda: _end_text(app, result))
    _exit_if_unaudited(app, result.ended + result.expired)
    if any(e.problem for e in result.ended) or result.strays:
        app.exit(1)


def _end_text(app: App, result: EndResult) -> None:
    for ended in result.expired:
        app.info(f"closed the expired break-glass session for {ended.session.cluster}")
    for ended in result.ended:
        s = ended.session
        click.echo(f"Ended the break-glass session for {s.cluster} ({s.route.display}).")
        if ended.problem:
            app.warn(f"{ended.problem}: the route may still be open; close it by hand")
    for name in result.missing:
        click.echo(f"No break-glass session was open for {name}.")
    for stray in result.strays:
        app.warn(
            f"{stray.message}, and no watchdog wrote it back: ztctl cannot tell which route "
            f"it opened; close the route of {stray.cluster} yourself (a VPN: the catalog's "
            f"down command), then delete {stray.path} and the directory "
            f"{stray.path.with_suffix('')}"
        )
    if not result.ended and not result.missing and not result.expired and not result.strays:
        click.echo("No break-glass session is open.")
