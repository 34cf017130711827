"""A spinner on stderr for waits that may last: shown only on a TTY and after ~300 ms.

Plain ANSI on a thread rather than rich: the commands that use it (use-cluster) must keep
their start-up small, and a wait that ends within 300 ms should print nothing at all.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from ztctl.cli.palette import CARRIAGE_RETURN, CLEAR_LINE

FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
DELAY_S = 0.3
INTERVAL_S = 0.08


@contextmanager
def spinner(text: str, *, enabled: bool = True, stream: TextIO | None = None) -> Iterator[None]:
    """Show ``⠋ text`` on ``stream`` (stderr) while the block runs, then erase it."""
    out = stream or sys.stderr
    if not enabled or not out.isatty():
        yield
        return
    stop = threading.Event()
    shown = threading.Event()

    def spin() -> None:
        if stop.wait(DELAY_S):
            return
        frame = 0
        while not stop.is_set():
            out.write(f"{CARRIAGE_RETURN}{FRAMES[frame % len(FRAMES)]} {text}")
            out.flush()
            shown.set()
            frame += 1
            stop.wait(INTERVAL_S)

    thread = threading.Thread(target=spin, name="ztctl-spinner", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        if shown.is_set():
            out.write(CLEAR_LINE)
            out.flush()
