"""The duration grammar, as tables: each row is one rule of what `--ttl`/`maxTtl` accept.

A duration is one or more ``<digits><unit>`` parts with unit s, m, h or d, nothing else
around it but surrounding blanks, case-insensitive, and longer than zero.
"""

from __future__ import annotations

import pytest

from ztctl.core.duration import format_duration, parse_duration

ACCEPTED = [
    ("1s", 1),
    ("90s", 90),
    ("15m", 15 * 60),
    ("4h", 4 * 3600),
    ("2d", 2 * 86400),
    ("1h30m", 3600 + 30 * 60),
    ("1d2h3m4s", 86400 + 2 * 3600 + 3 * 60 + 4),
    ("1m1m", 120),  # repeated units add up
    ("0h5m", 300),  # a zero part is fine while the whole is positive
    ("  30m  ", 1800),  # surrounding blanks are ignored
    ("\t2h\n", 7200),
    ("4H", 4 * 3600),  # units are case-insensitive
    ("1H30M", 5400),
    ("007m", 7 * 60),
]


@pytest.mark.parametrize(("text", "seconds"), ACCEPTED)
def test_accepted_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


# (text, a phrase the reason must contain)
REJECTED = [
    ("", "is not a duration"),
    ("   ", "is not a duration"),
    ("30", "has no unit: write e.g. 30m or 30s"),
    (" 30 ", "has no unit"),
    ("m", "is not a duration"),
    ("h30", "is not a duration"),
    ("1h garbage", "is not a duration"),  # trailing text after a valid part
    ("1h ", None),  # trailing blank only: accepted (checked below), so not here
    ("garbage 1h", "is not a duration"),  # leading text before a valid part
    ("1h\n2m", "is not a duration"),  # a newline inside
    ("1h 30m", "is not a duration"),  # inner blanks are not part of the grammar
    ("1.5h", "is not a duration"),
    ("-1h", "is not a duration"),
    ("+1h", "is not a duration"),
    ("1w", "is not a duration"),  # weeks are not a unit
    ("1ms", "is not a duration"),
    ("1hm", "is not a duration"),
    ("1h30", "is not a duration"),  # a trailing number without unit
    ("0s", "must be longer than zero"),
    ("0h0m", "must be longer than zero"),
    ("00m", "must be longer than zero"),
]


@pytest.mark.parametrize(("text", "reason"), [(t, r) for t, r in REJECTED if r is not None])
def test_rejected_durations(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    message = str(caught.value)
    assert reason in message
    assert repr(text) in message  # the reason quotes what was written


NOT_A_DURATION = "is not a duration like 30m, 4h or 1h30m"

# (text, the whole reason): what is quoted back, and how a long input is cut
REASONS = [
    ("0", "'0' must be longer than zero: write e.g. 30m or 1h"),
    (" 000 ", "' 000 ' must be longer than zero: write e.g. 30m or 1h"),
    ("1", "'1' has no unit: write e.g. 1m or 1s"),
    ("0s", "'0s' must be longer than zero"),
    ("1h garbage", f"'1h garbage' {NOT_A_DURATION}"),
    ("a" * 32, f"'{'a' * 32}' {NOT_A_DURATION}"),  # 32 characters: quoted whole
    (
        "a" * 33,
        f"'{'a' * 32}…' is too long for a duration like 30m, 4h or 1h30m",  # cut at 32
    ),
    (
        "1" * 40 + "s",
        f"'{'1' * 32}…' is too long for a duration like 30m, 4h or 1h30m",
    ),
    ("  " + "a" * 31 + "  ", f"'  {'a' * 30}…' {NOT_A_DURATION}"),  # blanks count when quoted
]


@pytest.mark.parametrize(("text", "reason"), REASONS)
def test_the_whole_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == reason


def test_the_longest_duration_text() -> None:
    assert parse_duration("1" * 31 + "s") == int("1" * 31)  # 32 characters: read
    assert parse_duration("  " + "1" * 31 + "s  ") == int("1" * 31)  # blanks do not count


def test_trailing_blank_is_not_garbage() -> None:
    assert parse_duration("1h ") == 3600


FORMATTED = [
    (0, "0s"),
    (0.4, "0s"),  # rounds to the nearest second
    (0.6, "1s"),
    (-5, "0s"),  # never negative
    (1, "1s"),
    (59, "59s"),
    (60, "1m"),
    (61, "1m1s"),
    (3600, "1h"),
    (3725, "1h2m5s"),
    (86400, "1d"),
    (90061, "1d1h1m1s"),
    (2 * 86400 + 30, "2d30s"),  # zero parts are left out
]


@pytest.mark.parametrize(("seconds", "text"), FORMATTED)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [1, 59, 60, 3599, 3600, 3725, 86399, 86400, 90061, 10**6])
def test_format_then_parse_round_trips(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds
