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

The package: :mod:`.types` (values and errors), :mod:`.parse` (the parsers),
:mod:`.client` (:class:`WarpClient`); every public name is importable from here too.
Nothing here prints; errors are :class:`ztctl.errors.ZtctlError` subclasses.
"""

from __future__ import annotations

from ztctl.adapters.warp.client import (
    WarpClient,
)
from ztctl.adapters.warp.parse import (
    classify_error,
    error_detail,
    normalize_mode,
    parse_help_commands,
    parse_registration,
    parse_settings,
    parse_status,
    parse_tunnel_ip_list,
    parse_version,
)
from ztctl.adapters.warp.types import (
    ALL_MODES,
    CLI_MODES,
    DEFAULT_TIMEOUT,
    MODE_DESCRIPTIONS,
    ROUTING_MODES,
    Enrollment,
    SplitEntry,
    SplitTunnel,
    WarpActionNeeded,
    WarpError,
    WarpErrorKind,
    WarpParseError,
    WarpRegistration,
    WarpRun,
    WarpSettings,
    WarpStatus,
    WarpTimeout,
    WarpVersion,
    mode_routes_private,
)

__all__ = [
    "ALL_MODES",
    "CLI_MODES",
    "DEFAULT_TIMEOUT",
    "MODE_DESCRIPTIONS",
    "ROUTING_MODES",
    "Enrollment",
    "SplitEntry",
    "SplitTunnel",
    "WarpActionNeeded",
    "WarpClient",
    "WarpError",
    "WarpErrorKind",
    "WarpParseError",
    "WarpRegistration",
    "WarpRun",
    "WarpSettings",
    "WarpStatus",
    "WarpTimeout",
    "WarpVersion",
    "classify_error",
    "error_detail",
    "mode_routes_private",
    "normalize_mode",
    "parse_help_commands",
    "parse_registration",
    "parse_settings",
    "parse_status",
    "parse_tunnel_ip_list",
    "parse_version",
]
