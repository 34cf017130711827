"""`ztctl break-glass`: the out-of-band route during incidents, time-boxed and audited."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from ztctl.cli.complete import cluster_names
from ztctl.cli.output import emit, json_option, pass_app, print_table, use_color

if TYPE_CHECKING:
    from ztctl.cli.app import App
    from ztctl.core.breakglass.child import ExecPlan
    from ztctl.core.breakglass.lifecycle import EndResult, StartResult, StatusResult


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
    "catalog's maxTtl).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Open the route even though the Zero Trust path works (drills, partial outages).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.05),
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
    from ztctl.core.breakglass import lifecycle

    request = lifecycle.StartRequest(
        cluster=app.cluster(cluster),
        reason=reason,
        state_dir=app.state_dir,
        ttl=ttl,
        force=force,
        kubeconfig=app.kubeconfig,
        env=app.env,
        interactive=app.interactive,
        timeout=timeout if timeout is not None else app.config.doctor.timeout,
        catalog_names=tuple(app.catalog().names),
    )
    result = lifecycle.start(request, on_progress=app.info)
    for ended in result.expired:
        app.info(f"closed the expired break-glass session for {ended.session.cluster}")
    for warning in result.warnings:
        app.warn(warning)
    emit(app, result.to_dict(), lambda: _start_text(app, result))


def _start_text(app: App, result: StartResult) -> None:
    from ztctl.core.duration import format_duration

    s = result.session
    v = result.verified
    bold = "\x1b[1m{}\x1b[0m" if use_color(app) else "{}"
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
        bold.format(f"Break-glass route open for {s.cluster}"),
        f"  route      {s.route.display}",
        f"  verified   {s.server} answers over it: {answered}",
        f"  zero trust {zt_text}",
        f"  reason     {s.reason}",
        f"  expires    {_local(s.deadline)} (in {format_duration(s.remaining())})",
        "",
        f"Use it:   ztctl break-glass exec {s.cluster} -- kubectl get pods",
        f"          ztctl break-glass shell {s.cluster}",
        f"End it:   ztctl break-glass end {s.cluster}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")


def _local(ts: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(ts).astimezone().strftime("%H:%M:%S %Z").strip()


_EXEC_SETTINGS = {"ignore_unknown_options": True, "allow_interspersed_args": False}


@command.command("exec", context_settings=_EXEC_SETTINGS)
@click.argument("cluster", shell_complete=cluster_names)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED, required=True, metavar="-- CMD [ARGS]...")
@pass_app
def exec_command(app: App, cluster: str, argv: tuple[str, ...]) -> None:
    """Run one command over the open break-glass route"""
    from ztctl.core.breakglass import child

    args = list(argv)
    if args and args[0] == "--":
        args = args[1:]
    plan = child.prepare_exec(app.state_dir, cluster, args, kubeconfig=app.kubeconfig, env=app.env)
    _run(app, plan)


@command.command("shell")
@click.argument("cluster", shell_complete=cluster_names)
@pass_app
def shell_command(app: App, cluster: str) -> None:
    """Start a shell whose kubectl uses the break-glass route"""
    from ztctl.core.breakglass import child
    from ztctl.core.breakglass.session import ENV_CLUSTER

    shell = child.default_shell(app.env)
    plan = child.prepare_exec(
        app.state_dir, cluster, [shell], kubeconfig=app.kubeconfig, env=app.env, as_shell=True
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
    raise SystemExit(outcome.code)


@command.command("status")
@json_option
@pass_app
def status_command(app: App) -> None:
    """Show open break-glass sessions"""
    from ztctl.core.breakglass.lifecycle import status

    result = status(app.state_dir, app.env)
    emit(app, result.to_dict(), lambda: _status_text(app, result))


def _status_text(app: App, result: StatusResult) -> None:
    from ztctl.core.duration import format_duration

    for ended in result.expired:
        app.info(f"closed the expired break-glass session for {ended.session.cluster}")
    if not result.sessions:
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
    print_table(("CLUSTER", "ROUTE", "STATE", "LEFT", "USER", "REASON"), rows, color=use_color(app))


@command.command("end")
@click.argument("cluster", required=False, shell_complete=cluster_names)
@click.option("--all", "all_", is_flag=True, help="End every open session.")
@json_option
@pass_app
def end_command(app: App, cluster: str | None, all_: bool) -> None:
    """Close a break-glass session and its route"""
    from ztctl.core.audit import os_user
    from ztctl.core.breakglass.lifecycle import end
    from ztctl.core.breakglass.session import list_sessions
    from ztctl.core.errors import UsageError

    if cluster and all_:
        raise UsageError("give a CLUSTER or --all, not both", "ztctl break-glass end --all")
    if cluster:
        names: list[str] | None = [cluster]
    elif all_:
        names = None
    else:
        open_ = [s.cluster for s in list_sessions(app.state_dir)]
        if len(open_) > 1:
            raise UsageError(
                "several break-glass sessions are open: " + ", ".join(open_),
                "name one (`ztctl break-glass end CLUSTER`) or end them all with --all",
            )
        names = open_
    result = end(app.state_dir, names, by=os_user(), env=app.env)
    emit(app, result.to_dict(), lambda: _end_text(app, result))
    if any(e.problem for e in result.ended):
        sys.stdout.flush()
        raise SystemExit(1)


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
    if not result.ended and not result.missing and not result.expired:
        click.echo("No break-glass session is open.")
