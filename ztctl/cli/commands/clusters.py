"""`ztctl clusters`: the catalog's clusters."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ztctl.cli.output import emit, json_option, pass_app, print_table
from ztctl.cli.palette import stdout_palette

if TYPE_CHECKING:
    from ztctl.cli.app import App
    from ztctl.core.clusters import ClusterList


@click.command("clusters")
@json_option
@pass_app
def command(app: App) -> None:
    """List the catalog's clusters and their break-glass routes"""
    from ztctl.core.clusters import list_clusters
    from ztctl.core.kubeconfig.model import load_kubeconfig
    from ztctl.errors import InvalidInput

    catalog = app.catalog()
    try:
        kube = load_kubeconfig(app.kubeconfig, app.env)
    except InvalidInput as error:
        # A listing should not die of a broken kubeconfig; say so and show what is known.
        app.warn(f"{error.message}; the KUBECONFIG column is unknown ({error.fix})")
        kube = None
    result = list_clusters(catalog, kube)
    emit(app, result.to_dict(), lambda: _text(app, result))
    from ztctl.core.entries import stale_hint

    for row in result.rows:
        if row.stale:
            app.warn(stale_hint(row.name, row.stale))


def _text(app: App, result: ClusterList) -> None:
    if not result.rows:
        click.echo(f"The catalog {result.source} lists no clusters.")
        return
    print_table(
        ("CURRENT", "NAME", "SERVER", "KUBECONFIG", "CREDENTIALS", "BREAK-GLASS"),
        (
            (
                "*" if row.current else "",
                row.name,
                row.server,
                "stale" if row.stale else _kubeconfig_cell(row.name, row.kubeconfig_entry),
                row.credentials,
                row.break_glass or "-",
            )
            for row in result.rows
        ),
        color=stdout_palette(app).enabled,
    )


def _kubeconfig_cell(name: str, entry: str | None) -> str:
    if entry == "":
        return "?"
    if entry is None:
        return "-"
    return "yes" if entry == name else f"as {entry}"
