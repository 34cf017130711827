"""Durations as people write them: ``90s``, ``15m``, ``4h``, ``1h30m``, ``2d``."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# ASCII digits only (``\d`` also matches other scripts' digits), always with fullmatch.
_PART = re.compile(r"([0-9]+)([smhd])")
_WHOLE = re.compile(r"(?:[0-9]+[smhd])+")
_DIGITS = re.compile(r"[0-9]+")
MAX_TEXT = 32  # longer than any sensible duration; keeps int() and messages bounded


def _shown(text: str) -> str:
    return repr(text) if len(text) <= MAX_TEXT else repr(text[:MAX_TEXT])[:-1] + "…'"


def parse_duration(text: str) -> int:
    """Seconds in ``text``; raises ValueError with a readable reason."""
    value = text.strip().lower()
    if len(value) > MAX_TEXT:
        raise ValueError(f"{_shown(text)} is too long for a duration like 30m, 4h or 1h30m")
    if _DIGITS.fullmatch(value):
        if int(value) == 0:
            raise ValueError(f"{_shown(text)} must be longer than zero: write e.g. 30m or 1h")
        raise ValueError(f"{_shown(text)} has no unit: write e.g. {value}m or {value}s")
    if not value or not _WHOLE.fullmatch(value):
        raise ValueError(f"{_shown(text)} is not a duration like 30m, 4h or 1h30m")
    seconds = sum(int(n) * _UNITS[u] for n, u in _PART.findall(value))
    if seconds <= 0:
        raise ValueError(f"{_shown(text)} must be longer than zero")
    return seconds


def format_duration(seconds: float) -> str:
    """``3725`` → ``1h2m5s``; ``0`` → ``0s``."""
    total = max(0, round(seconds))
    if total == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)
