"""The break-glass reason rule at its edges, as a table (pure).

A reason is at least 10 characters, and has at least two *different* meaningful words (not
placeholders, not keyboard noise), one of them at least three letters long.
"""

from __future__ import annotations

import pytest

from ztctl.core.breakglass.policy import MAX_REASON, validate_reason
from ztctl.errors import EXIT_USAGE, UsageError

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
    ("cloudflared asdfgh", False, "one word and a row of the keyboard"),
    ("cloudflared qwertz", False, "one word and a row of the keyboard"),
    ("cloudflared zxcvbn", False, "one word and a row of the keyboard"),
    ("cloudflared hjklmn", False, "one word and a row of the keyboard"),
    ("cloudflared tartar", True, "a repeated unit of three letters is a word"),
    ("ab cd ef gh ij", False, "no meaningful word of three letters"),
    ("db down", False, "under 10 characters"),
    ("db vpn off", True, "three letters are enough for the longest word"),
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
        (" \t ", "contains a control character (U+0009 at position 2)"),  # a tab too
        ("INC-1 tunnel down\x00", "contains a control character (U+0000 at position 18)"),
        ("INC-1 tunnel down\x1b[31m", "contains a control character (U+001B at position 18)"),
        ("INC-1 tunnel " + "down " * 100, "characters long (at most 500)"),
    ],
)
def test_reasons_refused_before_the_words_are_read(reason: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        validate_reason(reason)
    assert message in caught.value.message and caught.value.exit_code == EXIT_USAGE


EXAMPLE = "e.g. --reason 'INC-4711: Zero Trust tunnel down, restart cloudflared'"


@pytest.mark.parametrize(
    ("reason", "message", "fix"),
    [
        (
            "INC-1 tunnel down\x07",
            "the break-glass reason contains a control character (U+0007 at position 18); it "
            "goes to the audit log and to terminals as it is",
            f"write it on one line of plain text, {EXAMPLE}",
        ),
        (
            "",
            "break-glass needs a reason: what is broken and why you need the out-of-band route",
            f"pass --reason, {EXAMPLE}",
        ),
        (
            "INC-1 tunnel " + "down " * 100,
            "the break-glass reason is 512 characters long (at most 500)",
            "keep it to a sentence and link the incident ticket for the details",
        ),
        (
            "test test",
            "the break-glass reason 'test test' does not say what is broken or why; it goes to "
            "the audit log for whoever reviews this access",
            f"say what is broken and why you need the route, {EXAMPLE}",
        ),
    ],
)
def test_reason_messages(reason: str, message: str, fix: str) -> None:
    with pytest.raises(UsageError) as caught:
        validate_reason(reason)
    assert (caught.value.message, caught.value.fix) == (message, fix)


GOOD = "INC-1 tunnel down"  # 17 characters: a refused one after it is at position 18
REFUSED_END = "; it goes to the audit log and to terminals as it is"

# (the character, its category, what the message calls it)
REFUSED_CHARACTERS = [
    ("\n", "Cc", "a control character (U+000A"),
    ("\x85", "Cc", "a control character (U+0085"),  # NEL, a C1 line break
    ("\u2028", "Zl", "a line separator (U+2028"),
    ("\u2029", "Zp", "a paragraph separator (U+2029"),
    ("\u200b", "Cf", "an invisible formatting character (U+200B"),  # zero-width space
    ("\u200d", "Cf", "an invisible formatting character (U+200D"),  # zero-width joiner
    ("\u2060", "Cf", "an invisible formatting character (U+2060"),  # word joiner
    ("\ufeff", "Cf", "an invisible formatting character (U+FEFF"),  # BOM
    ("\u00ad", "Cf", "an invisible formatting character (U+00AD"),  # soft hyphen
    ("\u200e", "Cf", "a bidirectional-text control (U+200E"),  # left-to-right mark
    ("\u200f", "Cf", "a bidirectional-text control (U+200F"),
    ("\u061c", "Cf", "a bidirectional-text control (U+061C"),  # Arabic letter mark
    ("\u202e", "Cf", "a bidirectional-text control (U+202E"),  # right-to-left override
    ("\u2066", "Cf", "a bidirectional-text control (U+2066"),  # left-to-right isolate
    ("\udcff", "Cs", "a byte that is not UTF-8 (U+DCFF"),  # how a bad argv byte arrives
]


@pytest.mark.parametrize(("char", "category", "what"), REFUSED_CHARACTERS)
def test_control_format_and_separator_characters_are_refused(
    char: str, category: str, what: str
) -> None:
    import unicodedata

    assert unicodedata.category(char) == category
    for reason in (f"{GOOD}{char} restart cloudflared", f"{GOOD}{char}"):
        with pytest.raises(UsageError) as caught:
            validate_reason(reason)
        assert caught.value.exit_code == EXIT_USAGE
        assert (caught.value.message, caught.value.fix) == (
            f"the break-glass reason contains {what} at position 18){REFUSED_END}",
            f"write it on one line of plain text, {EXAMPLE}",
        )


@pytest.mark.parametrize(
    "reason",
    [
        "INC-1 tunnel down in Zürich, restart cloudflared",  # letters beyond ASCII
        "INC-1 туннель down, restart cloudflared",
        "INC-1 tunnel down\u00a0(no-break space), restart cloudflared",  # Zs: a space
        "INC-1 tunnel down \u2014 restart cloudflared",  # an em dash
    ],
)
def test_ordinary_unicode_text_is_a_reason(reason: str) -> None:
    assert validate_reason(reason) == " ".join(reason.split())


@pytest.mark.parametrize("ttl", ["10", "1h garbage", "0s"])
def test_an_invalid_ttl_says_how_to_write_one(ttl: str) -> None:
    from ztctl.core.breakglass.policy import resolve_ttl

    with pytest.raises(UsageError) as caught:
        resolve_ttl(ttl, 3600, "prod")
    assert caught.value.message.startswith("invalid --ttl: ")
    assert caught.value.fix == "write it like 30m, 1h or 1h30m"


def test_the_longest_reason_is_kept() -> None:
    reason = ("INC-4711 connector down " * 30)[: MAX_REASON - 1] + "x"
    reason = " ".join(reason.split())
    assert len(reason) <= MAX_REASON
    assert validate_reason(reason) == reason
    assert validate_reason("INC-1 tunnel   down in  eu") == "INC-1 tunnel down in eu"
