"""`ztctl login`: enrol the device, connect WARP, check its mode, keep Access tokens."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from ztctl.cli.output import emit, install_terminal_guard, json_option, pass_app, terminal_text

if TYPE_CHECKING:
    from ztctl.cli.app import App
    from ztctl.core.login import LoginResult

_MARK = {"ok": "ok", "changed": "changed", "fail": "FAIL"}


@click.command("login")
@click.option(
    "--team",
    metavar="T",
    help="Zero Trust team, saved once login succeeds (default: config `team`, the catalog's, "
    "else the one WARP is enrolled in or its MDM file names). The global --catalog given here "
    "is saved too.",
)
@click.option(
    "--no-browser", is_flag=True, help="Print the login URLs instead of opening a browser."
)
@click.option(
    "--api-token",
    is_flag=True,
    help="Only store a read-only Cloudflare API token (read from stdin) for server-side checks.",
)
@json_option
@pass_app
def command(app: App, team: str | None, no_browser: bool, api_token: bool) -> None:
    """Enrol this device, connect WARP and keep Access tokens for the catalog's clusters"""
    from ztctl.core.config_edit import parse_value
    from ztctl.errors import InvalidInput

    if api_token:
        from ztctl.cli.cftoken import login_api_token

        login_api_token(app)
        return
    from ztctl.core.login import LoginRequest, login

    if team is not None:
        team = parse_value("team", team)  # a bad name: exit 3 before anything happens
    catalog = None
    try:
        catalog = app.catalog()
    except InvalidInput:
        if app.catalog_source:
            raise
        catalog = None  # no catalog configured: WARP only (the team from WARP itself), no tokens
    request = LoginRequest(
        config=app.config,
        catalog=catalog,
        state_dir=app.state_dir,
        team=team,
        interactive=app.interactive,
        no_browser=no_browser,
        env=app.env,
    )
    with _Progress(app) as progress:
        result = login(request, on_event=progress)
    saved = _save_settings(app, result) if result.ok else []
    payload = {
        **result.to_dict(),
        "saved": {"path": str(app.config.path), "keys": saved} if saved else None,
    }
    emit(app, payload, lambda: _text(result))
    if saved:
        app.info(f"Saved {' and '.join(saved)} to {app.config.path}.")
    if not result.ok:
        app.exit(1)


def _save_settings(app: App, result: LoginResult) -> list[str]:
    """Keep what this login was told or learned, so the next one needs no options.

    The team when it came from --team or from WARP (its registration or MDM file); the
    catalog when --catalog was given on the command line (an environment variable is the
    user's own setting to keep). A file path is saved absolute.
    """
    from pathlib import Path

    from ztctl.core.config_edit import set_values

    updates: dict[str, str] = {}
    if result.team_source in {"option", "warp", "mdm"} and app.config.team != result.team:
        updates["team"] = result.team
    source = app.catalog_option
    if source and app.catalog_on_command_line:
        if "://" not in source:
            source = str(Path(source).expanduser().resolve())
        if source != app.config.catalog:
            updates["catalog"] = source
    if not updates:
        return []
    from ztctl.errors import ZtctlError

    try:
        set_values(app.config.path, updates)
    except ZtctlError as error:  # logged in all the same: say what was not kept, and why
        app.warn(
            f"logged in, but could not save {', '.join(updates)}: {error.message} ({error.fix})"
        )
        return []
    return list(updates)


class _Progress:
    """A spinner on a TTY (stderr); elsewhere only what the user must read."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.status: Any = None
        self.tty = sys.stderr.isatty() and not app.quiet

    def __enter__(self) -> _Progress:
        if self.tty:
            self.status = self.app.err.status("Logging in", spinner="dots")
            self.status.__enter__()
            install_terminal_guard()  # in front of rich's redirect of stdout/stderr
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.__exit__(None, None, None)

    def __call__(self, kind: str, text: str) -> None:
        if kind == "progress":
            if self.status is not None:
                self.status.update(terminal_text(text))
            else:
                self.app.debug(text)
        elif kind == "action":
            # always: a person must act
            self.app.err.print(terminal_text(text), markup=False, highlight=False)
        else:
            self.app.info(text)


def _text(result: LoginResult) -> None:
    lines = []
    for step in result.steps:
        name = step.name if step.cluster is None else f"{step.name} {step.cluster}"
        lines.append(f"{_MARK.get(step.status, step.status):<8} {name:<22} {step.summary}")
        if step.fix:
            lines.append(f"{'':<8} {'':<22} fix: {step.fix}")
    who = f" as {result.identity}" if result.identity else ""
    if not result.ok:
        lines.append(f"Logged in to team {result.team!r}{who}, but a problem remains (see FAIL).")
    elif result.changed:
        lines.append(f"Logged in to team {result.team!r}{who}.")
    else:
        lines.append(f"Already logged in to team {result.team!r}{who}: nothing changed.")
    click.echo("\n".join(lines))
