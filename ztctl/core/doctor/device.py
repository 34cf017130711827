"""Device checks: ``device.clock`` and ``device.posture`` (docs/doctor.md).

``device.clock`` compares the local clock with the ``Date`` header of the trace server (the
Cloudflare edge; the lab's edge in the lab), sharing the fetch with ``net.trace``.

``device.posture`` has two halves:

- local facts, really checked where the OS lets an unprivileged user see them: the OS
  version; disk encryption (Linux: is the root file system on a dm-crypt/LUKS device, read
  from ``/proc/self/mountinfo`` and sysfs; macOS: ``fdesetup status``); the firewall (macOS:
  ``socketfilterfw --getglobalstate``; WARP has no firewall posture check on Linux, so it is
  not judged there). Anything that cannot be told is an honest ``skip``;
- the server's verdict, when ztctl holds a Cloudflare Access token: the team's
  ``/cdn-cgi/access/get-identity`` returns ``devicePosture`` with one result per posture
  rule, and every failing rule is named, with a fix for its type.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ztctl.core.doctor.runner import Check, Outcome, failed, passed, skipped, warned

if TYPE_CHECKING:
    from ztctl.core.doctor.context import DoctorContext

TITLES = {
    "device.clock": "Clock in sync",
    "device.posture": "Device posture",
}
CLOCK_WARN_S = 30.0
CLOCK_FAIL_S = 300.0  # JWT and certificate validity checks start failing around here


def checks(ctx: DoctorContext) -> list[Check]:
    return [
        Check("device.clock", TITLES["device.clock"], lambda: check_clock(ctx)),
        Check("device.posture", TITLES["device.posture"], lambda: check_posture(ctx)),
    ]


# -- clock ----------------------------------------------------------------------------


def clock_fix() -> str:
    if sys.platform == "darwin":
        return (
            "turn on System Settings > General > Date & Time > Set time and date "
            "automatically (or `sudo sntp -sS time.apple.com`)"
        )
    if sys.platform.startswith("win"):
        return "turn on Settings > Time & language > Set time automatically, then Sync now"
    return "turn on network time: `sudo timedatectl set-ntp true` (or start chronyd/ntpd)"


def check_clock(ctx: DoctorContext) -> Outcome:
    from ztctl.core.doctor.net import FetchError, trace_fact

    try:
        fetched = trace_fact(ctx)
    except FetchError as exc:
        return skipped(f"no server time to compare with: {exc.message}")
    server = fetched.server_date
    if server is None:
        return skipped(f"{fetched.url} sent no usable Date header to compare with")
    local = (fetched.sent + fetched.received) / 2.0
    skew = local - server
    # The Date header has a resolution of one second: do not report less than that.
    shown = 0.0 if abs(skew) < 1.0 else float(round(skew))
    data = {
        "skewSeconds": round(shown, 1),
        "serverDate": fetched.headers.get("date"),
        "source": fetched.url,
    }
    ahead = "ahead of" if skew > 0 else "behind"
    server_name = urlsplit(fetched.url).netloc
    text = f"the local clock is {abs(shown):.0f}s {ahead} the server's ({server_name})"
    if abs(skew) >= CLOCK_FAIL_S:
        return failed(
            text + ": tokens and certificates will look expired or not yet valid",
            clock_fix(),
            data,
        )
    if abs(skew) >= CLOCK_WARN_S:
        return warned(text, clock_fix(), data)
    if shown == 0.0:
        return passed(f"in sync with {urlsplit(fetched.url).netloc} (within 1s)", data)
    return passed(text, data)


# -- posture: local facts ---------------------------------------------------------------


@dataclass(frozen=True)
class LocalFact:
    name: str
    status: str  # pass | warn | skip
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        out = {"status": self.status, "detail": self.detail}
        if self.fix:
            out["fix"] = self.fix
        return out


def _run(argv: list[str], timeout: float) -> str | None:
    from ztctl.adapters.procs import run_output

    return run_output(argv, timeout)


def os_version_fact(timeout: float) -> LocalFact:
    if sys.platform == "darwin":
        release = platform.mac_ver()[0]
        return LocalFact("osVersion", "pass", f"macOS {release}" if release else "macOS")
    if sys.platform.startswith("linux"):
        pretty = ""
        try:
            for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
                if line.startswith("PRETTY_NAME="):
                    pretty = line.partition("=")[2].strip().strip('"')
        except OSError:
            pass
        kernel = platform.release()
        detail = f"{pretty}, kernel {kernel}" if pretty else f"Linux kernel {kernel}"
        return LocalFact("osVersion", "pass", detail)
    return LocalFact("osVersion", "pass", f"{platform.system()} {platform.release()}".strip())


def _mount_source(mountpoint: str, mountinfo: str) -> tuple[str, str] | None:
    """(filesystem type, source) of the mount at ``mountpoint`` (the last one wins)."""
    found: tuple[str, str] | None = None
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split()
        rest = right.split()
        if not sep or len(fields) < 5 or len(rest) < 2:
            continue
        if fields[4] == mountpoint:
            found = (rest[0], rest[1])
    return found


def _dm_crypt_below(name: str, sys_block: Path, depth: int = 0) -> bool:
    """Whether block device ``name`` is, or sits on, a dm-crypt device (sysfs walk)."""
    if depth > 8:
        return False
    base = sys_block / name
    try:
        uuid = (base / "dm" / "uuid").read_text(encoding="utf-8").strip()
    except OSError:
        uuid = ""
    if uuid.startswith("CRYPT-"):
        return True
    try:
        slaves = [p.name for p in (base / "slaves").iterdir()]
    except OSError:
        slaves = []
    return any(_dm_crypt_below(s, sys_block, depth + 1) for s in slaves)


def linux_disk_encryption(
    mountinfo: str, sys_block: Path = Path("/sys/class/block"), dev: Path = Path("/dev")
) -> LocalFact:
    source = _mount_source("/", mountinfo)
    if source is None:
        return LocalFact("diskEncryption", "skip", "cannot find the root file system's device")
    fstype, device = source
    if not device.startswith("/dev/"):
        return LocalFact(
            "diskEncryption",
            "skip",
            f"the root file system is {fstype} from {device!r} (a container or VM share?): "
            "its disk cannot be seen from here",
        )
    # /dev/mapper/root is a symlink to /dev/dm-0: sysfs knows the kernel name.
    local = dev / device[len("/dev/") :]
    name = Path(os.path.realpath(local)).name if local.is_symlink() else local.name
    if not (sys_block / name).exists():
        return LocalFact("diskEncryption", "skip", f"no sysfs entry for {device}")
    if _dm_crypt_below(name, sys_block):
        return LocalFact(
            "diskEncryption", "pass", f"the root file system ({device}) is on dm-crypt"
        )
    return LocalFact(
        "diskEncryption",
        "warn",
        f"the root file system ({device}) is not on a dm-crypt/LUKS device "
        "(other schemes, such as ZFS native encryption, are not detected)",
        "if the team's posture requires disk encryption, encrypt the disk (LUKS) — ask IT",
    )


def parse_fdesetup(out: str) -> LocalFact:
    """``fdesetup status``: ``FileVault is On.`` / ``FileVault is Off.`` (first line)."""
    first = out.strip().splitlines()[0] if out.strip() else ""
    if first.startswith("FileVault is On"):
        return LocalFact("diskEncryption", "pass", "FileVault is on")
    if first.startswith("FileVault is Off"):
        return LocalFact(
            "diskEncryption",
            "warn",
            "FileVault is off",
            "turn on FileVault: System Settings > Privacy & Security > FileVault",
        )
    shown = first[:120] or "nothing"
    return LocalFact("diskEncryption", "skip", f"fdesetup status printed {shown!r}, not On/Off")


def disk_encryption_fact(timeout: float) -> LocalFact:
    if sys.platform == "darwin":
        out = _run(["fdesetup", "status"], timeout)
        if out is None:
            return LocalFact("diskEncryption", "skip", "fdesetup did not answer")
        return parse_fdesetup(out)
    if sys.platform.startswith("linux"):
        try:
            mountinfo = Path("/proc/self/mountinfo").read_text(encoding="utf-8")
        except OSError:
            return LocalFact("diskEncryption", "skip", "cannot read /proc/self/mountinfo")
        return linux_disk_encryption(mountinfo)
    return LocalFact("diskEncryption", "skip", f"not checked on {sys.platform}")


_FIREWALL_STATE = re.compile(r"\(State = (\d+)\)")


def parse_socketfilterfw(out: str) -> LocalFact:
    """``socketfilterfw --getglobalstate``: the first line's ``(State = N)`` decides — 0 off,
    1 on, 2 on and blocking all incoming connections (the strictest). Its wording changed
    (``Firewall is enabled. (State = 2)`` before, ``Firewall is blocking all non-essential
    incoming connections. (State = 2)`` now), the state number did not."""
    first = out.strip().splitlines()[0] if out.strip() else ""
    match = _FIREWALL_STATE.search(first)
    state = int(match.group(1)) if match else None
    if state is None:
        low = first.lower()
        state = 0 if "is disabled" in low else 1 if "is enabled" in low else None
    if state == 0:
        return LocalFact(
            "firewall",
            "warn",
            "the application firewall is off",
            "turn it on: System Settings > Network > Firewall",
        )
    if state == 1:
        return LocalFact("firewall", "pass", "the application firewall is on")
    if state == 2:
        return LocalFact(
            "firewall", "pass", "the application firewall is on, blocking all incoming connections"
        )
    shown = first[:120] or "nothing"
    return LocalFact("firewall", "skip", f"socketfilterfw printed {shown!r}, not a known state")


# Windows readers: pure, tested against real outputs. ztctl refuses to start on Windows
# today (see ztctl.cli.entry), so nothing runs them yet.


def _windows_fields(text: str) -> list[tuple[str, str]]:
    """manage-bde's ``Key:   value`` lines, in order (a pasted trailing backtick dropped)."""
    fields: list[tuple[str, str]] = []
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and key and value.strip():
            fields.append((key.strip(), value.strip().rstrip("`")))
    return fields


def parse_manage_bde(text: str) -> LocalFact:
    """``manage-bde -status C:``: ``Protection Status: Protection On|Off`` decides (a volume
    can be fully encrypted with protection suspended, which posture checks count as off)."""
    values = dict(_windows_fields(text))
    status = values.get("Protection Status", "")
    converted = values.get("Conversion Status")
    note = f" (conversion: {converted})" if converted else ""
    if status == "Protection On":
        return LocalFact("diskEncryption", "pass", f"BitLocker protection is on{note}")
    if status == "Protection Off":
        return LocalFact(
            "diskEncryption",
            "warn",
            f"BitLocker protection is off{note}",
            "turn on BitLocker (or resume its protection): `manage-bde -protectors -enable C:`",
        )
    return LocalFact("diskEncryption", "skip", "manage-bde printed no Protection Status")


def parse_netsh_firewall(text: str) -> LocalFact:
    """``netsh advfirewall show currentprofile`` (or ``allprofiles``): each ``<Name> Profile
    Settings:`` section's ``State ON|OFF``; any profile off is reported."""
    states: list[tuple[str, str]] = []
    profile = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.endswith("Profile Settings:"):
            profile = stripped[: -len(" Profile Settings:")]
            continue
        parts = stripped.split()
        if len(parts) == 2 and parts[0] == "State" and parts[1] in ("ON", "OFF"):
            states.append((profile or "current", parts[1]))
    if not states:
        return LocalFact("firewall", "skip", "netsh printed no firewall State")
    off = [name for name, state in states if state == "OFF"]
    if off:
        return LocalFact(
            "firewall",
            "warn",
            f"Windows Defender Firewall is off for the {', '.join(off)} profile",
            "turn it on: `netsh advfirewall set currentprofile state on` (as administrator)",
        )
    names = ", ".join(name for name, _state in states)
    return LocalFact("firewall", "pass", f"Windows Defender Firewall is on ({names} profile)")


def firewall_fact(timeout: float) -> LocalFact:
    if sys.platform == "darwin":
        tool = "/usr/libexec/ApplicationFirewall/socketfilterfw"
        out = _run([tool, "--getglobalstate"], timeout)
        if out is None:
            return LocalFact("firewall", "skip", "socketfilterfw did not answer")
        return parse_socketfilterfw(out)
    if sys.platform.startswith("linux"):
        active = []
        for unit in ("ufw", "firewalld", "nftables"):
            out = _run(["systemctl", "is-active", unit], timeout)
            if out is not None and out.strip().splitlines()[:1] == ["active"]:
                active.append(unit)
        where = f" (active: {', '.join(active)})" if active else ""
        return LocalFact(
            "firewall",
            "skip",
            f"WARP has no firewall posture check on Linux, so ztctl does not judge it{where}",
        )
    return LocalFact("firewall", "skip", f"not checked on {sys.platform}")


def local_facts(timeout: float) -> list[LocalFact]:
    return [os_version_fact(timeout), disk_encryption_fact(timeout), firewall_fact(timeout)]


# -- posture: the server's verdict ------------------------------------------------------

# What to do about a failing rule, by its type (Cloudflare's posture check types).
RULE_FIXES = {
    "os_version": "update the operating system to the version the rule requires",
    "disk_encryption": "turn on disk encryption (FileVault, BitLocker, LUKS)",
    "firewall": "turn on the OS firewall",
    "warp": "connect WARP (`warp-cli connect`)",
    "gateway": "connect WARP in a mode that sends traffic through Gateway (`warp-cli mode warp`)",
    "file": "the file the rule looks for is missing or different: ask IT",
    "application": "the application the rule requires is not running: start it, or ask IT",
    "serial_number": "this device's serial number is not on the team's list: ask IT",
    "domain_joined": "join the device to the company domain",
    "client_certificate": "install the device certificate the rule requires: ask IT",
    "sentinelone": "make sure SentinelOne runs and is healthy",
    "crowdstrike_s2s": "make sure CrowdStrike Falcon runs and is healthy",
    "tanium": "make sure Tanium runs and is healthy",
}


@dataclass(frozen=True)
class PostureRule:
    id: str
    name: str
    type: str
    success: bool
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "success": self.success,
        }
        if self.error:
            out["error"] = self.error
        return out


def parse_device_posture(document: Any) -> list[PostureRule]:
    """The rules of ``get-identity``'s ``devicePosture`` (keyed by rule id)."""
    if not isinstance(document, Mapping):
        return []
    posture = document.get("devicePosture")
    if not isinstance(posture, Mapping):
        return []
    rules: list[PostureRule] = []
    for key, item in posture.items():
        if not isinstance(item, Mapping):
            continue
        rule_id = str(item.get("id") or key)
        name = item.get("rule_name") or item.get("name") or item.get("description") or rule_id
        kind = item.get("type")
        error = item.get("error")
        rules.append(
            PostureRule(
                id=rule_id,
                name=str(name),
                type=str(kind) if isinstance(kind, str) else "",
                success=item.get("success") is True,
                error=str(error) if isinstance(error, str) else "",
            )
        )
    return sorted(rules, key=lambda r: (r.success, r.name.lower()))


# A token source returns (token or None, a note on where it looked / why there is none).
TokenSource = Callable[["DoctorContext", "str | None"], tuple["str | None", str]]


def default_token_source(ctx: DoctorContext, cluster: str | None = None) -> tuple[str | None, str]:
    """An Access token of the team from the OS keyring, if ztctl holds one.

    Looks for the tokens ``ztctl login`` stores (per cluster with ``accessToken``
    credentials). Never prompts, never runs cloudflared. A keyring that cannot be used
    raises its :class:`~ztctl.errors.ZtctlError` (with the fix).
    """
    import importlib.util

    if importlib.util.find_spec("ztctl.adapters.keyring") is None:
        return None, "this ztctl has no keyring support"
    names = token_item_names(ctx, cluster)
    if not names:
        return None, "no catalog cluster uses Cloudflare Access tokens"
    from ztctl.adapters import keyring as kr

    for name in names:
        token = kr.read_secret_fast(name, ctx.env)  # KeyringError: the caller explains it
        if token:
            return token, f"keyring item {name!r}"
    return None, "no Access token in the keyring (run `ztctl login`)"


def token_item_names(ctx: DoctorContext, cluster: str | None = None) -> list[str]:
    """Keyring item names of the selected clusters' Access tokens: ``ztctl login`` and
    ``ztctl credential`` keep each ``accessToken`` cluster's token under the cluster name."""
    from ztctl.core import model

    if cluster is not None:
        return [
            c.name
            for c in ctx.clusters
            if c.name == cluster and isinstance(c.credentials, model.AccessToken)
        ]
    names = [c.name for c in ctx.clusters if isinstance(c.credentials, model.AccessToken)]
    return names + [n for n in ctx.access_clusters if n not in names]


def identity_url(ctx: DoctorContext) -> str | None:
    """The team's ``get-identity`` endpoint.

    A loopback trace URL means a local stand-in of Cloudflare's edge (the lab), which also
    serves the team's Access endpoints: use its origin. Otherwise the team's auth domain,
    ``https://<team>.cloudflareaccess.com``.
    """
    from ztctl.core.doctor.net import is_loopback_host

    try:
        trace = urlsplit(ctx.warp.trace_url)
        loopback = trace.scheme == "http" and is_loopback_host(trace.hostname or "")
    except ValueError:  # a malformed URL (the config refuses one): not the lab's
        loopback = False
    if loopback:
        return f"http://{trace.netloc}/cdn-cgi/access/get-identity"
    if not ctx.team:
        return None
    return f"https://{ctx.team}.cloudflareaccess.com/cdn-cgi/access/get-identity"


def server_verdict(ctx: DoctorContext, timeout: float | None = None) -> dict[str, Any]:
    """``{"available": bool, "note": str, "rules": [...]}`` from get-identity."""
    from ztctl.core.doctor.net import FetchError, fetch
    from ztctl.errors import ZtctlError

    source: TokenSource = ctx.token_source or default_token_source
    try:
        token, note = source(ctx, None)
    except ZtctlError as exc:
        return {"available": False, "note": "the keyring could not be read", "error": exc.message}
    if not token:
        return {"available": False, "note": note}
    url = identity_url(ctx)
    if url is None:
        return {"available": False, "note": "no team configured, so no identity endpoint"}
    try:
        fetched = fetch(
            url,
            timeout=ctx.io_timeout if timeout is None else timeout,
            what="identity",
            setting="the team name",
            headers={"Cookie": f"CF_Authorization={token}"},
        )
    except FetchError as exc:
        return {"available": False, "note": exc.message, "url": url}
    if fetched.status in (401, 403):
        return {
            "available": False,
            "note": f"the identity endpoint refused the stored Access token ({fetched.status}): "
            "it has expired or was revoked — run `ztctl login`",
            "url": url,
        }
    if fetched.status != 200:
        return {"available": False, "note": f"{url} answered HTTP {fetched.status}", "url": url}
    try:
        document = json.loads(fetched.body)
    except ValueError:
        return {"available": False, "note": f"{url} did not answer JSON", "url": url}
    rules = parse_device_posture(document)
    return {
        "available": True,
        "note": note,
        "url": url,
        "rules": rules,
        "deviceId": document.get("device_id") if isinstance(document, Mapping) else None,
    }


def check_posture(ctx: DoctorContext) -> Outcome:
    started = time.monotonic()
    facts = local_facts(ctx.io_timeout / 3)
    remaining = max(0.05, ctx.io_timeout - (time.monotonic() - started))
    verdict = server_verdict(ctx, remaining)
    data: dict[str, Any] = {"local": {f.name: f.to_dict() for f in facts}}
    rules: list[PostureRule] = verdict.pop("rules", []) if verdict.get("available") else []
    data["server"] = {**verdict, "rules": [r.to_dict() for r in rules]}
    local_text = "; ".join(f.detail for f in facts if f.status != "skip" or f.name == "firewall")
    failing = [r for r in rules if not r.success]
    if failing:
        names = ", ".join(f"{r.name!r} ({r.type})" if r.type else repr(r.name) for r in failing)
        fixes = []
        for rule in failing:
            fix = RULE_FIXES.get(rule.type, "ask IT what the rule requires")
            fixes.append(f"{rule.name}: {fix}")
        return failed(
            f"the team's device posture check says this device fails {len(failing)} of "
            f"{len(rules)} rules: {names}; Access and Gateway policies that require them deny "
            "this device",
            "; ".join(fixes) + "; the result refreshes within about 5 minutes of a fix",
            data,
        )
    if rules:
        # The team's verdict is authoritative: local findings stay in the data.
        return passed(
            f"the team's posture check passes all {len(rules)} rules ({local_text})", data
        )
    warns = [f for f in facts if f.status == "warn"]
    if warns:
        return warned(
            "; ".join(f.detail for f in warns) + f" (no server verdict: {verdict['note']})",
            "; ".join(f.fix for f in warns if f.fix),
            data,
        )
    if any(f.status == "pass" for f in facts):
        return passed(f"{local_text}; no server verdict: {verdict['note']}", data)
    return skipped(f"nothing could be checked here; no server verdict: {verdict['note']}", data)
