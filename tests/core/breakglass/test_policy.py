"""The reason rule and the TTL rule (pure)."""

from __future__ import annotations

import pytest

from ztctl.core.breakglass.policy import resolve_ttl, validate_reason
from ztctl.core.errors import UsageError

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
    assert validate_reason(f"  {reason}\n ") == " ".join(reason.split())


@pytest.mark.parametrize("reason", BAD_REASONS)
def test_empty_short_or_placeholder_reasons_are_refused_with_an_example(reason: str) -> None:
    with pytest.raises(UsageError) as caught:
        validate_reason(reason)
    assert caught.value.exit_code == 2
    assert "--reason" in caught.value.fix


def test_reason_with_control_characters_or_too_long_is_refused() -> None:
    with pytest.raises(UsageError, match="control characters"):
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
    ("  WARP   outage\tin eu ", "WARP outage in eu"),
    ("", None),
    ("test test test", None),
    ("asdfasdf qwerty", None),
    ("emergency incident", None),
    ("tunnel\x07 down in prod-eu", None),
    ("x" * 501, None),
]


@pytest.mark.parametrize(("text", "kept"), REASON_CASES)
def test_reason_rule(text: str, kept: str | None) -> None:
    if kept is None:
        with pytest.raises(UsageError):
            validate_reason(text)
    else:
        assert validate_reason(text) == kept
