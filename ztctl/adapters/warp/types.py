"""What warp-cli tells ztctl, as values: versions, status, registration, settings, split
tunnels, the WARP modes, and the errors of running it."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from ztctl.errors import EXIT_AUTH_NEEDED, OperationFailed

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_TIMEOUT = 3.0

# Modes as `warp-cli mode` takes them plus the MDM-only posture mode.
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
