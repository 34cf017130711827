"""ztctl's adapter over the Cloudflare WARP client's command line, ``warp-cli``.

Two layers:

* Pure parsers (no I/O) for every recorded output era of ``warp-cli``
  as recorded from real clients: :func:`parse_version`,
  :func:`parse_status`, :func:`parse_registration`, :func:`parse_settings`,
  :func:`parse_tunnel_ip_list`, :func:`parse_help_commands` and :func:`classify_error`.
  They accept the text forms (single-line era A and multi-line era B ``status``, settings with
  and without ``(source)`` prefixes) and the ``--json`` forms. On anything else they raise
  :class:`WarpParseError` and nothing else (they are fuzzed with garbage).
* :class:`WarpClient`, which runs the binary with a timeout, learns its era from
  ``--version`` (and ``--help`` when the version is unreadable), prefers ``--json`` where the
  client has it, and falls back — to text when ``--json`` is rejected, to the other command
  name when a subcommand was renamed or removed (``registration show``/``account``,
  ``registration new``/``teams-enroll``, ``mode``/``set-mode``).

Terms of Service: ztctl never passes ``--accept-tos``. Accepting the WARP terms is the
user's decision; when the client refuses to run because they were not accepted, the client
raises :class:`WarpActionNeeded` whose fix tells the user how to accept them.

Nothing here prints; errors are :class:`ztctl.core.errors.ZtctlError` subclasses.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from ztctl.adapters.procs import killed_on_exit
from ztctl.core.errors import EXIT_AUTH_NEEDED, OperationFailed

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_TIMEOUT = 3.0

# Modes as `warp-cli mode` takes them (reference §1.3) plus the MDM-only posture mode.
CLI_MODES = ("warp", "doh", "warp+doh", "dot", "warp+dot", "proxy", "tunnel_only")
ALL_MODES = (*CLI_MODES, "postureonly")
# Modes that put private-network traffic into the tunnel. Proxy (SOCKS5 only for apps that
# use it), DoH-only, DoT-only and Device-Information-Only do not.
ROUTING_MODES = frozenset({"warp", "warp+doh", "warp+dot", "tunnel_only"})

MODE_DESCRIPTIONS = {
    "warp": "Gateway with WARP",
    "warp+doh": "Gateway with WARP (DNS over HTTPS)",
    "warp+dot": "Gateway with WARP (DNS over TLS)",
    "doh": "Gateway with DoH (DNS only)",
    "dot": "Gateway with DoT (DNS only)",
    "proxy": "proxy mode (a local SOCKS5/HTTP proxy)",
    "tunnel_only": "Secure Web Gateway without DNS filtering",
    "postureonly": "Device Information Only",
    "unknown": "an unrecognised mode",
}


def mode_routes_private(mode: str) -> bool | None:
    """Whether WARP in ``mode`` routes private networks; ``None`` for an unknown mode."""
    if mode in ROUTING_MODES:
        return True
    if mode in ALL_MODES:
        return False
    return None


# ---------------------------------------------------------------------------------------
# Errors


class WarpParseError(ValueError):
    """warp-cli printed something that none of the recorded formats explains."""


class WarpErrorKind(str, enum.Enum):
    NOT_INSTALLED = "not-installed"
    NO_DAEMON = "no-daemon"
    TIMEOUT = "timeout"
    TOS_NOT_ACCEPTED = "tos-not-accepted"
    UNRECOGNIZED_SUBCOMMAND = "unrecognized-subcommand"
    UNEXPECTED_ARGUMENT = "unexpected-argument"
    INVALID_VALUE = "invalid-value"
    MISSING_REGISTRATION = "missing-registration"
    OLD_REGISTRATION = "old-registration"
    API_UNREACHABLE = "api-unreachable"
    NOT_CONNECTED = "not-connected"
    NOT_AUTHORIZED = "not-authorized"
    UNKNOWN = "unknown"


class WarpError(OperationFailed):
    """A warp-cli call failed; ``reason`` says how."""

    def __init__(
        self,
        reason: WarpErrorKind,
        message: str,
        fix: str = "",
        *,
        command: Sequence[str] = (),
        output: str = "",
    ) -> None:
        super().__init__(message, fix)
        self.reason = reason
        self.command = tuple(command)
        self.output = output


class WarpActionNeeded(WarpError):
    """A person must act: accept the Terms of Service, or enrol the device."""

    exit_code = EXIT_AUTH_NEEDED
    kind = "auth-needed"


class WarpTimeout(WarpError):
    """warp-cli did not answer in time (its IPC channel to the daemon is hung)."""


# ---------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class WarpVersion:
    text: str
    parts: tuple[int, ...]

    @property
    def year(self) -> int:
        return self.parts[0]

    @property
    def month(self) -> int:
        return self.parts[1]

    def at_least(self, *parts: int) -> bool:
        return self.parts[: len(parts)] >= parts

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class WarpStatus:
    """``warp-cli status``: ``state`` is ``Connected``, ``Disconnected``, ``Connecting``,
    ``Unable``... ``reason`` is human text (``Manual Disconnection``), ``reason_code`` the
    JSON spelling (``Manual``, ``RegistrationMissing``), ``detail`` the JSON payload of an
    object-valued reason, compact JSON (``"DaemonStartup"``)."""

    state: str
    reason: str | None = None
    network: str | None = None
    reason_code: str | None = None
    detail: str | None = None

    @property
    def connected(self) -> bool:
        return self.state == "Connected"

    @property
    def registration_missing(self) -> bool:
        return self.reason_code == "RegistrationMissing"


@dataclass(frozen=True)
class WarpRegistration:
    account_type: str  # lower case: "team", "free", ...
    organization: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    managed: bool | None = None

    @property
    def is_team(self) -> bool:
        return self.account_type in {"team", "teams", "zerotrust", "zero trust"}


@dataclass(frozen=True)
class SplitEntry:
    """One split-tunnel entry: an address range or a host name, with its description."""

    value: str
    description: str = ""

    @property
    def from_cli(self) -> bool:
        return self.description.startswith("CLI ")


@dataclass(frozen=True)
class SplitTunnel:
    mode: str | None  # "exclude" | "include" | None (not shown)
    entries: tuple[SplitEntry, ...] = ()


@dataclass(frozen=True)
class WarpSettings:
    mode: str  # one of ALL_MODES, or "unknown"
    mode_text: str | None = None  # as printed (`WarpProxy on port 40000`, `warp`...)
    proxy_port: int | None = None
    split_mode: str | None = None  # "exclude" | "include" | None
    split_entries: tuple[SplitEntry, ...] = ()
    organization: str | None = None
    always_on: bool | None = None
    switch_locked: bool | None = None
    protocol: str | None = None
    fallback_domains: tuple[str, ...] = ()
    profile_id: str | None = None
    # Every `Key: value` pair and its `(source)` tag ("" when the client prints none).
    fields: tuple[tuple[str, str, str], ...] = ()
    # An elision (`...`) stood in the output: a pasted or shortened copy, so the lists
    # (split tunnel, fallback domains) may be incomplete. warp-cli itself never elides.
    elided: bool = False
    # Hand-written `# ...` notes stood in the output (a docs copy): values may carry them.
    annotated: bool = False

    @property
    def routes_private(self) -> bool | None:
        return mode_routes_private(self.mode)

    @property
    def split_tunnel(self) -> SplitTunnel:
        return SplitTunnel(self.split_mode, self.split_entries)


@dataclass(frozen=True)
class Enrollment:
    """What ``registration new TEAM`` printed: the URL a person opens to finish enrolment."""

    team: str | None
    url: str | None
    output: str


@dataclass(frozen=True)
class WarpRun:
    """One warp-cli invocation (arguments with one-time tokens redacted)."""

    args: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str
    duration_ms: float


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
    `` (CLI exclude)`` suffix (reference §1.9; byte format unconfirmed)."""
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


# ---------------------------------------------------------------------------------------
# The client


def _daemon_fix() -> str:
    if sys.platform == "darwin":
        return "open the Cloudflare WARP app (it starts the daemon), then retry"
    if sys.platform.startswith("win"):
        return "start the CloudflareWARP service (`net start CloudflareWARP`), then retry"
    return "start the WARP daemon: `sudo systemctl enable --now warp-svc`, then retry"


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill ``proc`` and its process group (it was started with a session of its own)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        proc.kill()
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        proc.wait(timeout=1.0)


def _redact(args: Sequence[str]) -> tuple[str, ...]:
    """Hide the one-time enrolment token of `registration token <url>`."""
    out: list[str] = []
    hide = False
    for arg in args:
        out.append("<redacted>" if hide else arg)
        hide = arg in {"token", "teams-enroll-token"}
    return tuple(out)


class WarpClient:
    """Runs ``warp-cli`` and parses what it prints, for any recorded version era.

    Every call has a timeout (default 3 s); a hung client raises :class:`WarpTimeout`.
    Each invocation is appended to :attr:`transcript` (for ``doctor --bundle``). Safe to use
    from several threads.
    """

    def __init__(
        self,
        cli: str = "warp-cli",
        *,
        timeout: float = DEFAULT_TIMEOUT,
        env: dict[str, str] | None = None,
    ) -> None:
        self.cli = cli
        self.timeout = timeout
        self.env = env
        self.transcript: list[WarpRun] = []
        self._lock = threading.Lock()
        self._path: str | None = None
        self._version: WarpVersion | None = None
        self._version_checked = False
        self._json: bool | None = None
        self._new_names: bool | None = None

    # -- raw running ----------------------------------------------------------------

    def executable(self) -> str:
        """The resolved path of warp-cli, or :class:`WarpError` (``NOT_INSTALLED``)."""
        if self._path is None:
            found = shutil.which(self.cli) if os.sep not in self.cli else self.cli
            if not found and self.cli == "warp-cli":
                # Not on PATH: where the vendor installers put it (the macOS app bundle...).
                from ztctl.adapters.mdm import warp_cli_paths

                found = next(
                    (p for p in warp_cli_paths() if os.path.isfile(p) and os.access(p, os.X_OK)),
                    None,
                )
            if not found or not os.access(found, os.X_OK):
                raise WarpError(
                    WarpErrorKind.NOT_INSTALLED,
                    f"warp-cli was not found (looked for `{self.cli}`)",
                    "install the Cloudflare WARP client, or point ztctl at it with "
                    "`warp.cli` in the config file or ZTCTL_WARP_CLI",
                )
            self._path = found
        return self._path

    def run(self, args: Sequence[str], *, timeout: float | None = None) -> WarpRun:
        """Run ``warp-cli ARGS`` without a TTY; raise only for not-installed and timeout."""
        path = self.executable()
        limit = self.timeout if timeout is None else timeout
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                [path, *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self.env,
                start_new_session=True,  # so a timeout can kill the whole process group
            )
        except OSError as exc:
            raise WarpError(
                WarpErrorKind.NOT_INSTALLED,
                f"warp-cli at {path} could not be started: {exc.strerror or exc}",
                "reinstall the Cloudflare WARP client",
            ) from exc
        try:
            with killed_on_exit(proc):
                out, err = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, err = proc.communicate()
            self._record(args, -9, out, err, started)
            raise WarpTimeout(
                WarpErrorKind.TIMEOUT,
                f"`warp-cli {' '.join(_redact(args))}` did not answer within {limit:g} s "
                "(the WARP client is hung)",
                "restart the WARP daemon (`sudo systemctl restart warp-svc`, or quit and "
                "reopen the Cloudflare WARP app), then retry",
                command=_redact(args),
            ) from None
        except BaseException:
            # Ctrl-C (KeyboardInterrupt) in this thread: the child is in a session of its
            # own, so the terminal's signal did not reach it; end its group before leaving.
            _kill_group(proc)
            raise
        return self._record(args, proc.returncode, out, err, started)

    def _record(
        self, args: Sequence[str], code: int, out: bytes, err: bytes, started: float
    ) -> WarpRun:
        run = WarpRun(
            args=_redact(args),
            exit_code=code,
            stdout=out.decode("utf-8", "replace"),
            stderr=err.decode("utf-8", "replace"),
            duration_ms=(time.monotonic() - started) * 1000.0,
        )
        with self._lock:
            self.transcript.append(run)
        return run

    def _raise_for(self, run: WarpRun, kind: WarpErrorKind) -> None:
        cmd = " ".join(run.args)
        detail = error_detail(run.stdout, run.stderr)
        if kind is WarpErrorKind.NO_DAEMON:
            raise WarpError(
                kind,
                "the WARP daemon is not running (warp-cli cannot reach it)",
                _daemon_fix(),
                command=run.args,
                output=detail,
            )
        if kind is WarpErrorKind.TOS_NOT_ACCEPTED:
            raise WarpActionNeeded(
                kind,
                "the WARP client's Terms of Service have not been accepted on this device",
                "run `warp-cli status` in a terminal and answer the prompt (or, having read "
                "the terms, `warp-cli --accept-tos status`); ztctl does not accept them for you",
                command=run.args,
                output=detail,
            )
        if kind is WarpErrorKind.MISSING_REGISTRATION:
            raise WarpActionNeeded(
                kind,
                "this device is not enrolled in a Zero Trust team (warp-cli has no registration)",
                "run `ztctl login`",
                command=run.args,
                output=detail,
            )
        if kind is WarpErrorKind.OLD_REGISTRATION:
            raise WarpError(
                kind,
                "warp-cli refused to enrol: an old registration is still on this device",
                "run `warp-cli registration delete` (or `warp-cli delete` on old clients), "
                "then `ztctl login`",
                command=run.args,
                output=detail,
            )
        if kind is WarpErrorKind.API_UNREACHABLE:
            raise WarpError(
                kind,
                "the WARP client could not reach the Cloudflare API",
                "check the network connection (captive portal, firewall, proxy) and retry",
                command=run.args,
                output=detail,
            )
        if kind is WarpErrorKind.NOT_CONNECTED:
            raise WarpError(
                kind,
                "WARP is not connected",
                "run `warp-cli connect` or `ztctl login`",
                command=run.args,
                output=detail,
            )
        if kind is WarpErrorKind.NOT_AUTHORIZED:
            raise WarpError(
                kind,
                f"the WARP client refused `warp-cli {cmd}`: not authorized by the device profile",
                "ask the Zero Trust administrators to allow this change (e.g. mode switching)",
                command=run.args,
                output=detail,
            )
        if kind in (
            WarpErrorKind.UNRECOGNIZED_SUBCOMMAND,
            WarpErrorKind.UNEXPECTED_ARGUMENT,
            WarpErrorKind.INVALID_VALUE,
        ):
            version = f" {self._version}" if self._version else ""
            raise WarpError(
                kind,
                f"this warp-cli{version} does not understand `warp-cli {cmd}` ({detail})",
                "update the Cloudflare WARP client",
                command=run.args,
                output=detail,
            )
        raise WarpError(
            kind,
            f"`warp-cli {cmd}` failed with exit code {run.exit_code}: {detail or 'no output'}",
            f"run `warp-cli {cmd}` by hand to see the full output",
            command=run.args,
            output=detail,
        )

    def _check(self, run: WarpRun) -> WarpRun:
        kind = classify_error(run.stdout, run.stderr, run.exit_code)
        if kind is not None:
            self._raise_for(run, kind)
        return run

    # -- era detection --------------------------------------------------------------

    def version(self) -> WarpVersion:
        """``warp-cli --version`` (cached). Raises WarpError / WarpParseError."""
        if self._version is not None:
            return self._version
        run = self._check(self.run(["--version"]))
        self._version = parse_version(run.stdout)
        return self._version

    def _learn_era(self) -> None:
        if self._version_checked:
            return
        self._version_checked = True
        try:
            version: WarpVersion | None = self.version()
        except WarpParseError:
            version = None
        if version is not None:
            # New command names from 2024.2; `-j/--json` in 2025 builds (first version
            # unconfirmed: a rejected `--json` switches to text anyway).
            self._new_names = version.at_least(2024, 2)
            self._json = version.at_least(2025)
            return
        try:
            help_run = self.run(["--help"])
            commands = parse_help_commands(help_run.stdout)
        except WarpParseError:
            self._new_names, self._json = True, True
            return
        self._new_names = "registration" in commands
        self._json = "--json" in help_run.stdout

    @property
    def new_names(self) -> bool:
        self._learn_era()
        return bool(self._new_names)

    @property
    def supports_json(self) -> bool:
        self._learn_era()
        return bool(self._json)

    def _run_preferring_json(self, args: Sequence[str]) -> tuple[WarpRun, bool]:
        """Run with ``--json`` where supported; fall back to text if clap rejects it."""
        if self.supports_json:
            run = self.run(["--json", *args])
            kind = classify_error(run.stdout, run.stderr, run.exit_code)
            rejected = kind is WarpErrorKind.UNEXPECTED_ARGUMENT and (
                (_clap_word(run.stdout, run.stderr) or "").lstrip("-") in {"json", "j"}
            )
            if not rejected:
                return self._check(run), True
            self._json = False
        return self._check(self.run(list(args))), False

    def _run_renamed(self, new: Sequence[str], old: Sequence[str]) -> WarpRun:
        """Run the era's name of a renamed command; on `unrecognized subcommand` the other."""
        first, second = (new, old) if self.new_names else (old, new)
        run = self.run(list(first))
        kind = classify_error(run.stdout, run.stderr, run.exit_code)
        if kind is WarpErrorKind.UNRECOGNIZED_SUBCOMMAND:
            self._new_names = not self._new_names
            run = self.run(list(second))
        return self._check(run)

    # -- queries --------------------------------------------------------------------

    def status(self) -> WarpStatus:
        run, as_json = self._run_preferring_json(["status"])
        try:
            return parse_status(run.stdout)
        except WarpParseError:
            if not as_json:
                raise
        return parse_status(self._check(self.run(["status"])).stdout)

    def registration(self) -> WarpRegistration | None:
        """The device's registration, or ``None`` when the device has none."""
        try:
            if self.new_names and self.supports_json:
                run, as_json = self._run_preferring_json(["registration", "show"])
                try:
                    reg = parse_registration(run.stdout)
                except WarpParseError:
                    if not as_json:
                        raise
                else:
                    if not (reg.is_team and reg.organization is None):
                        return reg
                # JSON without the organization (unconfirmed field): the text has it.
                return parse_registration(self._check(self.run(["registration", "show"])).stdout)
            run = self._run_renamed(["registration", "show"], ["account"])
            return parse_registration(run.stdout)
        except WarpActionNeeded as exc:
            if exc.reason is WarpErrorKind.MISSING_REGISTRATION:
                return None
            raise

    def settings(self) -> WarpSettings:
        run, as_json = self._run_preferring_json(["settings"])
        try:
            return parse_settings(run.stdout)
        except WarpParseError:
            if not as_json:
                raise
        return parse_settings(self._check(self.run(["settings"])).stdout)

    def split_tunnel(self) -> SplitTunnel:
        """The effective split tunnel, from ``settings`` (the docs-backed source)."""
        return self.settings().split_tunnel

    def tunnel_routes(self) -> SplitTunnel:
        """``tunnel ip list`` (``get-excluded-routes`` on old clients)."""
        run = self._run_renamed(["tunnel", "ip", "list"], ["get-excluded-routes"])
        return parse_tunnel_ip_list(run.stdout)

    # -- actions --------------------------------------------------------------------

    def connect(self) -> None:
        self._check(self.run(["connect"]))

    def disconnect(self) -> None:
        self._check(self.run(["disconnect"]))

    def set_mode(self, mode: str) -> None:
        if mode not in CLI_MODES:
            raise WarpError(
                WarpErrorKind.INVALID_VALUE,
                f"`{mode}` is not a WARP mode",
                f"use one of: {', '.join(CLI_MODES)}",
            )
        self._run_renamed(["mode", mode], ["set-mode", mode])

    def register(self, team: str | None) -> Enrollment:
        """Enrol in ``team`` (``registration new TEAM`` / ``teams-enroll TEAM``), or make a
        consumer registration when ``team`` is None. Returns the printed enrolment URL, which
        a person opens in a browser to finish the enrolment."""
        if team is None:
            run = self._run_renamed(["registration", "new"], ["register"])
        else:
            run = self._run_renamed(["registration", "new", team], ["teams-enroll", team])
        match = re.search(r"https://\S+", run.stdout)
        return Enrollment(team=team, url=match.group(0) if match else None, output=run.stdout)

    def register_token(self, url: str) -> None:
        """Finish an enrolment with the ``com.cloudflare.warp://...`` callback URL."""
        self._run_renamed(["registration", "token", url], ["teams-enroll-token", url])

    def delete_registration(self) -> None:
        self._run_renamed(["registration", "delete"], ["delete"])
