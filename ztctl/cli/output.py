"""One renderer: the same result as rich text or as one JSON document on stdout.

Commands hand over a JSON-ready ``payload`` (dict) and a function that draws the text form.
Under ``--json`` stdout carries exactly ``{"schemaVersion": 1, **payload}``; errors become
``{"schemaVersion": 1, "error": {...}}``. Progress and warnings always go to stderr.

Text that reaches a terminal never carries control characters from the data: catalog
values, kubeconfig names, warp-cli or API server answers could otherwise retitle the
window, move the cursor, erase or forge lines (ESC/CSI/OSC, BEL, CR, BS, 8-bit CSI, bidi
overrides). :func:`escape_terminal` shows them as visible ``\\x1b``/``\\u202e`` escapes;
:func:`install_terminal_guard` applies it to *everything* written to stdout/stderr. ztctl's
own colours and line rewrites are written as unforgeable tokens (:mod:`ztctl.cli.palette`)
that only the guard turns into escape codes, so no sequence is let through because of its
shape. rich (doctor's live table, login's spinner) writes to the unguarded stream: what it
draws from the data is escaped before it is handed to rich (:func:`terminal_text`), and
while rich redirects stdout/stderr the guard is put back in front of its redirect
(:func:`install_terminal_guard` again). JSON needs none of this: it is escaped by ``json``.
"""

from __future__ import annotations

import functools
import io
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ztctl.cli.palette import OWN_SEQUENCES, TOKEN_END, TOKEN_START, Palette
from ztctl.errors import ZtctlError

if TYPE_CHECKING:
    from ztctl.cli.app import App

SCHEMA_VERSION = 1

# C0 controls (tab and newline are kept where a text has lines), DEL, C1 (incl. U+009B, the
# 8-bit CSI), the bidi marks, embeddings, overrides and isolates, the zero-width and other
# invisible format characters, and U+2028/U+2029 (which some terminals break lines at).
_INVISIBLE = "\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff"
_UNSAFE = re.compile(f"[\x00-\x08\x0a-\x1f\x7f-\x9f{_INVISIBLE}]")
_UNSAFE_MULTILINE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_INVISIBLE}]")
# A token of ztctl's own sequences (cli.palette): only the guard turns it into escape codes.
_OWN_TOKEN = re.compile(re.escape(TOKEN_START) + r"(\d+)" + re.escape(TOKEN_END))


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_terminal(text: str, *, multiline: bool = False) -> str:
    """``text`` with control and bidi characters made visible (``\\x1b``, ``\\u202e``).

    ``multiline`` keeps newlines (and tabs, always kept); otherwise a newline is escaped
    too, so one value stays on one line.
    """
    pattern = _UNSAFE_MULTILINE if multiline else _UNSAFE
    return pattern.sub(_escape, text) if pattern.search(text) else text


def render_terminal(text: str) -> str:
    """What reaches the terminal for ``text``: ztctl's own tokens become their sequences,
    every other control or bidi character (newline and tab kept) a visible escape."""
    if TOKEN_START not in text:
        return escape_terminal(text, multiline=True)
    out = []
    position = 0
    for match in _OWN_TOKEN.finditer(text):
        out.append(escape_terminal(text[position : match.start()], multiline=True))
        out.append(OWN_SEQUENCES[int(match.group(1))])
        position = match.end()
    out.append(escape_terminal(text[position:], multiline=True))
    return "".join(out)


def terminal_text(text: str) -> str:
    """``text`` from the data made safe to hand to rich (which writes unguarded)."""
    return escape_terminal(text, multiline=True)


class _GuardedStream(io.TextIOBase):
    """A text stream that writes :func:`render_terminal` of its text to ``inner``."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError("write() argument must be str")  # click probes with b""
        self._inner.write(render_terminal(text))
        return len(text)

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return bool(self._inner.isatty())

    def fileno(self) -> int:
        return int(self._inner.fileno())

    def writable(self) -> bool:
        return True

    # io.TextIOBase defines these (as None): delegate, so click writes through this stream.
    @property
    def encoding(self) -> Any:  # type: ignore[override]
        return self._inner.encoding

    @property
    def errors(self) -> Any:  # type: ignore[override]
        return self._inner.errors

    @property
    def newlines(self) -> Any:  # type: ignore[override]
        return getattr(self._inner, "newlines", None)

    def __getattr__(self, name: str) -> Any:  # encoding, errors, buffer, ...
        return getattr(self._inner, name)


def install_terminal_guard() -> None:
    """Route ``sys.stdout``/``sys.stderr`` through :func:`render_terminal` (idempotent).

    Also after rich's live display replaced them with its redirect: the guard goes in front
    of the redirect (rich restores the guarded streams when it stops)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, _GuardedStream):
            setattr(sys, name, _GuardedStream(stream))


def unguarded(stream: Any) -> Any:
    """The stream under the guard: for rich, which draws its own sequences and is handed
    only escaped data (:func:`terminal_text`)."""
    return stream._inner if isinstance(stream, _GuardedStream) else stream


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
    table = [list(headers), *([escape_terminal(str(cell)) for cell in row] for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(table):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        line = "   ".join(cells).rstrip()
        if index == 0:
            line = Palette(color)(line, "heading")
        lines.append(line)
    sys.stdout.write("\n".join(lines) + "\n")


def render_error(error: ZtctlError, *, as_json: bool, verbose: bool = False) -> None:
    if as_json:
        sys.stdout.write(json_document({"error": error.to_dict()}) + "\n")
        sys.stdout.flush()
        return
    lines = [f"error: {escape_terminal(error.message)}"]
    lines.extend(f"  {escape_terminal(detail)}" for detail in error.details)
    if error.fix:
        lines.append(f"fix: {escape_terminal(error.fix)}")
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
