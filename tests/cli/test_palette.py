"""The one palette: named styles, painted only when colour is on."""

from __future__ import annotations

import io

from ztctl.cli.app import App
from ztctl.cli.output import render_terminal
from ztctl.cli.palette import Palette, color_on


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_styles_and_statuses_paint_the_same_way() -> None:
    def paint(text: str, style: str) -> str:  # what reaches the terminal
        return render_terminal(Palette(True)(text, style))

    assert paint("FAIL", "fail") == paint("FAIL", "red") == "\x1b[31mFAIL\x1b[0m"
    assert paint("ok", "ready") == "\x1b[32mok\x1b[0m"
    assert paint("+a", "added") == "\x1b[32m+a\x1b[0m"
    assert paint("x", "heading") == "\x1b[1mx\x1b[0m"


def test_no_colour_leaves_text_untouched() -> None:
    assert Palette(False)("FAIL", "fail") == "FAIL"


def test_colour_only_on_a_terminal_without_opt_outs() -> None:
    assert color_on(App(env={"TERM": "xterm"}), Tty())
    assert not color_on(App(env={"TERM": "xterm"}), io.StringIO())
    assert not color_on(App(env={"TERM": "dumb"}), Tty())
    assert not color_on(App(env={}, no_color=True), Tty())
