"""The reason rule and the TTL rule (pure)."""

from __future__ import annotations

import pytest

from ztctl.core.breakglass.policy import MAX_TTL_S, resolve_ttl, validate_reason
from ztctl.errors import InvalidInput, UsageError

# --- reasons ---------------------------------------------------------------------------

GOOD_REASONS = [
    "INC-4711 Zero Trust tunnel down",
    "WARP outage in eu",
    "zt is down, need to restart cloudflared",
    "cloudflared pods crashlooping in prod-eu, INC-12",
    "Störung: Tunnel antwortet nicht",
]
BAD_REASONS = [
    "",
    "   ",
    "x",
    "test",
    "asdf",
    "n/a",
    "TODO",
    "test test test",
    "asdfasdf qwerty",
    "asdfghjkl qwertyuiop",
    "emergency access",
    "break glass needed",
    "incident",
    "aaaa bbbb",
    "fix prod",
    "...........",
    "INC-4711",
]


@pytest.mark.parametrize("reason", GOOD_REASONS)
def test_meaningful_reasons_pass_normalised(reason: str) -> None:
    assert validate_reason(f"  {reason}  ") == " ".join(reason.split())


@pytest.mark.parametrize("reason", BAD_REASONS)
def test_empty_short_or_placeholder_reasons_are_refused_with_an_example(reason: str) -> None:
    with pytest.raises(UsageError) as caught:
        validate_reason(reason)
    assert caught.value.exit_code == 2
    assert "--reason" in caught.value.fix


def test_reason_with_control_characters_or_too_long_is_refused() -> None:
    with pytest.raises(UsageError, match="control character"):
        validate_reason("INC-4711 tunnel down\x1b[2J")
    with pytest.raises(UsageError, match="characters long"):
        validate_reason("tunnel down " * 60)


def test_none_reason_is_refused() -> None:
    with pytest.raises(UsageError, match="needs a reason"):
        validate_reason(None)


# --- TTL -------------------------------------------------------------------------------


def test_default_ttl_is_one_hour_or_max_ttl_when_shorter() -> None:
    assert resolve_ttl(None, 4 * 3600, "c") == 3600
    assert resolve_ttl(None, 900, "c") == 900
    assert resolve_ttl("", 900, "c") == 900


def test_ttl_up_to_max_ttl_is_granted_in_seconds() -> None:
    assert resolve_ttl("2s", 3600, "c") == 2
    assert resolve_ttl("1h30m", 2 * 3600, "c") == 5400
    assert resolve_ttl("4h", 4 * 3600, "c") == 4 * 3600


def test_over_long_ttl_is_refused_naming_the_limit() -> None:
    with pytest.raises(UsageError) as caught:
        resolve_ttl("8h", 4 * 3600, "prod-eu")
    assert "maxTtl 4h" in caught.value.message
    assert "prod-eu" in caught.value.message
    assert "4h or less" in caught.value.fix


@pytest.mark.parametrize("text", ["forever", "10", "-5m", "0s", "1x"])
def test_malformed_ttl_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="invalid --ttl"):
        resolve_ttl(text, 3600, "c")


# --- the TTL rule ------------------------------------------------------------------------

HOUR = 3600
TTL_CASES = [
    # --ttl, maxTtl, seconds granted (None: refused as a usage error)
    (None, 4 * HOUR, HOUR),  # default: one hour ...
    ("  ", 4 * HOUR, HOUR),
    (None, 30 * 60, 30 * 60),  # ... or maxTtl when that is shorter
    ("90s", HOUR, 90),
    ("1h30m", 2 * HOUR, 90 * 60),
    ("4h", 4 * HOUR, 4 * HOUR),  # exactly the limit
    ("4h1s", 4 * HOUR, None),  # one second over: refused, never shortened
    ("8h", 4 * HOUR, None),
    ("10", HOUR, None),  # no unit
    ("0s", HOUR, None),
    ("-5m", HOUR, None),
]


@pytest.mark.parametrize(("text", "max_ttl", "granted"), TTL_CASES)
def test_ttl_rule(text: str | None, max_ttl: int, granted: int | None) -> None:
    if granted is None:
        with pytest.raises(UsageError):
            resolve_ttl(text, max_ttl, "prod-eu")
    else:
        assert resolve_ttl(text, max_ttl, "prod-eu") == granted


REASON_CASES = [
    ("INC-4711 Zero Trust tunnel down", "INC-4711 Zero Trust tunnel down"),
    ("  WARP   outage  in eu ", "WARP outage in eu"),
    ("", None),
    ("test test test", None),
    ("asdfasdf qwerty", None),
    ("emergency incident", None),
    ("tunnel\x07 down in prod-eu", None),
    ("x" * 501, None),
]

# Every character a reason may not hold: it is written to terminals and the audit log as is.
REFUSED_CHARACTERS = [
    ("\x00", "control character (U+0000"),  # C0: all of them, tab and newline too
    ("\t", "control character (U+0009"),
    ("\n", "control character (U+000A"),
    ("\r", "control character (U+000D"),
    ("\x07", "control character (U+0007"),  # BEL
    ("\x1b", "control character (U+001B"),  # ESC
    ("\x1b]0;owned\x07", "control character (U+001B"),  # an OSC title
    ("\x1f", "control character (U+001F"),
    ("\x7f", "control character (U+007F"),  # DEL
    ("\x80", "control character (U+0080"),  # C1
    ("\x9b", "control character (U+009B"),  # 8-bit CSI
    ("\x9f", "control character (U+009F"),
    ("\u202a", "bidirectional-text control (U+202A"),  # LRE .. RLO
    ("\u202b", "bidirectional-text control (U+202B"),
    ("\u202c", "bidirectional-text control (U+202C"),
    ("\u202d", "bidirectional-text control (U+202D"),
    ("\u202e", "bidirectional-text control (U+202E"),
    ("\u2066", "bidirectional-text control (U+2066"),  # LRI .. PDI
    ("\u2067", "bidirectional-text control (U+2067"),
    ("\u2068", "bidirectional-text control (U+2068"),
    ("\u2069", "bidirectional-text control (U+2069"),
    ("\u2028", "line separator (U+2028"),
    ("\u200b", "invisible formatting character (U+200B"),  # zero-width space
]


@pytest.mark.parametrize(("char", "message"), REFUSED_CHARACTERS)
def test_reason_with_a_control_or_bidi_character_is_refused(char: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        validate_reason(f"INC-4711 Zero Trust{char} tunnel down")
    assert message in caught.value.message
    assert "position 20)" in caught.value.message  # where, without echoing the character
    assert char not in caught.value.message
    assert "plain text" in caught.value.fix


@pytest.mark.parametrize("char", ["\u00a0", "\u00e9", "\u2010", "\u3000"])
def test_reason_with_printable_unicode_is_kept(char: str) -> None:
    assert validate_reason(f"INC-4711 Zero Trust{char}tunnel down").startswith("INC-4711")


def test_max_ttl_over_seven_days_is_a_catalog_error_before_the_ttl() -> None:
    huge = 999999999999 * 86400
    for ttl in ("3000000d", "1h", None):
        with pytest.raises(InvalidInput) as caught:
            resolve_ttl(ttl, huge, "prod-eu")
        assert caught.value.exit_code == 3
        assert "over ztctl's limit of 7d" in caught.value.message
        assert "breakGlass.maxTtl of prod-eu to 7d or less" in caught.value.fix
    assert resolve_ttl("7d", MAX_TTL_S, "prod-eu") == 7 * 86400  # exactly the limit
    with pytest.raises(InvalidInput):
        resolve_ttl("1h", MAX_TTL_S + 1, "prod-eu")
    with pytest.raises(UsageError, match="maxTtl 7d"):
        resolve_ttl("3000000d", MAX_TTL_S, "prod-eu")


@pytest.mark.parametrize(("text", "kept"), REASON_CASES)
def test_reason_rule(text: str, kept: str | None) -> None:
    if kept is None:
        with pytest.raises(UsageError):
            validate_reason(text)
    else:
        assert validate_reason(text) == kept
