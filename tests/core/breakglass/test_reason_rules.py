"""The break-glass reason rule at its edges, as a table (pure).

A reason is at least 10 characters, and has at least two *different* meaningful words (not
placeholders, not keyboard noise), one of them at least three letters long.
"""

from __future__ import annotations

import pytest

from ztctl.core.breakglass.policy import MAX_REASON, validate_reason
from ztctl.core.errors import EXIT_USAGE, UsageError

# (reason, accepted?, why)
EDGES = [
    ("INC-4711 connector down", True, "two meaningful words"),
    ("cloudflared restart", True, "exactly two meaningful words"),
    ("db is down", True, "'db' and 'down': one of them has three letters"),
    ("cloudflared emergency", False, "one meaningful word and a placeholder"),
    ("restart please", False, "one meaningful word and a placeholder"),
    ("INC-4711 test", False, "a ticket number alone, plus a placeholder"),
    ("connector connector connector", False, "one word, repeated"),
    ("Connector CONNECTOR connector", False, "the same word in other cases"),
    ("cloudflared asdfasdf", False, "one word and keyboard noise"),
    ("cloudflared jjjjjj", False, "one word and a run of one letter"),
    ("cloudflared abab abab", False, "one word and a repeated pair"),
    ("ab cd ef gh ij", False, "no meaningful word of three letters"),
    ("db down", False, "under 10 characters"),
    ("vpn failed", True, "exactly 10 characters"),
    ("x" * MAX_REASON, False, "one word"),
]


@pytest.mark.parametrize(("reason", "accepted", "why"), EDGES)
def test_reason_edges(reason: str, accepted: bool, why: str) -> None:
    if accepted:
        assert validate_reason(reason) == reason, why
        return
    with pytest.raises(UsageError) as caught:
        validate_reason(reason)
    assert caught.value.exit_code == EXIT_USAGE, why
    assert "does not say what is broken or why" in caught.value.message, why
    assert "--reason 'INC-4711" in caught.value.fix


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "break-glass needs a reason"),
        (" \t ", "break-glass needs a reason"),
        ("INC-1 tunnel down\x00", "contains control characters"),
        ("INC-1 tunnel down\x1b[31m", "contains control characters"),
        ("INC-1 tunnel " + "down " * 100, "characters long (at most 500)"),
    ],
)
def test_reasons_refused_before_the_words_are_read(reason: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        validate_reason(reason)
    assert message in caught.value.message and caught.value.exit_code == EXIT_USAGE


def test_the_longest_reason_is_kept() -> None:
    reason = ("INC-4711 connector down " * 30)[: MAX_REASON - 1] + "x"
    reason = " ".join(reason.split())
    assert len(reason) <= MAX_REASON
    assert validate_reason(reason) == reason
    assert validate_reason("INC-1 tunnel\n  down\tin eu") == "INC-1 tunnel down in eu"
