"""`ztctl clusters`: the catalog's clusters."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ztctl.cli.output import emit, json_option, pass_app, print_table, use_color

if TYPE_CHECKING:
    from ztctl.cli.app import App
    from ztctl.core.clusters import ClusterList


@click.command("clusters")
@json_option
@pass_app
def command(app: App) -> None:
    """List the catalog's clusters and their break-glass routes"""
    from ztctl.core.clusters import list_clusters

    result = list_clusters(app.catalog())
    emit(app, result.to_dict(), lambda: _text(app, result))


def _text(app: App, result: ClusterList) -> None:
    if not result.rows:
        click.echo(f"The catalog {result.source} lists no clusters.")
        return
    print_table(
        ("NAME", "SERVER", "ADDRESSES", "CREDENTIALS", "BREAK-GLASS"),
        (
            (row.name, row.server, ",".join(row.addresses), row.credentials, row.break_glass or "-")
            for row in result.rows
        ),
        color=use_color(app),
    )
