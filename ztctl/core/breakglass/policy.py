"""Break-glass policy: what counts as a reason, and how long a session may last.

Pure rules, no I/O: :func:`validate_reason` and :func:`resolve_ttl`.
"""

from __future__ import annotations

import re
import unicodedata

from ztctl.core.breakglass.session import MAX_SESSION_S
from ztctl.core.duration import format_duration, parse_duration
from ztctl.errors import InvalidInput, UsageError

DEFAULT_TTL_S = 3600  # without --ttl: one hour, or maxTtl when that is shorter
MAX_TTL_S = MAX_SESSION_S  # no session, whatever the catalog says, lasts longer (7 days)
MAX_REASON = 500

_PLACEHOLDER_TEXT = """
    a an the to of for and or on in is it me my we i x y z
    test tests testing tested try trying asdf asd qwe qwer qwerty zxcv hjkl jkl
    foo bar baz qux xxx xx yyy zzz abc aaa na n/a none nothing null nil todo tbd tba fixme
    reason why because reasons justification placeholder example sample dummy
    break glass break-glass breakglass bg emergency urgent incident issue problem outage
    access need needed needs want please pls fix fixing debug debugging check checking work
    working stuff things thing whatever idk dunno temp tmp lol ok okay yes no hi hello
    lorem ipsum dolor k8s kube kubectl cluster prod
"""
_PLACEHOLDERS = frozenset(_PLACEHOLDER_TEXT.split())
_WORD = re.compile(r"[^\W_]+(?:[-'/.][^\W_]+)*", re.UNICODE)
# Characters a reason must not hold (Unicode categories): control characters (Cc: C0 incl.
# tab and newline, DEL, C1 incl. the 8-bit CSI U+009B), format characters (Cf: zero-width
# spaces and joiners, the bidirectional marks, overrides and isolates, soft hyphen, BOM),
# line and paragraph separators (Zl U+2028, Zp U+2029) and lone surrogates (Cs: bytes
# that were not UTF-8). They would reach terminals and log viewers that show the audit
# log, break a line where none is seen, hide text or make a reason read as something else.
_REFUSED = {
    "Cc": "a control character",
    "Cf": "an invisible formatting character",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
    "Cs": "a byte that is not UTF-8",
}
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _refused_character(text: str) -> tuple[int, str, str] | None:
    """The first character a reason must not hold: (position from 1, the character, what
    it is), or None."""
    for index, char in enumerate(text):
        what = _REFUSED.get(unicodedata.category(char))
        if what is not None:
            if char in _BIDI:
                what = "a bidirectional-text control"
            return index + 1, char, what
    return None


def _mash(word: str) -> bool:
    """``aaaa``, ``asdfasdf``, ``jjjj``: keyboard noise, not a word."""
    lowered = word.lower()
    if len(set(lowered)) == 1:
        return True
    for size in range(1, len(lowered) // 2 + 1):
        unit = lowered[:size]
        if len(lowered) % size == 0 and unit * (len(lowered) // size) == lowered:
            return unit in _PLACEHOLDERS or len(unit) <= 2
    return lowered.startswith(("asdf", "qwer", "zxcv", "hjkl"))


def validate_reason(text: str | None) -> str:
    """The reason, whitespace-normalised, or :class:`UsageError` saying what a good one is.

    A reason names what is broken and why the route is needed: at least 10 characters and
    two different words that are neither placeholders ("test", "asdf", "n/a", "emergency",
    "incident"...) nor keyboard noise. A ticket number helps: "INC-4711 WARP connector down,
    restarting cloudflared in kube-system".
    """
    example = "e.g. --reason 'INC-4711: Zero Trust tunnel down, restart cloudflared'"
    raw = text or ""
    bad = _refused_character(raw)
    if bad is not None:
        position, char, what = bad
        raise UsageError(
            f"the break-glass reason contains {what} (U+{ord(char):04X} at position "
            f"{position}); it goes to the audit log and to terminals as it is",
            f"write it on one line of plain text, {example}",
        )
    reason = " ".join(raw.split())
    if not reason:
        raise UsageError(
            "break-glass needs a reason: what is broken and why you need the out-of-band route",
            f"pass --reason, {example}",
        )
    if len(reason) > MAX_REASON:
        raise UsageError(
            f"the break-glass reason is {len(reason)} characters long (at most {MAX_REASON})",
            "keep it to a sentence and link the incident ticket for the details",
        )
    words = [w.lower() for w in _WORD.findall(reason)]
    meaningful = {w for w in words if w not in _PLACEHOLDERS and not _mash(w)}
    if len(reason) < 10 or len(meaningful) < 2 or not any(len(w) >= 3 for w in meaningful):
        raise UsageError(
            f"the break-glass reason {reason!r} does not say what is broken or why; it goes to "
            "the audit log for whoever reviews this access",
            f"say what is broken and why you need the route, {example}",
        )
    return reason


def check_max_ttl(max_ttl_s: int, cluster: str) -> None:
    """:class:`InvalidInput` (exit 3) for a catalog ``maxTtl`` over :data:`MAX_TTL_S`."""
    if max_ttl_s > MAX_TTL_S:
        raise InvalidInput(
            f"the catalog gives {cluster} a break-glass maxTtl of {format_duration(max_ttl_s)}, "
            f"over ztctl's limit of {format_duration(MAX_TTL_S)}",
            f"ask the platform team to set breakGlass.maxTtl of {cluster} to "
            f"{format_duration(MAX_TTL_S)} or less (a few hours is usual)",
        )


def resolve_ttl(text: str | None, max_ttl_s: int, cluster: str) -> int:
    """Seconds for ``--ttl`` (default: one hour or ``maxTtl`` when shorter).

    A ``maxTtl`` over 7 days is a catalog error (exit 3), checked first. A TTL over the
    catalog's ``maxTtl`` is refused, not silently shortened: whoever asked for 8 hours
    should know the route closes after 4.
    """
    check_max_ttl(max_ttl_s, cluster)
    if text is None or not text.strip():
        return min(DEFAULT_TTL_S, max_ttl_s)
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"invalid --ttl: {exc}", "write it like 30m, 1h or 1h30m") from None
    if seconds > max_ttl_s:
        limit = format_duration(max_ttl_s)
        raise UsageError(
            f"--ttl {text.strip()} is longer than the break-glass limit of {cluster} "
            f"(maxTtl {limit})",
            f"ask for {limit} or less; when it runs out, start a new session with a new reason",
        )
    return seconds


# --------------------------------------------------------------------------------------
# The user's kubeconfig entry, and the overlay
