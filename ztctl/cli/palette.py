"""The one palette of every text renderer: named styles, when colour is on, and the ANSI codes.

Renderers name a style (``"green"``, ``"bold"``, or a status such as ``"fail"``) and never
write escape codes themselves. The same style names work for the rich live views (doctor's
table), so a status looks the same wherever it is drawn. No rich import here: the plain
renderers stay cheap to start.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from ztctl.cli.app import App

# Style name → ANSI SGR parameter.
_SGR = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}

# What a status looks like, in every renderer (doctor's rows, probe's verdict, diffs).
STATUS_STYLES: Mapping[str, str] = {
    "pass": "green",
    "ready": "green",
    "warn": "yellow",
    "warning": "yellow",
    "fail": "red",
    "error": "red",
    "skip": "dim",
    "debug": "dim",
    "added": "green",
    "removed": "red",
    "hunk": "cyan",
    "heading": "bold",
}

# The sequences ztctl writes itself, by index, and how a token names one.
OWN_SEQUENCES: tuple[str, ...] = (
    "\x1b[0m",
    *(f"\x1b[{code}m" for code in _SGR.values()),
    "\r\x1b[2K",
    "\r",
)
TOKEN_START = f"\ue000{os.urandom(8).hex()}:"
TOKEN_END = "\ue001"  # noqa: S105 (not a secret: the end of a token)


def own(sequence: str) -> str:
    """The token the terminal guard turns into ``sequence`` (one of :data:`OWN_SEQUENCES`)."""
    return f"{TOKEN_START}{OWN_SEQUENCES.index(sequence)}{TOKEN_END}"


_RESET = own("\x1b[0m")
_STYLE = {name: own(f"\x1b[{code}m") for name, code in _SGR.items()}

# Rewrite the current terminal line in place (a live progress line).
CLEAR_LINE = own("\r\x1b[2K")
# Back to the start of the line (a spinner's next frame).
CARRIAGE_RETURN = own("\r")


def color_on(app: App, stream: TextIO) -> bool:
    """Colour on ``stream``: a terminal, and neither --no-color, NO_COLOR nor TERM=dumb."""
    return not app.no_color and stream.isatty() and app.env.get("TERM") != "dumb"


class Palette:
    """Paints text in a named style when ``enabled``; returns it untouched otherwise.

    (A plain class: a dataclass costs ~0.3 ms to create at every start.)"""

    __slots__ = ("enabled",)

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, style: str) -> str:
        if not self.enabled:
            return text
        name = STATUS_STYLES.get(style, style)
        return f"{_STYLE[name]}{text}{_RESET}"


def stdout_palette(app: App) -> Palette:
    return Palette(color_on(app, sys.stdout))


def stderr_palette(app: App) -> Palette:
    return Palette(color_on(app, sys.stderr))
