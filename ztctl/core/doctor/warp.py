"""Device checks over the WARP client: ``warp.cli``, ``warp.daemon``, ``warp.registration``,
``warp.connected``, ``warp.mode`` and ``warp.split-tunnel`` (docs/doctor.md).

Every warp-cli call goes through :class:`ztctl.adapters.warp.WarpClient` (every version
era, ``--json`` where the client has it, a timeout on each call); results several checks
need are shared facts. Fixes use the command names of the installed client's era.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ztctl.core.doctor.runner import Check, Outcome, check_key, failed, passed, skipped, warned

if TYPE_CHECKING:
    from ztctl.adapters.warp import (
        SplitEntry,
        WarpClient,
        WarpRegistration,
        WarpSettings,
        WarpStatus,
    )
    from ztctl.core.doctor.context import DoctorContext

TITLES = {
    "warp.cli": "WARP client installed",
    "warp.daemon": "WARP daemon answers",
    "warp.registration": "Enrolled in the Zero Trust team",
    "warp.connected": "WARP connected",
    "warp.mode": "WARP mode routes private networks",
    "warp.split-tunnel": "Split tunnel sends cluster addresses into WARP",
}

# Where an admin changes the device profile (Zero Trust dashboard).
PROFILE_PATH = "Zero Trust dashboard > Settings > WARP Client > Device settings > (profile)"


def checks(ctx: DoctorContext) -> list[Check]:
    def make(check_id: str, fn: Any, after: Sequence[str] = ()) -> Check:
        return Check(check_id, TITLES[check_id], lambda: fn(ctx), None, tuple(after))

    daemon = check_key("warp.daemon")
    return [
        make("warp.cli", check_cli),
        make("warp.daemon", check_daemon, [check_key("warp.cli")]),
        make("warp.registration", check_registration, [daemon]),
        make("warp.connected", check_connected, [daemon]),
        make("warp.mode", check_mode, [daemon]),
        make("warp.split-tunnel", check_split_tunnel, [daemon]),
    ]


# -- shared facts ---------------------------------------------------------------------


def status_fact(ctx: DoctorContext) -> WarpStatus:
    client = ctx.warp_client()
    return ctx.facts.get("warp.status", client.status)


def settings_fact(ctx: DoctorContext) -> WarpSettings:
    client = ctx.warp_client()
    return ctx.facts.get("warp.settings", client.settings)


def registration_fact(ctx: DoctorContext) -> WarpRegistration | None:
    client = ctx.warp_client()
    return ctx.facts.get("warp.registration", client.registration)


def _team(ctx: DoctorContext) -> tuple[str | None, str | None]:
    """(team, where it came from): the configured team, else the one WARP's MDM file names
    (where the organisation deployed one), else (None, None)."""
    if ctx.team:
        return ctx.team, "config"
    from ztctl.adapters.mdm import team_from_mdm

    team = ctx.facts.get("warp.mdm-team", team_from_mdm)
    return (team, "mdm") if team else (None, None)


def _cmd(client: WarpClient, new: str, old: str) -> str:
    try:
        return f"warp-cli {new if client.new_names else old}"
    except Exception:  # the era could not be learnt: the current spelling
        return f"warp-cli {new}"


def _error_outcome(exc: Exception, what: str) -> Outcome:
    from ztctl.adapters.warp import WarpError, WarpParseError

    if isinstance(exc, WarpError):
        data: dict[str, Any] = {"reason": exc.reason.value}
        if exc.output:
            data["output"] = exc.output
        return failed(exc.message, exc.fix, data)
    if isinstance(exc, WarpParseError):
        return warned(
            f"warp-cli answered {what}, but in a form ztctl does not know: {exc}",
            f"run `warp-cli {what}` to see it; please report the output to the ztctl maintainers",
        )
    raise exc


# -- checks ---------------------------------------------------------------------------


def check_cli(ctx: DoctorContext) -> Outcome:
    from ztctl.adapters.warp import WarpError, WarpParseError

    client = ctx.warp_client()
    try:
        path = client.executable()
    except WarpError as exc:
        return failed(exc.message, exc.fix, {"looked": ctx.warp.cli})
    try:
        version = ctx.facts.get("warp.version", client.version)
    except WarpParseError as exc:
        return warned(
            f"{path} does not print a version ztctl can read ({exc})",
            "update the Cloudflare WARP client",
            {"path": path},
        )
    except WarpError as exc:
        return failed(exc.message, exc.fix, {"path": path, "reason": exc.reason.value})
    era = str(version.year)
    return passed(
        f"warp-cli {version} ({path})",
        {"path": path, "version": str(version), "era": era},
    )


def check_daemon(ctx: DoctorContext) -> Outcome:
    from ztctl.adapters.warp import WarpActionNeeded, WarpError, WarpErrorKind, WarpParseError

    try:
        status = status_fact(ctx)
    except WarpActionNeeded as exc:
        if exc.reason is WarpErrorKind.MISSING_REGISTRATION:
            return passed("the WARP daemon answers (the device has no registration)")
        return failed(exc.message, exc.fix, {"reason": exc.reason.value})
    except (WarpError, WarpParseError) as exc:
        return _error_outcome(exc, "status")
    return passed(f"the WARP daemon answers (status: {status.state})", {"state": status.state})


def check_registration(ctx: DoctorContext) -> Outcome:
    from ztctl.adapters.warp import WarpError, WarpParseError

    client = ctx.warp_client()
    team, team_source = _team(ctx)
    login = f"ztctl login --team {team}" if team else "ztctl login"
    try:
        reg = registration_fact(ctx)
    except (WarpError, WarpParseError) as exc:
        return _error_outcome(exc, "registration show")
    if reg is None:
        return failed(
            "this device is not enrolled in a Zero Trust team (warp-cli has no registration)",
            f"run `{login}`",
            {"team": team},
        )
    data: dict[str, Any] = {"accountType": reg.account_type, "team": team}
    if team_source:
        data["teamSource"] = team_source
    if reg.device_id:
        data["deviceId"] = reg.device_id
    delete = _cmd(client, "registration delete", "delete")
    if not reg.is_team:
        return failed(
            f"this device has a consumer WARP registration (account type {reg.account_type}), "
            f"not a Zero Trust one{f' in team {team}' if team else ''}",
            f"run `{delete}`, then `{login}`",
            data,
        )
    organization = reg.organization
    if organization is None:
        try:
            organization = settings_fact(ctx).organization
        except (WarpError, WarpParseError):
            organization = None
    data["organization"] = organization
    if organization is None:
        return warned(
            "the device is enrolled in a Zero Trust team, but warp-cli does not say which",
            f"check `warp-cli settings` shows `Organization: {team}`" if team else "",
            data,
        )
    if team and organization.lower() != team.lower():
        whose = "WARP's MDM file's" if team_source == "mdm" else "the catalog's"
        return failed(
            f"the device is enrolled in team {organization!r}, not in {whose} team {team!r}",
            f"run `{delete}`, then `{login}`",
            data,
        )
    return passed(f"enrolled in team {organization}", data)


_TRANSIENT = frozenset({"Connecting", "Disconnecting", "Paused"})


def check_connected(ctx: DoctorContext) -> Outcome:
    from ztctl.adapters.warp import WarpError, WarpParseError

    try:
        status = status_fact(ctx)
    except (WarpError, WarpParseError) as exc:
        return _error_outcome(exc, "status")
    data: dict[str, Any] = {
        "state": status.state,
        "reason": status.reason,
        "reasonCode": status.reason_code,
        "network": status.network,
    }
    reason = f" (reason: {status.reason})" if status.reason else ""
    state = "unable to connect" if status.state == "Unable" else status.state.lower()
    if status.connected:
        if status.network and status.network.lower() not in ("healthy", ""):
            return warned(
                f"WARP is connected, but reports the network as {status.network}",
                "packet loss or latency on the way to Cloudflare: try another network; "
                "`warp-cli debug network` shows details",
                data,
            )
        note = f", network {status.network}" if status.network else ""
        return passed(f"WARP is connected{note}", data)
    connect = "warp-cli connect"
    if status.registration_missing:
        known, _source = _team(ctx)
        team = f" --team {known}" if known else ""
        return failed(
            f"WARP is {state}{reason}: the device has no registration",
            f"run `ztctl login{team}`",
            data,
        )
    if status.state in _TRANSIENT:
        detail = f" ({status.reason})" if status.reason else ""
        return warned(
            f"WARP is {status.state.lower()}{detail}: not carrying traffic yet",
            "wait a few seconds and run `ztctl doctor` again; if it stays so, "
            f"`warp-cli disconnect` then `{connect}`",
            data,
        )
    code = (status.reason_code or "").lower()
    if "happyeyeballs" in code:
        fix = (
            "the network blocks WARP's tunnel to Cloudflare (UDP 443/2408 for WireGuard, "
            "UDP 443 for MASQUE): try another network, or ask the network admins to allow it; "
            f"then `{connect}`"
        )
    elif code == "manual":
        fix = f"run `{connect}` (or `ztctl login`)"
    else:
        fix = f"run `{connect}`; if it does not connect, `warp-cli status` says why"
    return failed(f"WARP is {state}{reason}", fix, data)


def check_mode(ctx: DoctorContext) -> Outcome:
    from ztctl.adapters.warp import MODE_DESCRIPTIONS, WarpError, WarpParseError

    client = ctx.warp_client()
    try:
        settings = settings_fact(ctx)
    except (WarpError, WarpParseError) as exc:
        return _error_outcome(exc, "settings")
    description = MODE_DESCRIPTIONS.get(settings.mode, settings.mode)
    shown = settings.mode_text or settings.mode
    data: dict[str, Any] = {
        "mode": settings.mode,
        "modeText": settings.mode_text,
        "source": _source_of(settings, "Mode"),
        "switchLocked": settings.switch_locked,
        "fallbackDomains": list(settings.fallback_domains),
    }
    routes = settings.routes_private
    if settings.mode_text is None:
        return warned(
            "warp-cli settings did not show the mode (no `Mode:` line), so ztctl cannot tell "
            "whether WARP routes private networks",
            "run `warp-cli settings` and look for `Mode:`; private networks need Gateway with "
            f"WARP: `{_cmd(client, 'mode warp', 'set-mode warp')}`",
            data,
        )
    if routes is None:
        notes = " (the output carries hand-written `# ...` notes)" if settings.annotated else ""
        return warned(
            f"WARP reports the mode {shown!r}, which ztctl does not know{notes}",
            "private networks need Gateway with WARP: "
            f"`{_cmd(client, 'mode warp', 'set-mode warp')}`",
            data,
        )
    if routes:
        return passed(f"{description} ({shown}) routes private networks", data)
    why = {
        "proxy": "only applications configured to use the local proxy"
        + (f" on port {settings.proxy_port}" if settings.proxy_port else "")
        + " are sent through WARP, and kubectl's packets to the cluster are not",
        "doh": "only DNS queries go to Gateway; no other packet enters a tunnel",
        "dot": "only DNS queries go to Gateway; no other packet enters a tunnel",
        "postureonly": "the client only reports device posture; it sends no traffic at all",
    }.get(settings.mode, "it does not route private networks")
    switch = _cmd(client, "mode warp", "set-mode warp")
    admin = (
        "ask the Zero Trust admins to set the device profile's service mode to "
        f"Gateway with WARP ({PROFILE_PATH} > Service mode)"
    )
    if settings.mode == "postureonly" or settings.switch_locked:
        fix = admin + " (the mode is locked on this device)"
    else:
        fix = f"run `{switch}`; if the client refuses (mode switching not allowed), {admin}"
    return failed(f"WARP is in {description}: {why}", fix, data)


def _source_of(settings: WarpSettings, key: str) -> str | None:
    for source, name, _value in settings.fields:
        if name == key:
            return source or None
    return None


def _network(entry: SplitEntry) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(entry.value, strict=False)
    except ValueError:
        return None


def _host_matches(entry: str, host: str) -> bool:
    pattern = entry.lower().strip().rstrip(".")
    name = host.lower().rstrip(".")
    if pattern.startswith("*."):
        return name.endswith(pattern[1:])
    return name == pattern or name.endswith("." + pattern)


def evaluate_split_tunnel(
    mode: str | None,
    entries: Sequence[SplitEntry],
    targets: Sequence[tuple[str, str, str]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Which (cluster, host, address) are sent into the tunnel. Returns (ok, bad) rows;
    a bad row names the covering exclude entry, or says no include entry covers it."""
    ok: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    for cluster, host, address in targets:
        ip = ipaddress.ip_address(address)
        covering = [
            e
            for e in entries
            if (net := _network(e)) is not None and net.version == ip.version and ip in net
        ]
        by_host = [e for e in entries if _network(e) is None and _host_matches(e.value, host)]
        row: dict[str, Any] = {"cluster": cluster, "host": host, "address": address}
        if mode == "include":
            if covering or by_host:
                row["entry"] = (covering or by_host)[0].value
                ok.append(row)
            else:
                bad.append(row)
        else:
            hit = covering or by_host
            if hit:
                row["entry"] = hit[0].value
                row["description"] = hit[0].description
                row["fromCli"] = hit[0].from_cli
                bad.append(row)
            else:
                ok.append(row)
    return ok, bad


def _rest_of(entry: str, addresses: Sequence[str], limit: int = 6) -> list[str]:
    """The parts of ``entry`` left after taking out the cluster addresses' /24s (/64s)."""
    try:
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return []
    remaining: list[Any] = [network]
    for address in addresses:
        ip = ipaddress.ip_address(address)
        if ip.version != network.version:
            continue
        hole = ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 64}", strict=False)
        next_remaining: list[Any] = []
        for net in remaining:
            if hole.subnet_of(net) and hole != net:
                next_remaining.extend(net.address_exclude(hole))
            elif net.subnet_of(hole):
                continue
            else:
                next_remaining.append(net)
        remaining = next_remaining
    ordered = sorted(remaining, key=lambda n: (n.network_address, n.prefixlen))
    return [str(n) for n in ordered[:limit]] + (["…"] if len(ordered) > limit else [])


def check_split_tunnel(ctx: DoctorContext) -> Outcome:
    from ztctl.adapters.warp import WarpError, WarpParseError

    client = ctx.warp_client()
    targets = [(c.name, c.host, a) for c in ctx.clusters for a in c.addresses]
    if not targets:
        return skipped("no cluster addresses to check (no cluster selected)")
    try:
        settings = settings_fact(ctx)
    except (WarpError, WarpParseError) as exc:
        return _error_outcome(exc, "settings")
    mode = settings.split_mode
    entries = settings.split_entries
    if mode is None:
        return warned(
            "warp-cli settings shows no split tunnel list, so ztctl cannot tell whether the "
            "cluster addresses enter the tunnel",
            "check `warp-cli settings`; `cluster.route` shows where the packets go",
        )
    ok, bad = evaluate_split_tunnel(mode, entries, targets)
    data: dict[str, Any] = {
        "mode": mode,
        "entries": [e.value for e in entries],
        "sent": ok,
        "notSent": bad,
    }
    # An elided list (`...`) is incomplete: what it lacks cannot be judged from it.
    unknown = ok if mode == "exclude" else bad
    if settings.elided and unknown:
        data["elided"] = True
        where = ", ".join(sorted({row["address"] for row in unknown}))
        return warned(
            f"warp-cli settings shows the {mode} list elided (`...`), so ztctl cannot tell "
            f"whether {where} enter the tunnel",
            "run `warp-cli settings` on the device itself and check the full list; "
            "`cluster.route` shows where the packets go",
            data,
        )
    if not bad:
        where = ", ".join(sorted({row["address"] for row in ok}))
        if mode == "include":
            return passed(f"include mode: every cluster address is included ({where})", data)
        return passed(f"exclude mode: no excluded range covers a cluster address ({where})", data)
    if mode == "include":
        missing = sorted({row["address"] for row in bad})
        names = sorted({row["cluster"] for row in bad})
        add = ", ".join(f"{a}/{32 if ':' not in a else 128}" for a in missing)
        team_host = (
            f"{ctx.team}.cloudflareaccess.com" if ctx.team else "<team>.cloudflareaccess.com"
        )
        return failed(
            f"include mode: no Split Tunnels include entry covers {', '.join(missing)} "
            f"({', '.join(names)}), so those packets bypass WARP",
            f"ask the Zero Trust admins to add {add} (or the cluster's range) to the "
            f"Split Tunnels include list, together with {team_host} and the identity provider "
            f"({PROFILE_PATH} > Split Tunnels)",
            data,
        )
    return _excluded(client, bad, data)


def _excluded(client: WarpClient, bad: list[dict[str, Any]], data: dict[str, Any]) -> Outcome:
    """Exclude mode: which entries exclude which cluster addresses, and how to undo each."""
    parts = []
    fixes = []
    by_entry: dict[str, list[dict[str, Any]]] = {}
    for row in bad:
        by_entry.setdefault(row["entry"], []).append(row)
    for entry, rows in by_entry.items():
        addresses = sorted({r["address"] for r in rows})
        clusters = sorted({r["cluster"] for r in rows})
        parts.append(f"{entry} excludes {', '.join(addresses)} ({', '.join(clusters)})")
        if rows[0].get("fromCli"):
            remove = _cmd(client, f"tunnel ip remove {entry}", f"remove-excluded-route {entry}")
            fixes.append(f"run `{remove}` (it was added on this device)")
            continue
        rest = _rest_of(entry, addresses)
        readd = f" and re-add the parts you do not use ({', '.join(rest)})" if rest else ""
        default = (
            " — it is in WARP's default exclude list, the classic trap for private clusters"
            if entry in _DEFAULT_EXCLUDES
            else ""
        )
        fixes.append(
            f"ask the Zero Trust admins to remove {entry} from the Split Tunnels exclude "
            f"list{readd} ({PROFILE_PATH} > Split Tunnels){default}"
        )
    return failed(
        "exclude mode: " + "; ".join(parts) + ", so those packets bypass WARP",
        "; ".join(fixes),
        data,
    )


# WARP's default Split Tunnels exclude list, IPv4 and IPv6 private ranges.
_DEFAULT_EXCLUDES = frozenset(
    {
        "10.0.0.0/8",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.168.0.0/16",
        "224.0.0.0/24",
        "240.0.0.0/4",
        "fd00::/8",
        "fe80::/10",
        "fc00::/7",
    }
)
