"""`ztctl status`: team, device, WARP, identity and tokens, context, break-glass sessions."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

from ztctl.cli.output import emit, json_option, local_time, pass_app

if TYPE_CHECKING:
    from ztctl.cli.app import App
    from ztctl.core.status import StatusResult


@click.command("status")
@json_option
@pass_app
def command(app: App) -> None:
    """Show the team, device registration, WARP state, identity, tokens and break-glass"""
    from ztctl.core.status import gather_status
    from ztctl.errors import ZtctlError

    catalog = None
    catalog_error = None
    try:
        catalog = app.catalog()
    except ZtctlError as exc:
        catalog_error = exc
    result = gather_status(
        app.config,
        catalog,
        app.state_dir,
        kubeconfig=app.kubeconfig,
        env=app.env,
        catalog_error=catalog_error,
    )
    emit(app, result.to_dict(), lambda: _text(result))
    if result.login_needed:
        from ztctl.errors import EXIT_AUTH_NEEDED

        # Like `gh auth status`: scripts can test `ztctl status` before using a cluster.
        click.get_current_context().exit(EXIT_AUTH_NEEDED)


def _text(result: StatusResult) -> None:
    rows: list[tuple[str, str]] = [("Team", result.team or "(not configured)")]
    w = result.warp
    if w.error:
        rows.append(("WARP", f"unknown: {w.error['message']}"))
        if w.error.get("fix"):
            rows.append(("", f"fix: {w.error['fix']}"))
    else:
        if w.registered:
            org = w.organization or f"a {w.account_type} registration"
            device = f" (device {w.device_id})" if w.device_id else ""
            rows.append(("Device", f"enrolled in {org}{device}"))
        else:
            rows.append(("Device", "not enrolled: run `ztctl login`"))
        state = w.state or "unknown"
        if w.reason:
            state += f" ({w.reason})"
        mode = f", mode {w.mode}" if w.mode else ""
        if w.routes_private is False:
            mode += " (does not route private networks)"
        rows.append(("WARP", f"{state}{mode}, warp-cli {w.version}"))
    rows.append(("Identity", result.identity or "(no valid Access token)"))
    if result.tokens_error:
        rows.append(("Tokens", f"unreadable: {result.tokens_error['message']}"))
    for token in result.tokens:
        if not token.present:
            text = "none: run `ztctl login`"
        elif token.valid:
            until = local_time(token.expires_at) if token.expires_at else "no expiry"
            text = f"{token.identity}, until {until}"
        else:
            text = f"{token.problem}: run `ztctl login`"
        rows.append((f"Token {token.cluster}", text))
    if result.context_error:
        rows.append(("Context", f"unreadable: {result.context_error['message']}"))
    else:
        context = result.current_context or "(none)"
        if result.context_cluster and result.context_cluster != result.current_context:
            context += f" (catalog cluster {result.context_cluster})"
        if result.context_stale:
            context += (
                f"; its entry no longer matches the catalog ({', '.join(result.context_stale)}"
                f" changed): run `ztctl use-cluster {result.context_cluster}`"
            )
        rows.append(("Context", context))
    if result.break_glass:
        for session in result.break_glass:
            rows.append(
                (
                    "Break-glass",
                    f"{session['cluster']} via {session['route']} until "
                    f"{local_time(time.time() + session['remainingSeconds'])} "
                    f"({session['reason']})",
                )
            )
    elif not result.break_glass_strays:
        rows.append(("Break-glass", "no active session"))
    for stray in result.break_glass_strays:
        rows.append(("Break-glass", f"{stray['message']}; a route may still be open"))
        rows.append(("", f"fix: {stray['fix']}"))
    if result.catalog_error:
        rows.append(("Catalog", f"unreadable: {result.catalog_error['message']}"))
    if result.login_needed:
        rows.append(("Login", "needed: " + "; ".join(result.login_needed)))
        rows.append(("", f"fix: {result.fix}"))
    width = max(len(label) for label, _ in rows) + 2
    click.echo(
        "\n".join(f"{label + ':' if label else '':<{width}}{value}" for label, value in rows)
    )
