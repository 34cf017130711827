"""`ztctl version`: ztctl's version, Python, the platform, and the tools ztctl drives."""

from __future__ import annotations

import platform
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import click

from ztctl.cli.output import emit, json_option, pass_app, print_table

if TYPE_CHECKING:
    from ztctl.adapters.toolversions import ToolVersion
    from ztctl.cli.app import App


@click.command("version")
@json_option
@pass_app
def command(app: App) -> None:
    """Print the versions of ztctl, Python, the platform, warp-cli, cloudflared and kubectl"""
    from ztctl import __version__

    tools = _tool_versions(app)
    payload: dict[str, Any] = {
        "ztctl": __version__,
        "python": platform.python_version(),
        "platform": f"{sys.platform}-{platform.machine()}",
        "tools": {tool.name: {"path": tool.path, "version": tool.version} for tool in tools},
    }
    emit(app, payload, lambda: _text(payload, tools))


def _tool_versions(app: App) -> list[ToolVersion]:
    from ztctl.adapters.toolversions import tool_version
    from ztctl.errors import ZtctlError

    warp_cli, cloudflared = "warp-cli", "cloudflared"
    try:  # a broken config must not stop `version`, which is what a bug report starts with
        warp_cli, cloudflared = app.config.warp.cli, app.config.access.cloudflared
    except ZtctlError as error:
        app.warn(f"{error.message}; using the default tool names")
    asks = [
        ("warp-cli", warp_cli, ["--version"]),
        ("cloudflared", cloudflared, ["--version"]),
        ("kubectl", "kubectl", ["version", "--client"]),
    ]
    with ThreadPoolExecutor(max_workers=len(asks)) as pool:
        return list(pool.map(lambda ask: tool_version(*ask), asks))


def _text(payload: dict[str, Any], tools: list[ToolVersion]) -> None:
    rows = [
        ("ztctl", payload["ztctl"], ""),
        ("python", payload["python"], sys.executable),
        ("platform", payload["platform"], ""),
    ]
    for tool in tools:
        version = tool.version or ("not found" if tool.path is None else "unknown")
        if tool.problem:
            version += f" ({tool.problem})"
        rows.append((tool.name, version, tool.path or ""))
    print_table(("COMPONENT", "VERSION", "PATH"), rows)
