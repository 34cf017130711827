"""`ztctl doctor`: every device, network and per-cluster check, with a fix for each problem."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ztctl.cli.complete import cluster_names
from ztctl.cli.output import (
    emit,
    install_terminal_guard,
    json_option,
    pass_app,
    terminal_text,
)
from ztctl.cli.palette import STATUS_STYLES, stdout_palette
from ztctl.cli.params import Seconds

if TYPE_CHECKING:
    from ztctl.cli.app import App
    from ztctl.core.doctor import CheckResult, DoctorContext, DoctorReport

_LABELS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}


@click.command("doctor")
@click.argument("clusters", nargs=-1, metavar="[CLUSTER]...", shell_complete=cluster_names)
@click.option("--all", "all_clusters", is_flag=True, help="Check every catalog cluster.")
@click.option(
    "--timeout",
    type=Seconds(0.1, 600),
    default=None,
    metavar="S",
    help="Seconds each check may take (default: doctor.timeout from the config, 3).",
)
@click.option(
    "--bundle",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Also write a redacted archive for a helpdesk ticket (FILE.tar.gz or FILE.zip).",
)
@click.option(
    "--server/--no-server",
    default=None,
    help="Also ask the Cloudflare API (needs an API token; default: when one is configured).",
)
@json_option
@pass_app
def command(
    app: App,
    clusters: tuple[str, ...],
    all_clusters: bool,
    timeout: float | None,
    bundle: Path | None,
    server: bool | None,
) -> None:
    """Find out why kubectl cannot reach a cluster, layer by layer, with a fix for each problem

    Checks WARP (installed, daemon, team, connected, mode, split tunnel), what Cloudflare's
    edge sees (warp=, gateway=), the clock and device posture, then for each cluster: DNS,
    the OS route, credentials, TCP, TLS, /readyz and who the API server says you are. Checks
    run concurrently; each has a timeout. Without CLUSTER: the current context's catalog
    cluster. With a Cloudflare API token (`ztctl login --api-token`), also what only
    Cloudflare knows: the route, tunnel and connectors, the device's registration and
    profile, Gateway's proxy and TLS inspection (cf.* checks). The token is read-only and
    needs Cloudflare Tunnel Read (cf.route, cf.tunnel) and Zero Trust Read (cf.device,
    cf.gateway, cf.split-tunnel, cf.inspection). Exit status 1 when a check failed (warnings
    alone exit 0).
    """
    from ztctl.core.bundle import archive_format
    from ztctl.core.doctor import run_doctor

    if bundle is not None:
        archive_format(bundle)  # a bad name is a usage error before anything runs
    ctx, note = _context(app, clusters, all_clusters, timeout)
    if server is not False:
        ctx.server = _server_side(app, ctx, required=server is True)
    live = _Live(app) if _live_wanted(app) else None
    if live is not None:
        live.start(ctx)
    try:
        report = run_doctor(ctx, on_result=live.add if live else None, note=note)
    finally:
        if live is not None:
            live.stop()
    if bundle is not None:
        _write_bundle(app, ctx, report, bundle)
    emit(app, report.to_dict(), lambda: _text(app, report, live is not None))
    if not report.ok:
        app.exit(1)


def _context(
    app: App, names: tuple[str, ...], all_clusters: bool, timeout: float | None
) -> tuple[DoctorContext, str | None]:
    from ztctl.core.doctor import DoctorContext, catalog_context, select_clusters
    from ztctl.errors import UsageError

    config = app.config
    seconds = timeout if timeout is not None else config.doctor.timeout
    if app.catalog_source:
        from ztctl.core.kubeconfig.model import load_kubeconfig

        catalog = app.catalog()
        # What kubectl would use: its current context, and each cluster's entry.
        kube = load_kubeconfig(app.kubeconfig, app.env)
        current = kube.catalog_cluster(catalog)
        chosen, note = select_clusters(
            catalog, list(names), all_clusters=all_clusters, current=current
        )
        ctx = catalog_context(
            catalog,
            chosen,
            kube,
            warp=config.warp,
            timeout=seconds,
            env=app.env,
            team=config.team,
        )
        return ctx, note
    if names or all_clusters:
        raise UsageError(
            "no cluster catalog is configured, so there are no clusters to check",
            f'set `catalog = "..."` in {config.path}, or pass --catalog PATH|URL',
        )
    note = "no cluster catalog is configured: only the device was checked"
    return DoctorContext(team=config.team, warp=config.warp, timeout=seconds, env=app.env), note


def _server_side(app: App, ctx: DoctorContext, *, required: bool) -> Any:
    from ztctl.core.doctor.server import server_side

    def device_id() -> str | None:
        from ztctl.core.doctor.warp import registration_fact

        try:
            registration = registration_fact(ctx)
        except Exception:  # warp.registration reports warp-cli's problem
            return None
        return registration.device_id if registration is not None else None

    return server_side(
        app.config, app.env, required=required, timeout=ctx.io_timeout, device_id=device_id
    )


def _live_wanted(app: App) -> bool:
    return not app.json and not app.quiet and sys.stdout.isatty() and app.env.get("TERM") != "dumb"


class _Live:
    """A rich table on the terminal that fills in as checks finish."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.rows: dict[str, CheckResult] = {}
        self.order: list[tuple[str, str, str | None]] = []
        self.live: Any = None

    def start(self, ctx: DoctorContext) -> None:
        from rich.live import Live

        from ztctl.core.doctor import build_checks

        self.order = [(c.key, c.id, c.cluster) for c in build_checks(ctx)]
        self.live = Live(
            self._table(), console=self.app.out, refresh_per_second=12, transient=False
        )
        self.live.start()
        install_terminal_guard()  # in front of rich's redirect of stdout/stderr

    def add(self, result: CheckResult) -> None:
        self.rows[result.key] = result
        if self.live is not None:
            self.live.update(self._table())

    def stop(self) -> None:
        if self.live is not None:
            self.live.update(self._table())
            self.live.stop()

    def _table(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
        table.add_column("STATUS", no_wrap=True)
        table.add_column("CHECK", no_wrap=True)
        table.add_column("CLUSTER", no_wrap=True)
        table.add_column("RESULT", overflow="fold")
        for key, check_id, cluster in self.order:
            result = self.rows.get(key)
            if result is None:
                table.add_row(
                    Text("…", style="dim"), check_id, Text(terminal_text(cluster or "")), "running"
                )
                continue
            table.add_row(
                Text(_LABELS[result.status], style=STATUS_STYLES[result.status]),
                check_id,
                Text(terminal_text(cluster or "")),
                Text(terminal_text(result.summary)),
            )
        return table


def _text(app: App, report: DoctorReport, live_shown: bool) -> None:
    paint = stdout_palette(app)
    lines: list[str] = []
    if not live_shown:
        width = max((len(r.id) for r in report.results), default=10)
        cwidth = max((len(r.cluster or "") for r in report.results), default=0)
        for r in report.results:
            cluster = f"{(r.cluster or ''):<{cwidth}}  " if cwidth else ""
            lines.append(
                f"{paint(_LABELS[r.status], r.status)}  {r.id:<{width}}  {cluster}{r.summary}"
            )
    problems = [r for r in report.results if r.status in ("fail", "warn") and r.fix]
    if problems:
        lines.append("")
        lines.append("To fix:")
        for r in problems:
            where = f" ({r.cluster})" if r.cluster else ""
            lines.append(f"  {paint(_LABELS[r.status], r.status)} {r.id}{where}: {r.fix}")
    if app.verbose:
        lines.extend(_details(report))
    counts = report.counts()
    lines.append("")
    if report.note:
        lines.append(f"note: {report.note}")
    verdict = "no check failed" if report.ok else f"{counts['fail']} failed"
    lines.append(
        f"{verdict}: {counts['pass']} passed, {counts['warn']} warnings, {counts['fail']} "
        f"failed, {counts['skip']} skipped in {report.duration_ms / 1000:.1f}s"
        + (" (stopped at the deadline)" if report.deadline_hit else "")
    )
    sys.stdout.write("\n".join(lines) + "\n")


def _details(report: DoctorReport) -> list[str]:
    """-v: the facts behind every check, passing ones included (the same `data` as --json)."""
    detailed = [r for r in report.results if r.data]
    if not detailed:
        return []
    lines = ["", "Details:"]
    for r in detailed:
        lines.append(f"  {r.id}" + (f" ({r.cluster})" if r.cluster else ""))
        for key, value in r.data.items():
            lines.append(f"    {key}: {_compact(value)}")
    return lines


def _compact(value: object, limit: int = 200) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _write_bundle(app: App, ctx: DoctorContext, report: DoctorReport, path: Path) -> None:
    from ztctl.core.bundle import BundleInput, collect, write_bundle
    from ztctl.core.doctor.device import default_token_source
    from ztctl.core.kubeconfig.files import precedence
    from ztctl.core.model import AccessToken

    secrets: list[str] = []
    for cluster in ctx.clusters:
        if isinstance(cluster.credentials, AccessToken):
            try:
                token, _ = default_token_source(ctx, cluster.name)
            except Exception:  # a keyring problem must not stop the bundle
                token = None
            if token:
                secrets.append(token)
    api = getattr(ctx.server, "api", None)
    if api is not None:
        secrets.append(api.token)  # never in a bundle, even where a server echoes it
    version = None
    for result in report.results:
        if result.id == "warp.cli" and result.data.get("version"):
            version = str(result.data["version"])
    config = app.config
    written = write_bundle(
        path,
        collect(
            BundleInput(
                results=report.to_dict(),
                warp_runs=ctx.warp_transcript(),
                warp_version=version,
                addresses=[(c.name, c.host, a) for c in ctx.clusters for a in c.addresses],
                kubeconfig_paths=precedence(app.kubeconfig, app.env).paths,
                config={
                    "path": str(config.path),
                    "team": config.team,
                    "catalog": app.catalog_source,
                    "warp": {
                        "cli": config.warp.cli,
                        "interface": config.warp.interface,
                        "trace_url": config.warp.trace_url,
                    },
                    "doctor": {"timeout": ctx.timeout},
                },
                env=app.env,
                secrets=secrets,
            ),
            timeout=ctx.io_timeout,
        ),
    )
    app.info(f"wrote the redacted bundle {written}")
