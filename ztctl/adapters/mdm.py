"""Where the Cloudflare WARP client lives on each OS, and the team its MDM file names.

Organisations deploy WARP with a managed configuration file that names the Zero Trust team
(``organization``); where it exists, ``login`` and ``doctor`` know the team without any
ztctl configuration. The file is a property list: on macOS the managed preferences
``com.cloudflare.warp.plist`` (XML or binary), on Linux and Windows ``mdm.xml`` holding a
bare ``<dict>`` (or a whole plist). A multi-organisation file lists several configurations
under ``configs``; the team is known only when they all name the same one.

Pure parts (:func:`parse_mdm`, :data:`MDM_PATHS`, :data:`WARP_CLI_PATHS`) and one reader
(:func:`read_mdm`, :func:`team_from_mdm`) that never raises: a missing, unreadable or
malformed file is "no team from MDM", with the reason kept for ``doctor``.
"""

from __future__ import annotations

import os
import plistlib
import re
import stat
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# The managed configuration file, per OS (sys.platform prefix).
MDM_PATHS: dict[str, tuple[str, ...]] = {
    "darwin": ("/Library/Managed Preferences/com.cloudflare.warp.plist",),
    "linux": ("/var/lib/cloudflare-warp/mdm.xml",),
    "win32": ("C:\\ProgramData\\Cloudflare\\mdm.xml",),
}

# Where the vendor installers put warp-cli, tried after PATH (per OS).
WARP_CLI_PATHS: dict[str, tuple[str, ...]] = {
    "darwin": (
        "/usr/local/bin/warp-cli",
        "/Applications/Cloudflare WARP.app/Contents/Resources/warp-cli",
    ),
    "linux": ("/usr/bin/warp-cli", "/bin/warp-cli"),
    "win32": ("C:\\Program Files\\Cloudflare\\Cloudflare WARP\\warp-cli.exe",),
}

MAX_MDM_BYTES = 1024 * 1024
# A Zero Trust team name: the first label of <team>.cloudflareaccess.com.
_TEAM = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


class MdmParseError(ValueError):
    """The file is not a WARP MDM property list."""


@dataclass(frozen=True)
class MdmConfig:
    """What one MDM file says: every ``organization`` it names, in order."""

    path: str
    organizations: tuple[str, ...] = ()
    problem: str | None = None  # why the file gave no team (unreadable, malformed, several)

    @property
    def team(self) -> str | None:
        distinct = sorted({o.lower() for o in self.organizations})
        return distinct[0] if len(distinct) == 1 else None


def _for_platform(table: dict[str, tuple[str, ...]], platform: str) -> tuple[str, ...]:
    for prefix, paths in table.items():
        if platform.startswith(prefix):
            return paths
    return ()


def mdm_paths(platform: str = sys.platform) -> tuple[str, ...]:
    return _for_platform(MDM_PATHS, platform)


def warp_cli_paths(platform: str = sys.platform) -> tuple[str, ...]:
    return _for_platform(WARP_CLI_PATHS, platform)


def parse_mdm(data: bytes) -> tuple[str, ...]:
    """The ``organization`` values of an MDM file (a plist, or mdm.xml's bare ``<dict>``).

    Raises :class:`MdmParseError` for anything else, and for an organization that is not a
    team name (e.g. an unexpanded ``$cloudflare_organization`` template variable).
    """
    body = data.lstrip(b"\xef\xbb\xbf").lstrip()
    if body.startswith(b"<dict") or body.startswith(b"<array"):
        body = b'<plist version="1.0">' + body + b"</plist>"
    try:
        document: Any = plistlib.loads(body)
    except Exception as exc:  # plistlib raises several types (ExpatError, ValueError...)
        raise MdmParseError(f"not a property list ({exc.__class__.__name__})") from None
    if not isinstance(document, dict):
        raise MdmParseError("the property list is not a dictionary")
    configs = document.get("configs")
    entries = configs if isinstance(configs, list) else [document]
    organizations: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        value = entry.get("organization")
        if value is None:
            continue
        if not isinstance(value, str) or not _TEAM.fullmatch(value.strip()):
            shown = str(value)[:60]
            raise MdmParseError(f"its organization {shown!r} is not a team name")
        organizations.append(value.strip())
    return tuple(organizations)


def read_mdm(paths: Sequence[str] | None = None) -> MdmConfig | None:
    """The first MDM file of ``paths`` (default: this OS's) that exists, or ``None``."""
    for path in mdm_paths() if paths is None else paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            return MdmConfig(path, problem="it is not a regular file")
        if st.st_size > MAX_MDM_BYTES:
            return MdmConfig(path, problem=f"it is larger than {MAX_MDM_BYTES} bytes")
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_MDM_BYTES + 1)
        except OSError as exc:
            return MdmConfig(path, problem=f"it cannot be read: {exc.strerror or exc}")
        try:
            organizations = parse_mdm(data)
        except MdmParseError as exc:
            return MdmConfig(path, problem=str(exc))
        config = MdmConfig(path, organizations)
        if not organizations:
            return MdmConfig(path, problem="it names no organization")
        if config.team is None:
            names = ", ".join(sorted(set(organizations)))
            return MdmConfig(path, organizations, problem=f"it names several teams ({names})")
        return config
    return None


def team_from_mdm(paths: Sequence[str] | None = None) -> str | None:
    """The Zero Trust team named by WARP's MDM file on this device, if exactly one."""
    config = read_mdm(paths)
    return config.team if config is not None else None
