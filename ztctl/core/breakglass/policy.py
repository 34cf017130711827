"""Break-glass policy: what counts as a reason, and how long a session may last.

Pure rules, no I/O: :func:`validate_reason` and :func:`resolve_ttl`.
"""

from __future__ import annotations

import re

from ztctl.core.duration import format_duration, parse_duration
from ztctl.core.errors import UsageError

DEFAULT_TTL_S = 3600  # without --ttl: one hour, or maxTtl when that is shorter
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
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


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
    if _CONTROL.search(raw):
        raise UsageError(
            "the break-glass reason contains control characters",
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


def resolve_ttl(text: str | None, max_ttl_s: int, cluster: str) -> int:
    """Seconds for ``--ttl`` (default: one hour or ``maxTtl`` when shorter).

    A TTL over the catalog's ``maxTtl`` is refused, not silently shortened: whoever asked
    for 8 hours should know the route closes after 4.
    """
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
