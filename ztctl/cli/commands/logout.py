"""`ztctl logout`: remove ztctl's tokens from the keyring (and disconnect WARP on request)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ztctl.cli.output import emit, json_option, pass_app

if TYPE_CHECKING:
    from ztctl.cli.app import App
    from ztctl.core.login import LogoutResult


@click.command("logout")
@click.option("--disconnect", is_flag=True, help="Also disconnect WARP.")
@click.option("--api-token", is_flag=True, help="Also remove the Cloudflare API token.")
@json_option
@pass_app
def command(app: App, disconnect: bool, api_token: bool) -> None:
    """Remove ztctl's Access tokens from the OS keyring"""
    from ztctl.core.cloudflare import KEYRING_ITEM
    from ztctl.core.login import logout
    from ztctl.errors import InvalidInput

    try:
        catalog = app.catalog()
    except InvalidInput as exc:
        app.warn(f"{exc.message}; removing the tokens ztctl remembers storing")
        catalog = None
    removed_api_token: bool | None = None
    if api_token:
        from ztctl.cli.cftoken import logout_api_token

        removed_api_token = logout_api_token()
    result = logout(
        app.state_dir,
        catalog,
        disconnect=disconnect,
        config=app.config,
        env=app.env,
        also_removed=(KEYRING_ITEM,) if removed_api_token else (),
    )
    payload = result.to_dict()
    if removed_api_token is not None:
        payload["apiTokenRemoved"] = removed_api_token

    def text() -> None:
        _text(result)
        if removed_api_token is not None:
            click.echo(
                "Removed the Cloudflare API token."
                if removed_api_token
                else "No Cloudflare API token was in the keyring."
            )

    emit(app, payload, text)


def _text(result: LogoutResult) -> None:
    if result.removed:
        lines = [f"Removed the Access tokens of: {', '.join(result.removed)}."]
    else:
        lines = ["No ztctl tokens were in the keyring."]
    if result.disconnected is True:
        lines.append("WARP disconnected.")
    elif result.disconnected is False:
        lines.append("WARP was not connected.")
    lines.append(
        "cloudflared keeps its own copy in ~/.cloudflared; ztctl will not use it again until "
        "your next `ztctl login` (run `rm ~/.cloudflared/*-token` to drop it as well)."
    )
    click.echo("\n".join(lines))
