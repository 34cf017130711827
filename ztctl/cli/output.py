"""One renderer: the same result as rich text or as one JSON document on stdout.

Commands hand over a JSON-ready ``payload`` (dict) and a function that draws the text form.
Under ``--json`` stdout carries exactly ``{"schemaVersion": 1, **payload}``; errors become
``{"schemaVersion": 1, "error": {...}}``. Progress and warnings always go to stderr.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ztctl.core.errors import ZtctlError

if TYPE_CHECKING:
    from ztctl.cli.app import App

SCHEMA_VERSION = 1

F = TypeVar("F", bound=Callable[..., Any])


def json_document(payload: Mapping[str, Any]) -> str:
    return json.dumps({"schemaVersion": SCHEMA_VERSION, **payload}, indent=2, default=str)


def emit(app: App, payload: Mapping[str, Any], text: Callable[[], None]) -> None:
    """Print ``payload`` as JSON under --json, else call ``text`` to draw it on stdout.

    ``text`` draws with :func:`print_table`/``click.echo`` for plain data, or with
    ``app.out`` (a rich console) where colour and live updates earn their import cost.
    """
    if app.json:
        sys.stdout.write(json_document(payload) + "\n")
        sys.stdout.flush()
    else:
        text()


def print_table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, color: bool = False
) -> None:
    """kubectl-style columns: left-aligned, separated by three spaces, no wrapping.

    Plain text keeps piping (`| grep`, `| awk`) predictable and avoids importing rich for
    the commands people run most; ``color`` only makes the header bold.
    """
    table = [list(headers), *([str(cell) for cell in row] for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(table):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        line = "   ".join(cells).rstrip()
        if index == 0 and color:
            line = f"\x1b[1m{line}\x1b[0m"
        lines.append(line)
    sys.stdout.write("\n".join(lines) + "\n")


def use_color(app: App) -> bool:
    """Colour on stdout: a terminal, and neither --no-color nor NO_COLOR."""
    return not app.no_color and sys.stdout.isatty() and app.env.get("TERM") != "dumb"


def render_error(error: ZtctlError, *, as_json: bool, verbose: bool = False) -> None:
    if as_json:
        sys.stdout.write(json_document({"error": error.to_dict()}) + "\n")
        sys.stdout.flush()
        return
    lines = [f"error: {error.message}"]
    lines.extend(f"  {detail}" for detail in error.details)
    if error.fix:
        lines.append(f"fix: {error.fix}")
    sys.stderr.write("\n".join(lines) + "\n")
    if verbose and error.__cause__ is not None:
        import traceback

        traceback.print_exception(error.__cause__, file=sys.stderr)


def json_option(func: F) -> F:
    """Add ``--json`` to a command; it switches the App (and error rendering) to JSON."""

    def callback(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        if value and isinstance(ctx.obj, object) and hasattr(ctx.obj, "json"):
            ctx.obj.json = True
        return value

    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=callback,
        help="Print one JSON document on stdout (schemaVersion 1).",
    )(func)


def pass_app(func: F) -> F:
    """Hand the command the :class:`App` as its first argument."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        return func(ctx.find_root().obj, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def local_time(epoch: float, now: float | None = None) -> str:
    """The one way text output shows a moment: local time with its zone, and how far off.

    ``14:05:09 CET (in 1h2m5s)`` today; ``2026-12-05 09:00:00 CET (3d ago)`` on another day.
    JSON keeps RFC 3339 in UTC.
    """
    import time
    from datetime import datetime

    from ztctl.core.duration import format_duration

    now = time.time() if now is None else now
    moment = datetime.fromtimestamp(epoch).astimezone()
    today = datetime.fromtimestamp(now).astimezone().date()
    shape = "%H:%M:%S %Z" if moment.date() == today else "%Y-%m-%d %H:%M:%S %Z"
    delta = epoch - now
    if abs(delta) < 1:
        relative = "now"
    elif delta > 0:
        relative = f"in {format_duration(round(delta))}"
    else:
        relative = f"{format_duration(round(-delta))} ago"
    return f"{moment.strftime(shape).strip()} ({relative})"
