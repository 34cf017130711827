"""`ztctl catalog check`: validate the catalog and check each cluster on Cloudflare's side."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from ztctl.cli.complete import cluster_names
from ztctl.cli.output import emit, json_option, pass_app
from ztctl.cli.palette import stdout_palette
from ztctl.cli.params import Seconds

if TYPE_CHECKING:
    from ztctl.cli.app import App
    from ztctl.core.catalog_check import CatalogCheckReport

_LABELS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}


@click.group("catalog")
def command() -> None:
    """Work with the cluster catalog (for the platform team and its CI)"""


@command.command("check")
@click.argument("clusters", nargs=-1, metavar="[CLUSTER]...", shell_complete=cluster_names)
@click.option(
    "--timeout",
    type=Seconds(0.1, 600),
    default=None,
    metavar="S",
    help="Seconds each check may take (default: doctor.timeout from the config, 3).",
)
@json_option
@pass_app
def check(app: App, clusters: tuple[str, ...], timeout: float | None) -> None:
    """Validate the catalog, then check each cluster's route, tunnel and TLS inspection

    Reads the catalog (--catalog, ZTCTL_CATALOG or the config) and validates it whole; then,
    with a Cloudflare API token (ZTCTL_CF_API_TOKEN in CI, or `ztctl login --api-token`),
    checks for every cluster (or each CLUSTER named) that its addresses are routed to a
    tunnel, that the tunnel is healthy with at least 2 connectors, and that Gateway will not
    decrypt its TLS. Exit status: 0 nothing failed, 1 a check failed, 3 invalid catalog or
    config, 4 no API token.
    """
    from ztctl.core.catalog import load_catalog
    from ztctl.core.catalog_check import check_catalog
    from ztctl.errors import InvalidInput

    source = app.catalog_source
    if not source:
        raise InvalidInput(
            "no cluster catalog is configured",
            f'set `catalog = "..."` in {app.config.path}, or pass --catalog PATH|URL '
            "(ZTCTL_CATALOG)",
        )

    def load() -> object:
        catalog = load_catalog(source, lambda: app.state_dir, app.env)
        for warning in catalog.warnings:
            app.warn(warning)
        return catalog

    report = check_catalog(
        load,  # type: ignore[arg-type]
        app.config,
        app.env,
        clusters,
        timeout=timeout if timeout is not None else app.config.doctor.timeout,
    )
    emit(app, report.to_dict(), lambda: _text(app, report))
    if report.exit_code:
        app.exit(report.exit_code)


def _text(app: App, report: CatalogCheckReport) -> None:
    paint = stdout_palette(app)
    lines: list[str] = []
    width = max((len(r.id) for r in report.results), default=10)
    cwidth = max((len(r.cluster or "") for r in report.results), default=0)
    for r in report.results:
        cluster = f"{(r.cluster or ''):<{cwidth}}  " if cwidth else ""
        lines.append(f"{paint(_LABELS[r.status], r.status)}  {r.id:<{width}}  {cluster}{r.summary}")
        for problem in r.data.get("problems", []) if r.status == "fail" else []:
            if problem != r.summary:
                lines.append(f"      {problem}")
    problems = [r for r in report.results if r.status in ("fail", "warn") and r.fix]
    if problems:
        lines += ["", "To fix:"]
        for r in problems:
            where = f" ({r.cluster})" if r.cluster else ""
            lines.append(f"  {paint(_LABELS[r.status], r.status)} {r.id}{where}: {r.fix}")
    counts = report.counts()
    verdict = "no check failed" if counts["fail"] == 0 else f"{counts['fail']} failed"
    lines += [
        "",
        f"{verdict}: {counts['pass']} passed, {counts['warn']} warnings, {counts['fail']} "
        f"failed, {counts['skip']} skipped in {report.duration_ms / 1000:.1f}s "
        f"({report.api_calls} API calls)",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
