"""`ztctl config`: read and edit the config file without hand-editing TOML."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ztctl.cli.output import emit, json_option, pass_app, print_table

if TYPE_CHECKING:
    from pathlib import Path

    from ztctl.cli.app import App


def _path(app: App) -> Path:
    from ztctl.core.config import config_path

    return config_path(app.config_option, app.env)


def _key_names(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[str]:
    from ztctl.core.config_edit import keys

    return [key for key in keys() if key.startswith(incomplete)]


def _text_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        from ztctl.core.config import shown

        return shown(value)  # 3, 2.5; 600.0001 as given, never rounded
    return str(value)


@click.group("config")
def command() -> None:
    """Show and edit the config file (keys are dotted: team, catalog, warp.cli, ...)"""


@command.command("path")
@json_option
@pass_app
def path_command(app: App) -> None:
    """Print the config file's path (it need not exist yet)"""
    path = _path(app)
    emit(
        app,
        {"path": str(path), "exists": path.exists()},
        lambda: click.echo(str(path)),
    )


@command.command("show")
@json_option
@pass_app
def show_command(app: App) -> None:
    """Show every key's value and where it comes from (file, env or default)"""
    from ztctl.core.config_edit import settings

    path = _path(app)
    found = settings(path, app.env)
    payload = {
        "path": str(path),
        "exists": path.exists(),
        "settings": [{"key": s.key, "value": s.value, "source": s.source} for s in found],
    }

    def text() -> None:
        click.echo(f"# {path}{'' if path.exists() else ' (does not exist yet: all defaults)'}")
        print_table(
            ("KEY", "VALUE", "SOURCE"),
            ((s.key, _text_value(s.value) or "-", s.source) for s in found),
        )

    emit(app, payload, text)


@command.command("get")
@click.argument("key", shell_complete=_key_names)
@json_option
@pass_app
def get_command(app: App, key: str) -> None:
    """Print KEY's effective value (exit 1 when it has none)"""
    from ztctl.core.config_edit import effective, public_value, split_key
    from ztctl.errors import OperationFailed

    split_key(key)  # unknown key: exit 3 before reading anything
    value = public_value(effective(app.config, key))
    if value is None:
        raise OperationFailed(
            f"{key} is not set in {app.config.path}", f"set it with `ztctl config set {key} VALUE`"
        )
    emit(app, {"key": key, "value": value}, lambda: click.echo(_text_value(value)))


# `config set doctor.timeout -1`: a VALUE that starts with '-' is a value, not an unknown
# option (the key's rule then refuses it, exit 3); `--json` is still the option.
@command.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("key", shell_complete=_key_names)
@click.argument("value")
@json_option
@pass_app
def set_command(app: App, key: str, value: str) -> None:
    """Set KEY to VALUE in the config file (validated; comments are kept)"""
    from ztctl.core.config_edit import parse_value, public_value, set_values

    typed = parse_value(key, value)
    path = _path(app)
    changed = set_values(path, {key: typed})
    shown = public_value(typed)
    payload = {"path": str(path), "key": key, "value": shown, "changed": changed}
    message = f"{key} = {_text_value(shown)} in {path}" + ("" if changed else " (unchanged)")
    emit(app, payload, lambda: app.info(message))


@command.command("unset")
@click.argument("key", shell_complete=_key_names)
@json_option
@pass_app
def unset_command(app: App, key: str) -> None:
    """Remove KEY from the config file (it falls back to its default)"""
    from ztctl.core.config_edit import unset_value

    path = _path(app)
    changed = unset_value(path, key)
    payload = {"path": str(path), "key": key, "changed": changed}
    message = f"removed {key} from {path}" if changed else f"{key} was not set in {path}"
    emit(app, payload, lambda: app.info(message))
