"""`ztctl probe`: reach the API server and show where the time goes."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from ztctl.cli.complete import cluster_names
from ztctl.cli.output import emit, json_option, pass_app
from ztctl.cli.palette import CLEAR_LINE, stdout_palette
from ztctl.cli.params import Seconds

if TYPE_CHECKING:
    from ztctl.cli.app import App
    from ztctl.core.model import Cluster
    from ztctl.core.probe import ProbeResult, SampleEvent, SampleStats
    from ztctl.problems import Phase


@click.command("probe")
@click.argument("cluster", required=False, shell_complete=cluster_names)
@click.option(
    "--route",
    type=click.Choice(["auto", "zero-trust", "break-glass"]),
    default="auto",
    show_default=True,
    help="Zero Trust path, the break-glass route, or auto (Zero Trust, and say whether "
    "break-glass would work when it fails).",
)
@click.option(
    "--count",
    type=click.IntRange(min=0, max=100000),
    default=0,
    metavar="N",
    help="Repeat N times, on one kept-alive connection and on fresh ones: p50/p90/p99/max, loss.",
)
@click.option(
    "--interval",
    type=Seconds(0, 3600),
    default=1.0,
    show_default=True,
    metavar="S",
    help="Seconds between repetitions with --count.",
)
@click.option(
    "--timeout",
    type=Seconds(0.05, 600),
    default=None,
    metavar="S",
    help="Give up after S seconds per probe (default: doctor.timeout from the config, 3).",
)
@json_option
@pass_app
def command(
    app: App,
    cluster: str | None,
    route: str,
    count: int,
    interval: float,
    timeout: float | None,
) -> None:
    """Reach the API server: DNS, TCP, TLS, /readyz, /version and identity, timed per phase"""
    from ztctl.core.probe import ProbeOptions, probe_cluster, resolve_target

    resolved = resolve_target(app.catalog(), cluster, kubeconfig=app.kubeconfig, env=app.env)
    from ztctl.core import trust

    chosen = app.catalog().get(resolved.target.name)
    if not trust.may_run_catalog_plugin(chosen, resolved.target.source):
        # Not in kubeconfig: kubectl would not run this catalog plugin, so neither does probe.
        raise trust.UntrustedCommand(
            trust.withheld_reason(resolved.target.name), trust.withheld_fix(resolved.target.name)
        )
    session_proxy, session_open = _break_glass_session(app, resolved.cluster)
    options = ProbeOptions(
        timeout=timeout if timeout is not None else app.config.doctor.timeout,
        count=count,
        interval=interval,
        allow_interactive=app.interactive,
        env=app.env,
        on_sample=_LiveLine(app) if count and not app.quiet else None,
    )
    from ztctl.cli.spinner import spinner

    # A black-holed path is silent until the timeout: show a spinner after 300 ms on a TTY.
    with spinner(f"Probing {resolved.target.name}", enabled=not count and not app.quiet):
        result = probe_cluster(
            resolved.target,
            route=route,
            options=options,
            session_proxy=session_proxy,
            session_open=session_open,
        )
    payload = result.to_dict()
    payload["context"] = resolved.context
    emit(app, payload, lambda: _text(app, result, resolved.context))
    if result.exit_code:
        app.exit(result.exit_code)


def _break_glass_session(app: App, cluster: Cluster | None) -> tuple[str | None, bool]:
    """An open break-glass session of an ssh or vpn route: its local proxy (ssh) and whether
    one is open (a proxy route needs none). The probe itself never reads sessions."""
    bg = cluster.break_glass if cluster is not None else None
    from ztctl.core.model import ProxyRoute

    if cluster is None or bg is None or isinstance(bg.route, ProxyRoute):
        return None, False
    from ztctl.core.breakglass.session import active_session, session_proxy

    session = active_session(app.state_dir, cluster.name)
    return session_proxy(session), session is not None


class _LiveLine:
    """One line rewritten in place on a TTY (stderr); a plain line per sample otherwise."""

    def __init__(self, app: App) -> None:
        self.tty = sys.stderr.isatty()
        self.values: list[float] = []
        self.lost = 0

    def __call__(self, event: SampleEvent) -> None:
        if event.index == 1:
            self.values, self.lost = [], 0
        if event.ms is None:
            self.lost += 1
        else:
            self.values.append(event.ms)
        label = "kept-alive" if event.kind == "keep-alive" else "fresh"
        width = len(str(event.count))
        now = _ms(event.ms) if event.ms is not None else "lost"
        line = f"{label:<10} {event.index:>{width}}/{event.count}  {now:>9}"
        if self.tty:
            ordered = sorted(self.values)
            p50 = _ms(ordered[(len(ordered) - 1) // 2]) if ordered else "-"
            line += f"  p50 {p50:>9}  lost {self.lost}"
            end = "\n" if event.index == event.count else ""
            sys.stderr.write(f"{CLEAR_LINE}{line}{end}")
        else:
            if event.error:
                line += f"  {event.error}"
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.0f} ms"
    return f"{value:.1f} ms"


def _text(app: App, result: ProbeResult, context: str | None) -> None:
    paint = stdout_palette(app)
    out: list[str] = []
    where = result.address or "-"
    if result.via:
        where = f"{where} via {result.via}"
    elif result.address_in_catalog:
        where += " (catalog address)"
    elif result.address_in_catalog is False:
        where += " (not a catalog address)"
    out.append(f"{paint(result.cluster, 'bold')}  {result.server}  {result.route} → {where}")
    for name, value, note in _rows(result, context):
        out.append(f"  {name:<11}{value:>9}  {note}".rstrip())
    if result.samples is not None:
        s = result.samples
        out.append(f"  samples    every {s.interval_s:g}s")
        out.append(_stats_line("kept-alive", s.keep_alive))
        out.append(_stats_line("fresh", s.fresh))
        if s.reconnects:
            out.append(f"             reconnected {s.reconnects} time(s)")
    sys.stdout.write("\n".join(out) + "\n")

    for warning in result.warnings:
        app.warn(warning)
    if result.problem is None:
        sys.stdout.write(paint("ready", "ready") + "\n")
        return
    lines = [f"{paint('error', 'error')}: {result.problem.message}", *_problem_lines(result)]
    sys.stdout.flush()
    sys.stderr.write("\n".join(lines) + "\n")


def _rows(result: ProbeResult, context: str | None) -> list[tuple[str, str, str]]:
    """(phase, time, note) for each line of the table."""
    from ztctl.problems import Phase

    t = result.timings
    rows: list[tuple[str, str, str]] = []
    source = f"kubeconfig context {context}" if context else "catalog (no kubeconfig entry)"
    rows.append(("credential", "", f"{result.credential} from {source}"))
    if t.credential_ms is not None:
        rows.append(("exec plugin", _ms(t.credential_ms), "ran the credential plugin"))
    dns_note = ""
    if result.dns is not None:
        if result.dns.error:
            dns_note = f"{result.dns.host}: {result.dns.error}"
        else:
            dns_note = f"{result.dns.host} → {', '.join(result.dns.addresses)}"
    elif result.via:
        dns_note = "proxy host"
    phase = result.problem.phase if result.problem else Phase.NONE
    rows.append(("dns", _ms(t.dns_ms), dns_note))
    rows.append(("connect", _ms(t.connect_ms), _failed_here(phase, Phase.CONNECT)))
    if t.proxy_ms is not None or result.via:
        rows.append(("proxy", _ms(t.proxy_ms), _failed_here(phase, Phase.PROXY)))
    cert = result.certificate
    tls_note = _failed_here(phase, Phase.TLS)
    if cert is not None and cert.issuer:
        expiry = f", expires {cert.not_after[:10]}" if cert.not_after else ""
        state = "" if cert.verified else " (NOT trusted)"
        tls_note = f"issuer {cert.issuer}{expiry}{state}"
    rows.append(("tls", _ms(t.tls_ms), tls_note))
    rows.append(("first byte", _ms(t.first_byte_ms), "GET /readyz"))
    rows.append(("total", _ms(t.total_ms), ""))
    if result.readyz is not None:
        rows.append(("readyz", "", result.readyz))
    if result.version is not None:
        rows.append(("version", "", result.version))
    if result.user is not None:
        groups = f" ({', '.join(result.groups)})" if result.groups else ""
        rows.append(("user", "", result.user + groups))
    return rows


def _problem_lines(result: ProbeResult) -> list[str]:
    """What break-glass would do, and the fix, under the error line."""
    lines: list[str] = []
    if result.break_glass is not None:
        bg = result.break_glass
        if bg.ok:
            lines.append(
                f"break-glass: the API server answers through {bg.via} "
                f"(ready in {_ms(bg.timings.total_ms)})"
            )
        elif bg.problem is not None:
            lines.append(f"break-glass: fails too — {bg.problem.message}")
    elif result.break_glass_note:
        lines.append(f"break-glass: {result.break_glass_note}")
    if result.problem is not None and result.problem.fix:
        lines.append(f"fix: {result.problem.fix}")
    return lines


def _failed_here(phase: Phase, name: Phase) -> str:
    return "no answer / failed here" if phase == name else ""


def _stats_line(label: str, stats: SampleStats) -> str:
    return (
        f"  {label:<11}p50 {_ms(stats.p50_ms)}  p90 {_ms(stats.p90_ms)}  "
        f"p99 {_ms(stats.p99_ms)}  max {_ms(stats.max_ms)}  lost {stats.lost}/{stats.count}"
    )
