"""The spinner: nothing for short waits or off a TTY; frames, then a clean line, for long ones."""

from __future__ import annotations

import io
import time

from ztctl.cli.output import render_terminal
from ztctl.cli.spinner import DELAY_S, spinner


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_short_wait_prints_nothing() -> None:
    out = FakeTty()
    with spinner("Probing lab", stream=out):
        time.sleep(DELAY_S / 10)
    assert out.getvalue() == ""


def test_a_long_wait_spins_then_clears_the_line() -> None:
    out = FakeTty()
    with spinner("Probing lab", stream=out):
        time.sleep(DELAY_S + 0.3)
    text = render_terminal(out.getvalue())  # what the terminal guard writes
    assert "Probing lab" in text
    assert text.count("\r") >= 3  # redrawn in place
    assert text.endswith("\r\x1b[2K")  # and the line is left empty for what follows


def test_not_a_tty_or_disabled_prints_nothing() -> None:
    piped = io.StringIO()
    with spinner("Probing lab", stream=piped):
        time.sleep(DELAY_S + 0.1)
    assert piped.getvalue() == ""
    quiet = FakeTty()
    with spinner("Probing lab", stream=quiet, enabled=False):
        time.sleep(DELAY_S + 0.1)
    assert quiet.getvalue() == ""
