"""Pure parsers (no I/O) for every recorded output era of ``warp-cli``, text and ``--json``.

On anything they cannot explain they raise :class:`WarpParseError` and nothing else (they are
fuzzed with garbage)."""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Callable
from typing import Any

from ztctl.adapters.warp.types import (
    P,
    R,
    SplitEntry,
    SplitTunnel,
    WarpErrorKind,
    WarpParseError,
    WarpRegistration,
    WarpSettings,
    WarpStatus,
    WarpVersion,
)

# ---------------------------------------------------------------------------------------
# Parsers


def _guarded(func: Callable[P, R]) -> Callable[P, R]:
    """Turn any unexpected exception of a parser into WarpParseError (belt and braces)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except WarpParseError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as e:
            raise WarpParseError(f"unexpected warp-cli output ({e.__class__.__name__})") from e

    return wrapper


_VERSION_RE = re.compile(r"^warp-cli\s+(\d+(?:\.\d+){2,3})", re.MULTILINE)


@_guarded
def parse_version(text: str) -> WarpVersion:
    """``warp-cli 2025.9.558.0`` → ``WarpVersion("2025.9.558.0", (2025, 9, 558, 0))``."""
    match = _VERSION_RE.search(text.strip())
    if not match:
        raise WarpParseError("warp-cli --version did not print `warp-cli <version>`")
    digits = match.group(1)
    if len(digits) > 40:
        raise WarpParseError("implausible warp-cli version")
    return WarpVersion(digits, tuple(int(p) for p in digits.split(".")))


def _load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise WarpParseError("warp-cli printed malformed JSON") from exc


def _json_error(obj: Any) -> tuple[str, str] | None:
    if isinstance(obj, dict) and "error" in obj and "code" in obj:
        return str(obj.get("code")), str(obj.get("error"))
    return None


# Text reasons whose JSON spelling is not the words joined together.
_REASON_CODES = {
    "manual disconnection": "Manual",
    "manual": "Manual",
}
_REASON_TEXTS = {"Manual": "Manual Disconnection"}


def _camel_words(code: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", code)


def _reason_code(reason: str) -> str:
    known = _REASON_CODES.get(reason.lower())
    if known:
        return known
    return "".join(w[:1].upper() + w[1:] for w in re.split(r"[\s_-]+", reason) if w)


def _status_from_json(obj: Any) -> WarpStatus:
    error = _json_error(obj)
    if error:
        raise WarpParseError(f"warp-cli reported an error instead of a status: {error[0]}")
    if not isinstance(obj, dict) or not isinstance(obj.get("status"), str) or not obj["status"]:
        raise WarpParseError("warp-cli status JSON has no `status` string")
    state = obj["status"]
    raw = obj.get("reason")
    code: str | None = None
    detail: str | None = None
    if isinstance(raw, str):
        code = raw or None
    elif isinstance(raw, dict) and len(raw) == 1:
        code, payload = next(iter(raw.items()))
        detail = payload if isinstance(payload, str) else json.dumps(payload, sort_keys=True)
    elif raw is not None:
        raise WarpParseError("warp-cli status JSON has a malformed `reason`")
    network: str | None = None
    reason: str | None = None
    if code and code.startswith("Network") and len(code) > len("Network"):
        network = code[len("Network") :].lower()
        code = None
    elif code:
        reason = _REASON_TEXTS.get(code, _camel_words(code))
    return WarpStatus(state=state, reason=reason, network=network, reason_code=code, detail=detail)


_STATUS_PREFIX = "Status update:"
_INLINE_REASON = re.compile(r"[.:]?\s*Reason:\s*")
_BARE_STATE = re.compile(
    r"^(Connected|Disconnected|Connecting|Disconnecting|Unable|Paused)(?:[.:]|\s*$|\s+to\b)"
)


@_guarded
def parse_status(text: str) -> WarpStatus:
    """Parse ``warp-cli status`` of any era (single-line, multi-line, JSON)."""
    stripped = text.strip()
    if stripped.startswith("{"):
        return _status_from_json(_load_json(stripped))
    lines = [line.strip() for line in text.splitlines()]
    start = next((i for i, line in enumerate(lines) if line.startswith(_STATUS_PREFIX)), None)
    if start is not None:
        rest = lines[start][len(_STATUS_PREFIX) :].strip()
    else:
        # A bare state line, e.g. `Disconnected: Reason: Manual Disconnection` (mid-2023).
        start = next((i for i, line in enumerate(lines) if _BARE_STATE.match(line)), None)
        if start is None:
            raise WarpParseError("warp-cli status printed no `Status update:` line")
        rest = lines[start]
    reason: str | None = None
    match = _INLINE_REASON.search(rest)
    if match:
        reason = rest[match.end() :].strip() or None
        rest = rest[: match.start()]
    words = rest.split()
    if not words:
        raise WarpParseError("warp-cli status printed no state")
    state = words[0].rstrip(".:,")
    if not state:
        raise WarpParseError("warp-cli status printed no state")
    network: str | None = None
    for line in lines[start + 1 :]:
        if line.startswith(_STATUS_PREFIX):
            break  # a second update (`-l` streaming): only the first counts
        key, sep, value = line.partition(":")
        if not sep:
            continue
        if key.strip() == "Reason" and reason is None:
            reason = value.strip() or None
        elif key.strip() == "Network":
            network = value.strip() or None
    code: str | None = None
    detail: str | None = None
    if reason:
        # 2025+: `Reason: Registration Missing due to: Daemon Startup` (JSON:
        # {"RegistrationMissing": "DaemonStartup"}): the code is the part before `due to:`.
        head, sep, tail = reason.partition(" due to:")
        code = _reason_code(head if sep else reason)
        if sep and tail.strip():
            detail = tail.strip()
    return WarpStatus(
        state=state, reason=reason, network=network, reason_code=code or None, detail=detail
    )


def _key_values(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and key.strip():
            values.setdefault(key.strip(), value.strip())
    return values


@_guarded
def parse_registration(text: str) -> WarpRegistration:
    """Parse ``registration show`` / ``account`` (text) or ``--json registration show``."""
    stripped = text.strip()
    if stripped.startswith("{"):
        obj = _load_json(stripped)
        if _json_error(obj):
            raise WarpParseError("warp-cli reported an error instead of a registration")
        if not isinstance(obj, dict):
            raise WarpParseError("warp-cli registration JSON is not an object")
        account = obj.get("account")
        if not isinstance(account, dict):
            account = {}
        kind = account.get("type")
        device = obj.get("device_id") or obj.get("id")
        if not isinstance(kind, str) and not isinstance(device, str):
            raise WarpParseError("warp-cli registration JSON has neither account type nor device")
        org = account.get("organization") or obj.get("organization")
        acc_id = account.get("id")
        managed = obj.get("managed")
        return WarpRegistration(
            account_type=kind.lower() if isinstance(kind, str) else "unknown",
            organization=org if isinstance(org, str) and org else None,
            device_id=device if isinstance(device, str) else None,
            account_id=acc_id if isinstance(acc_id, str) else None,
            managed=managed if isinstance(managed, bool) else None,
        )
    values = _key_values(text)
    kind = values.get("Account type")
    device = values.get("Device ID")
    if not kind and not device:
        raise WarpParseError("warp-cli printed no `Account type:` or `Device ID:`")
    return WarpRegistration(
        account_type=(kind or "unknown").lower(),
        organization=values.get("Organization") or None,
        device_id=device or None,
        account_id=values.get("Account ID") or None,
    )


def normalize_mode(text: str) -> str:
    """Map any spelling of a mode (`WarpWithDnsOverHttps`, `warp+doh`, `warp_doh`,
    `WarpProxy on port 40000`...) onto :data:`ALL_MODES`; ``"unknown"`` otherwise."""
    key = re.sub(r"[^a-z]", "", text.lower())
    if key.startswith("warpproxy") or key.startswith("proxy") or key == "localproxy":
        return "proxy"
    table = {
        "warp": "warp",
        "gatewaywithwarp": "warp",
        "warpwithdnsoverhttps": "warp+doh",
        "warpdnsoverhttps": "warp+doh",
        "warpdoh": "warp+doh",
        "warpwithdoh": "warp+doh",
        "warpwithdnsovertls": "warp+dot",
        "warpdnsovertls": "warp+dot",
        "warpdot": "warp+dot",
        "warpwithdot": "warp+dot",
        "dnsoverhttps": "doh",
        "doh": "doh",
        "dnsovertls": "dot",
        "dot": "dot",
        "tunnelonly": "tunnel_only",
        "warptunnelonly": "tunnel_only",
        "postureonly": "postureonly",
        "deviceinformationonly": "postureonly",
    }
    return table.get(key, "unknown")


_SOURCE_PREFIX = re.compile(r"^\(([^()]*)\)\s+")
_KNOWN_SETTINGS = {
    "Mode",
    "Organization",
    "Always On",
    "Switch Locked",
    "WARP tunnel protocol",
    "Exclude mode, with hosts/ips",
    "Include mode, with hosts/ips",
    "Fallback domains",
    "Profile ID",
}
_EXCLUDE_KEY = "Exclude mode, with hosts/ips"
_ELISIONS = frozenset({"...", "…"})
_INCLUDE_KEY = "Include mode, with hosts/ips"


def _split_entry(text: str) -> SplitEntry:
    value, _, rest = text.strip().partition(" ")
    rest = rest.strip()
    if rest.startswith("(") and rest.endswith(")"):
        rest = rest[1:-1].strip()
    return SplitEntry(value=value, description=rest)


def _bool(text: str | None) -> bool | None:
    if text is None:
        return None
    low = text.strip().lower()
    return True if low == "true" else False if low == "false" else None


def _proxy_port(text: str) -> int | None:
    match = re.search(r"port\s+(\d{1,5})\b", text)
    return int(match.group(1)) if match else None


def _settings_from_json(obj: Any) -> WarpSettings:
    if _json_error(obj):
        raise WarpParseError("warp-cli reported an error instead of settings")
    if isinstance(obj, dict) and isinstance(obj.get("settings"), dict):
        obj = obj["settings"]
    if not isinstance(obj, dict) or not (
        "operation_mode" in obj or "split_tunnel_mode" in obj or "always_on" in obj
    ):
        raise WarpParseError("warp-cli settings JSON has no known keys")
    raw_mode = obj.get("operation_mode")
    mode_text = raw_mode if isinstance(raw_mode, str) else None
    entries: list[SplitEntry] = []
    for key in ("split_tunnel_ips", "split_tunnel_hosts"):
        items = obj.get(key)
        if not isinstance(items, list):
            continue
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("value"), str):
                desc = item.get("description")
                entries.append(SplitEntry(item["value"], desc if isinstance(desc, str) else ""))
            elif isinstance(item, str):
                entries.append(SplitEntry(item))
    split_mode = obj.get("split_tunnel_mode")
    port = obj.get("proxy_port")
    org = obj.get("organization")
    protocol = obj.get("warp_tunnel_protocol")
    profile = obj.get("profile_id")
    fallback = obj.get("fallback_domains")
    always_on = obj.get("always_on")
    locked = obj.get("switch_locked")
    return WarpSettings(
        mode=normalize_mode(mode_text) if mode_text else "unknown",
        mode_text=mode_text,
        proxy_port=port if isinstance(port, int) and not isinstance(port, bool) else None,
        split_mode=split_mode.lower() if isinstance(split_mode, str) else None,
        split_entries=tuple(entries),
        organization=org if isinstance(org, str) and org else None,
        always_on=always_on if isinstance(always_on, bool) else None,
        switch_locked=locked if isinstance(locked, bool) else None,
        protocol=protocol if isinstance(protocol, str) else None,
        fallback_domains=tuple(
            d if isinstance(d, str) else str(d.get("suffix", ""))
            for d in (fallback if isinstance(fallback, list) else [])
            if isinstance(d, (str, dict))
        ),
        profile_id=profile if isinstance(profile, str) else None,
    )


@_guarded
def parse_settings(text: str) -> WarpSettings:
    """Parse ``warp-cli settings`` (text of any era, or ``--json``)."""
    stripped = text.strip()
    if stripped.startswith("{"):
        return _settings_from_json(_load_json(stripped))
    values: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    fields: list[tuple[str, str, str]] = []
    current: list[str] | None = None
    elided = annotated = False
    for raw in text.splitlines():
        if not raw.strip():
            current = None
            continue
        if raw.strip() in _ELISIONS:
            elided = True
            continue
        if raw[:1] in (" ", "\t") and current is not None:
            current.append(raw.strip())
            continue
        line = raw.strip()
        source = ""
        match = _SOURCE_PREFIX.match(line)
        if match:
            source = match.group(1)
            line = line[match.end() :]
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not key or key == "Merged configuration":
            current = None
            continue
        if value.startswith("# "):
            # A hand-written note after a list header (`Exclude mode, with hosts/ips: # ...`,
            # as docs annotate it): the list still follows.
            annotated = True
            value = ""
        fields.append((source, key, value))
        if value:
            values.setdefault(key, value)
            current = None
        else:
            current = lists.setdefault(key, [])
    if not (_KNOWN_SETTINGS & (set(values) | set(lists))):
        raise WarpParseError("warp-cli settings printed none of the known keys")
    mode_text = values.get("Mode")
    split_mode: str | None = None
    entries: list[str] = []
    if _EXCLUDE_KEY in lists:
        split_mode, entries = "exclude", lists[_EXCLUDE_KEY]
    elif _INCLUDE_KEY in lists:
        split_mode, entries = "include", lists[_INCLUDE_KEY]
    return WarpSettings(
        mode=normalize_mode(mode_text) if mode_text else "unknown",
        mode_text=mode_text,
        proxy_port=_proxy_port(mode_text) if mode_text else None,
        split_mode=split_mode,
        split_entries=tuple(_split_entry(e) for e in entries if e),
        organization=values.get("Organization") or None,
        always_on=_bool(values.get("Always On")),
        switch_locked=_bool(values.get("Switch Locked")),
        protocol=values.get("WARP tunnel protocol"),
        fallback_domains=tuple(lists.get("Fallback domains", ())),
        profile_id=values.get("Profile ID"),
        fields=tuple(fields),
        elided=elided,
        annotated=annotated or any(" # " in v for _s, _k, v in fields),
    )


_ROUTES_HEADER = re.compile(r"^(Excluded|Included)(?:\s+routes)?\s*:\s*$", re.IGNORECASE)


@_guarded
def parse_tunnel_ip_list(text: str) -> SplitTunnel:
    """Parse ``tunnel ip list`` (or the old ``get-excluded-routes``): a header line
    ``Excluded routes:`` / ``Included routes:`` and indented entries, CLI-added ones with a
    `` (CLI exclude)`` suffix (byte format unconfirmed)."""
    mode: str | None = None
    entries: list[SplitEntry] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _ROUTES_HEADER.match(line)
        if match:
            if mode is not None:
                break  # a second section (hosts in `tunnel dump`): not routes
            mode = "exclude" if match.group(1).lower() == "excluded" else "include"
            continue
        if mode is not None and raw[:1] in (" ", "\t"):
            entries.append(_split_entry(line))
    if mode is None:
        raise WarpParseError("warp-cli printed no `Excluded routes:` / `Included routes:` header")
    return SplitTunnel(mode, tuple(entries))


@_guarded
def parse_help_commands(text: str) -> frozenset[str]:
    """The subcommand names listed under ``Commands:`` in ``warp-cli --help``."""
    names: set[str] = set()
    inside = False
    for raw in text.splitlines():
        if raw.strip().rstrip(":").lower() in {"commands", "subcommands"}:
            inside = True
            continue
        if inside:
            if not raw.strip():
                if names:
                    inside = False
                continue
            if raw[:1] not in (" ", "\t"):
                inside = False
                continue
            names.add(raw.split()[0])
    if not names:
        raise WarpParseError("warp-cli --help listed no commands")
    return frozenset(names)


_ERROR_PATTERNS: tuple[tuple[re.Pattern[str], WarpErrorKind], ...] = (
    # 2024.11+: "Unable to connect to the CloudflareWARP daemon: ..."; 2021-2023 builds said
    # "Unable to connect to CloudflareWARP daemon. Maybe the daemon is not running?".
    (
        re.compile(r"unable to connect to (the )?cloudflarewarp daemon", re.I),
        WarpErrorKind.NO_DAEMON,
    ),
    (re.compile(r"error communicating with (the )?daemon", re.I), WarpErrorKind.NO_DAEMON),
    (re.compile(r"accept the warp terms of service", re.I), WarpErrorKind.TOS_NOT_ACCEPTED),
    (
        re.compile(r"accept terms of service and privacy policy", re.I),
        WarpErrorKind.TOS_NOT_ACCEPTED,
    ),
    (re.compile(r"unrecognized subcommand", re.I), WarpErrorKind.UNRECOGNIZED_SUBCOMMAND),
    (re.compile(r"unexpected argument '", re.I), WarpErrorKind.UNEXPECTED_ARGUMENT),
    (re.compile(r"found argument '-", re.I), WarpErrorKind.UNEXPECTED_ARGUMENT),
    (re.compile(r"found argument '[^-]", re.I), WarpErrorKind.UNRECOGNIZED_SUBCOMMAND),
    (re.compile(r"invalid value '", re.I), WarpErrorKind.INVALID_VALUE),
    (re.compile(r"missing registration", re.I), WarpErrorKind.MISSING_REGISTRATION),
    (re.compile(r"old registration is still around", re.I), WarpErrorKind.OLD_REGISTRATION),
    (re.compile(r"failed to communicate with the warp api", re.I), WarpErrorKind.API_UNREACHABLE),
    (re.compile(r"warp is not connected", re.I), WarpErrorKind.NOT_CONNECTED),
    (re.compile(r"operation not authorized", re.I), WarpErrorKind.NOT_AUTHORIZED),
)
_JSON_CODES = {
    "registrationmissing": WarpErrorKind.MISSING_REGISTRATION,
    "missingregistration": WarpErrorKind.MISSING_REGISTRATION,
    "oldregistration": WarpErrorKind.OLD_REGISTRATION,
    "warpnotconnected": WarpErrorKind.NOT_CONNECTED,
    "apiunreachable": WarpErrorKind.API_UNREACHABLE,
    "notauthorized": WarpErrorKind.NOT_AUTHORIZED,
}


def classify_error(stdout: str, stderr: str, exit_code: int) -> WarpErrorKind | None:
    """What went wrong in a warp-cli call, or ``None`` if it succeeded.

    JSON error objects (``{"code": ..., "error": ...}``) count even with exit code 0, as a
    note on 2026 builds says they can.
    """
    stripped = stdout.strip()
    if stripped.startswith("{") and '"error"' in stripped:
        try:
            obj = json.loads(stripped)
        except (ValueError, RecursionError):
            obj = None
        pair = _json_error(obj)
        if pair:
            code, message = pair
            by_code = _JSON_CODES.get(re.sub(r"[^a-z]", "", code.lower()))
            if by_code:
                return by_code
            for pattern, kind in _ERROR_PATTERNS:
                if pattern.search(message):
                    return kind
            return WarpErrorKind.UNKNOWN
    text = f"{stderr}\n{stdout}"
    for pattern, kind in _ERROR_PATTERNS:
        if pattern.search(text):
            return kind
    if exit_code != 0:
        return WarpErrorKind.UNKNOWN
    return None


def error_detail(stdout: str, stderr: str) -> str:
    """The one line of warp-cli output that best explains a failure."""
    stripped = stdout.strip()
    if stripped.startswith("{"):
        with contextlib.suppress(ValueError, RecursionError):
            pair = _json_error(json.loads(stripped))
            if pair:
                return pair[1]
    for text in (stderr, stdout):
        for line in text.splitlines():
            if line.strip():
                return line.strip()[:300]
    return ""


def _clap_word(stdout: str, stderr: str) -> str | None:
    match = re.search(r"(?:subcommand|argument) '([^']*)'", f"{stderr}\n{stdout}")
    return match.group(1) if match else None
