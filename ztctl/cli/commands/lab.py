"""`ztctl lab up|down|set|status|demo`: the local simulated Zero Trust environment."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ztctl.cli.complete import lab_set_keys
from ztctl.cli.output import emit, json_option, pass_app

if TYPE_CHECKING:
    from ztctl.cli.app import App
    from ztctl.lab.demo import StepResult

_MARKS = {"ok": "✓", "fail": "✗", "skip": "-"}


def _dir_option(func: Any) -> Any:
    return click.option(
        "--dir",
        "lab_dir",
        envvar="ZTCTL_LAB_DIR",
        type=click.Path(file_okay=False, path_type=Path),
        metavar="DIR",
        help="Lab directory (env ZTCTL_LAB_DIR; default: lab/ in ztctl's user state directory).",
    )(func)


def _camel(value: Any) -> Any:
    """The lab state's snake_case keys (``tos_accepted``) as the JSON's camelCase."""
    if isinstance(value, dict):
        return {_camel_key(k): _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _camel_key(key: Any) -> Any:
    if not isinstance(key, str) or "_" not in key:
        return key
    first, *rest = key.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def unset_lines(lab_dir: Path) -> list[str]:
    """Shell lines that undo `lab up`'s exports (`eval "$(ztctl lab down)"`): the values
    from before `lab up` come back; nothing for a directory where no lab ever ran."""
    from ztctl.lab.env import ever_ran, restore_lines

    return restore_lines(lab_dir) if ever_ran(lab_dir) else []


def _resolve_dir(lab_dir: Path | None) -> Path:
    from ztctl.lab.control import default_lab_dir

    return lab_dir if lab_dir is not None else default_lab_dir()


@click.group("lab")
def command() -> None:
    """Run a local simulated Zero Trust environment for demos and tests

    The lab runs on loopback only: a Kubernetes API server stand-in with real TLS, a SOCKS5
    out-of-band bastion, a /cdn-cgi/trace and Access edge, and stand-ins for warp-cli and
    cloudflared in DIR/bin.
    """


@command.command("up")
@_dir_option
@json_option
@pass_app
def up(app: App, lab_dir: Path | None) -> None:
    """Start the lab in the background and print the export lines that point ztctl at it

    Use it as `eval "$(ztctl lab up --dir DIR)"`. Writes DIR/config.toml, DIR/catalog.yaml
    and DIR/kubeconfig; progress goes to stderr.
    """
    from ztctl.lab.control import up as lab_up

    result = lab_up(_resolve_dir(lab_dir))
    info = result.info
    if result.stale_pid is not None:
        app.info(f"cleaned up a stale lab (pid {result.stale_pid} was gone)")
    app.info(f"lab running in {info.dir} (pid {info.pid}): API server {info.server}")
    from ztctl.lab.env import save_lines

    saves = save_lines(info.dir)
    payload = {
        "lab": info.to_dict(),
        "standIns": list(result.stand_ins),
        "env": info.env({"PATH": "$PATH"}, with_token=False),
        "save": saves,
        "exports": info.export_lines(),
    }
    # The saves first: `eval "$(ztctl lab down)"` puts those values back.
    emit(app, payload, lambda: click.echo("\n".join([*saves, *info.export_lines()])))
    if not app.json and sys.stdout.isatty():
        # Printed to a terminal, the exports change nothing: say how to use them.
        app.info(
            "these lines point a shell at the lab: paste them, or start it with "
            f'`eval "$(ztctl lab up --dir {shlex.quote(str(info.dir))})"`; '
            f'stop it with `eval "$(ztctl lab down --dir {shlex.quote(str(info.dir))})"`'
        )


@command.command("down")
@_dir_option
@json_option
@pass_app
def down(app: App, lab_dir: Path | None) -> None:
    """Stop the lab's background process (exactly the one it started)

    Use it as `eval "$(ztctl lab down --dir DIR)"`: the lines it prints give back the values
    KUBECONFIG, ZTCTL_CONFIG and the rest had before `eval "$(ztctl lab up)"` (nothing is
    printed for a directory where no lab ever ran).
    """
    from ztctl.lab.control import down as lab_down

    result = lab_down(_resolve_dir(lab_dir))
    if result.pid is not None:
        message = f"stopped the lab in {result.dir} (pid {result.pid})"
    elif result.stale:
        message = f"no lab was running in {result.dir}; removed its stale lab.json"
    else:
        message = f"no lab is running in {result.dir}"
    payload = {
        "dir": str(result.dir),
        "stopped": result.pid is not None,
        "pid": result.pid,
        "stale": result.stale,
        "killed": result.killed,
        "unset": unset_lines(result.dir),
    }

    def text() -> None:
        app.info(message)
        lines = unset_lines(result.dir)  # `eval "$(ztctl lab down)"` restores the shell
        if lines:
            click.echo("\n".join(lines))

    emit(app, payload, text)


@command.command("set")
@click.argument("assignments", nargs=-1, metavar="KEY=VALUE...", shell_complete=lab_set_keys)
@_dir_option
@json_option
@pass_app
def set_(app: App, assignments: tuple[str, ...], lab_dir: Path | None) -> None:
    """Inject faults or change the lab's WARP state (all or nothing)

    \b
    Keys:
      zt-path=up|blackhole|reset     the Zero Trust path to the API server
      inspection=on|off              Gateway TLS inspection (a forged certificate chain)
      api=ready|notready             /readyz passes or fails
      latency=250ms                  added to every API response
      client-cert=valid|expired|notyet   the certificate DIR/kubeconfig presents
      clock-skew=300                 seconds added to the lab servers' clocks
      gateway=on|off                 trace gateway= while WARP is on
      posture.fail=RULE,...|none     failing device posture rules
      warp.daemon=on|off  warp.hang=on|off  warp.tos=on|off
      warp.registered=true|false  warp.connected=true|false  warp.team=NAME|none
      warp.mode=warp|proxy|doh|...   warp.era=2023|2024|2025|2026
      warp.split=default|exclude-cluster|include-cluster|include-other
      cf.api=up|down|blackhole|rate-limited|flaky|malformed|unsuccessful
      cf.latency=50ms                added to every Cloudflare API answer
      cf.route=ok|missing|other-vnet cf.tunnel=healthy|degraded|down  cf.connectors=0-10
      cf.device=active|revoked|missing  cf.proxy=on|off  cf.inspection=dni|no-dni|static|off
      cf.token=account|user|other-account|invalid  cf.lacks=networks,tunnels,zero-trust|none
      cf.page-size=1-1000            items per Cloudflare API page
      reset                          back to the healthy default
    """
    from ztctl.lab.control import set_values

    result = set_values(_resolve_dir(lab_dir), list(assignments))
    payload = {
        "dir": str(result.dir),
        "changes": [{"key": c.key, "value": c.value} for c in result.changes],
        "state": _camel(result.state),
    }
    lines = [f"{c.key}={c.value}" if c.value else c.key for c in result.changes]
    emit(app, payload, lambda: click.echo("\n".join(f"set {line}" for line in lines)))


@command.command("status")
@_dir_option
@json_option
@pass_app
def status(app: App, lab_dir: Path | None) -> None:
    """Show whether the lab runs, its ports, and the faults in force"""
    import json

    from ztctl.lab.control import status as lab_status
    from ztctl.lab.state import LabState

    result = lab_status(_resolve_dir(lab_dir))
    default = LabState().to_dict()
    changed = [
        f"{section}.{key}={json.dumps(value)}"
        for section, values in result.state.items()
        if isinstance(values, dict)
        for key, value in values.items()
        if default.get(section, {}).get(key) != value
    ]
    payload = {
        "dir": str(result.dir),
        "running": result.running,
        "lab": result.info.to_dict() if result.info else None,
        "state": _camel(result.state),
    }

    def text() -> None:
        if result.info is None:
            click.echo(f"no lab is running in {result.dir}")
        else:
            info = result.info
            click.echo(f"lab running in {info.dir} (pid {info.pid}, since {info.started_at})")
            click.echo(f"  API server  {info.server}")
            click.echo(f"  bastion     {info.proxy_url}")
            click.echo(f"  edge        {info.edge_url or '-'}")
        click.echo("  state       " + (", ".join(changed) if changed else "healthy (defaults)"))

    emit(app, payload, text)


@command.command("demo")
@click.option(
    "--dir",
    "lab_dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Lab directory for the tour (default: a temporary one; ZTCTL_LAB_DIR, set by a "
    "running lab, is not used, so the tour never touches that lab).",
)
@json_option
@pass_app
def demo(app: App, lab_dir: Path | None) -> None:
    """Run the guided tour: lab up, kubectl over Zero Trust, an outage, break-glass, lab down

    Without --dir the tour uses a temporary directory, removed when every step passed.
    Exits 1 if any step did not behave as designed.
    """
    from ztctl.errors import OperationFailed
    from ztctl.lab.demo import run_demo

    def show(step: StepResult) -> None:
        if not app.json:
            mark = _MARKS.get(step.status, "?")
            click.echo(f"{mark} {step.title}: {step.detail}")

    result = run_demo(lab_dir, on_result=show)
    emit(app, result.to_dict(), lambda: None)
    failed = result.failed
    if failed is not None:
        if app.json:  # the document says ok: false; one JSON document only
            raise click.exceptions.Exit(1)
        raise OperationFailed(
            f"the lab demo failed at step {failed.name!r}: {failed.detail}",
            f"see the lab log {result.dir / 'lab.log'}",
        )
    if not app.json:
        app.info(f"demo passed ({sum(s.status == 'ok' for s in result.steps)} steps)")
