"""Conformance of the OS readers (routes, tunnels, posture, resolv.conf, WARP's MDM file)
with real outputs of the commands ztctl runs.

Each row names one sample and the verdict ztctl reaches on it. Samples of commands ztctl
does not run (``netstat``, ``scutil``, ``nft``, ``route print``...) have the verdict
``not-read:<reader>``: the reader that could meet such text by mistake refuses it rather
than guessing from it. Windows outputs are read by ztctl's Windows readers (pure
functions, not run while ztctl refuses to start on Windows). Adding a sample is one row.
"""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conformance.corpus import files_on_disk, index_rows, sample
from ztctl.adapters.dns import parse_resolv_conf
from ztctl.adapters.mdm import MdmParseError, parse_mdm
from ztctl.adapters.routes import (
    RouteInfo,
    RouteParseError,
    interpret_route_get,
    parse_bsd_route_get,
    parse_find_netroute,
    parse_ifconfig,
    parse_ip_route_get,
    tunnel_owner,
)
from ztctl.core.doctor.device import (
    parse_fdesetup,
    parse_manage_bde,
    parse_netsh_firewall,
    parse_socketfilterfw,
)

KIND = "platform"
LINUX_ROUTE = "route:linux"
MAC_ROUTE = "route:macos"

# (sample, verdict)
#   route:<os>:<interface or none>[:<gateway>]   interpret_route_get (exit 0)
#   owner:<warp|tailscale|other|unknown>         whose tunnel an `ifconfig` interface is
#   fact:<pass|warn|skip>:<words>                a posture fact
#   resolver:<yes|no|unknown>                    resolv.conf points at WARP's DNS proxy?
#   mdm:<team>                                   the team WARP's MDM file names
#   not-read:<reader>                            ztctl does not run it; <reader> refuses it
ROWS: list[tuple[str, str]] = [
    ("macos/route-get-1-via-utun3-with-gateway.txt", f"{MAC_ROUTE}:utun3:192.168.12.1"),
    ("macos/route-get-0-default-en0.txt", f"{MAC_ROUTE}:en0:10.62.96.1"),
    ("macos/route-get-google-utun3-warp.txt", f"{MAC_ROUTE}:utun3"),
    ("macos/route-get-169.254-en0-excluded.txt", f"{MAC_ROUTE}:en0"),
    ("macos/route-n-get-default-en1.txt", f"{MAC_ROUTE}:en1:10.20.10.1"),
    ("macos/route-get-not-in-table.stderr.txt", f"{MAC_ROUTE}:none"),
    ("macos/ifconfig-utun3-warp.txt", "owner:warp"),
    ("macos/ifconfig-utun8-tailscaled-no-address.txt", "owner:other"),
    ("macos/netstat-nr-tailscale-utun8-excerpt.txt", "not-read:bsd-route"),
    ("macos/netstat-rn-warp-utun6-excerpt.txt", "not-read:bsd-route"),
    ("macos/netstat-rn-default-link-utun3.txt", "not-read:bsd-route"),
    ("macos/netstat-nr-f-inet-catalina-excerpt.txt", "not-read:bsd-route"),
    ("macos/scutil-dns-warp-docs.txt", "not-read:bsd-route"),
    ("macos/scutil-dns-warp-connected-excerpt.txt", "not-read:bsd-route"),
    ("macos/resolv-conf-warp-connected.txt", "resolver:yes"),
    ("macos/resolv-conf-tahoe-no-nameservers.txt", "resolver:unknown"),
    ("macos/scutil-dns-tahoe-excerpt.txt", "not-read:bsd-route"),
    ("macos/fdesetup-status-on-master-keychain.txt", "fact:pass:FileVault is on"),
    ("macos/fdesetup-status-off.txt", "fact:warn:FileVault is off"),
    ("macos/socketfilterfw-getglobalstate-state0-disabled.txt", "fact:warn:firewall is off"),
    ("macos/socketfilterfw-getglobalstate-state1-enabled.txt", "fact:pass:firewall is on"),
    ("macos/socketfilterfw-getglobalstate-state2-blocking.txt", "fact:pass:blocking all incoming"),
    (
        "macos/socketfilterfw-getglobalstate-state2-enabled-2021.txt",
        "fact:pass:blocking all incoming",
    ),
    # Not what ztctl runs (several flags at once), but its first line is the global state.
    ("macos/socketfilterfw-multi-get-state2-enabled.txt", "fact:pass:blocking all incoming"),
    ("macos/sw_vers-15.7.4.txt", "not-read:bsd-route"),
    ("macos/sw_vers-10.13.txt", "not-read:bsd-route"),
    ("macos/security-find-generic-password-not-found.stderr.txt", "not-read:bsd-route"),
    ("macos/networksetup-getsocksfirewallproxy-enabled.txt", "not-read:bsd-route"),
    ("macos/com.cloudflare.warp.plist-official-example.xml", "mdm:your-team-name"),
    ("windows/ipconfig-cloudflarewarp-docs.txt", "not-read:ip-route"),
    ("windows/ipconfig-all-cloudflarewarp-es.txt", "not-read:ip-route"),
    ("windows/find-netroute-1.1.1.1-cloudflarewarp.txt", "route:windows:CloudflareWARP"),
    ("windows/find-netroute-169.254-wifi.txt", "route:windows:Wi-Fi"),
    ("windows/route-print-basic.txt", "not-read:bsd-route"),
    ("windows/route-print-anyconnect-two-defaults.txt", "not-read:bsd-route"),
    ("windows/route-print-french.txt", "not-read:bsd-route"),
    # An excerpt, but the line that decides (Protection Status) is in it.
    ("windows/manage-bde-status-c-excerpt.txt", "fact:warn:BitLocker protection is off"),
    (
        "windows/netsh-advfirewall-show-currentprofile-off.txt",
        "fact:warn:Firewall is off for the Domain profile",
    ),
    ("windows/mdm.xml-official-example.xml", "mdm:your-team-name"),
    ("linux/ip-route-get-1.1.1.1-cloudflarewarp-docs.txt", f"{LINUX_ROUTE}:CloudflareWARP"),
    ("linux/ip-route-get-169.254-ens18-docs.txt", f"{LINUX_ROUTE}:ens18"),
    ("linux/ip-route-get-cloudflarewarp-device-ip-src.txt", f"{LINUX_ROUTE}:CloudflareWARP"),
    ("linux/ip-r-get-via-gateway.txt", f"{LINUX_ROUTE}:baremetal:169.55.126.145"),
    ("linux/ip-r-get-local.txt", f"{LINUX_ROUTE}:lo"),
    ("linux/ip-j-r-get-via-gateway-jq.json", f"{LINUX_ROUTE}:baremetal:169.55.126.145"),
    ("linux/ip-j-r-get-local-jq.json", f"{LINUX_ROUTE}:lo"),
    ("linux/ip-addr-cloudflarewarp-docs-excerpt.txt", "not-read:ip-route"),
    ("linux/resolv-conf-cloudflare-warp-docs.txt", "resolver:yes"),
    ("linux/ip-rule-warp-fwmark-after-reconnect.txt", "not-read:ip-route"),
    ("linux/nft-list-table-inet-cloudflare-warp-excerpt.txt", "not-read:ip-route"),
    ("linux/cryptsetup-status-luks2.txt", "not-read:ip-route"),
    ("linux/mdm.xml-official-example.xml", "mdm:your-team-name"),
]

FACT_READERS = {
    "fdesetup": parse_fdesetup,
    "socketfilterfw": parse_socketfilterfw,
    "manage-bde": parse_manage_bde,
    "netsh-advfirewall": parse_netsh_firewall,
}
READERS = {
    "bsd-route": lambda text: parse_bsd_route_get("192.0.2.1", text),
    "ip-route": lambda text: parse_ip_route_get("192.0.2.1", text),
    # A posture reader "refuses" by skipping: it says what it read instead of judging.
    "fdesetup": parse_fdesetup,
    "socketfilterfw": parse_socketfilterfw,
}


def _route(os_name: str, text: str, stderr_only: bool) -> RouteInfo:
    parse = {
        "macos": parse_bsd_route_get,
        "linux": parse_ip_route_get,
        "windows": parse_find_netroute,
    }[os_name]
    stdout, stderr = ("", text) if stderr_only else (text, "")
    return interpret_route_get("192.0.2.1", ["route"], 0, stdout, stderr, parse)


@pytest.mark.parametrize(("name", "expected"), ROWS, ids=[r[0] for r in ROWS])
def test_platform_sample(name: str, expected: str) -> None:
    data = sample(KIND, name).read_bytes()
    text = data.decode("utf-8")
    head, _, rest = expected.partition(":")
    if head == "route":
        os_name, _, want = rest.partition(":")
        interface, _, gateway = want.partition(":")
        info = _route(os_name, text, name.endswith(".stderr.txt"))
        if interface == "none":
            assert info.interface is None and "not in table" in (info.error or "")
        else:
            assert (info.interface, info.gateway) == (interface, gateway or None)
    elif head == "owner":
        interfaces = parse_ifconfig(text)
        assert len(interfaces) == 1
        ((iface, addresses),) = interfaces.items()
        assert tunnel_owner(iface, addresses).owner == rest
    elif head == "fact":
        status, _, words = rest.partition(":")
        reader = next(r for key, r in FACT_READERS.items() if key in name)
        fact = reader(text)
        assert fact.status == status, fact
        assert words in fact.detail, fact
    elif head == "resolver":
        verdict = parse_resolv_conf(text).warp_resolver
        assert {True: "yes", False: "no", None: "unknown"}[verdict] == rest
    elif head == "mdm":
        assert parse_mdm(data) == (rest,)
    elif head == "not-read":
        reader = READERS[rest]
        if rest in ("fdesetup", "socketfilterfw"):
            fact = reader(text)
            assert fact.status == "skip", fact  # type: ignore[attr-defined]
        else:
            with pytest.raises(RouteParseError):
                reader(text)
    else:  # pragma: no cover - a typo in the table
        pytest.fail(f"unknown verdict {expected!r}")


def test_every_platform_sample_has_a_row() -> None:
    listed = set(index_rows(KIND))
    on_disk = files_on_disk(KIND)
    covered = {row[0] for row in ROWS}
    assert listed == on_disk, ("INDEX and folder differ", listed ^ on_disk)
    assert on_disk == covered, ("samples without a row / rows without a sample", on_disk ^ covered)


def test_mdm_template_variable_is_not_a_team() -> None:
    """The misconfigured workflow of the warp corpus wrote `$cloudflare_organization`."""
    with pytest.raises(MdmParseError, match="not a team name"):
        parse_mdm(b"<dict><key>organization</key><string>$cloudflare_organization</string></dict>")


def test_windows_is_refused_at_start_up_with_one_message() -> None:
    code = "import sys; sys.platform = 'win32'; sys.argv = ['ztctl', 'status']\n"
    code += "from ztctl.cli.entry import main; main()"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("error: ztctl does not run on Windows")
    assert lines[1].startswith("fix: ")
    assert len(lines) == 2


# -- cluster.route on macOS, with stand-in `route` and `ifconfig` printing real samples ----


def _tool(folder: Path, name: str, stdout: Path | None, stderr: Path | None = None) -> None:
    script = folder / name
    lines = [f"#!{sys.executable}", "import sys"]
    if stdout is not None:
        lines.append(f"sys.stdout.buffer.write(open({str(stdout)!r}, 'rb').read())")
    if stderr is not None:
        lines.append(f"sys.stderr.buffer.write(open({str(stderr)!r}, 'rb').read())")
    lines.append("sys.exit(0)")  # macOS route exits 0 even for `not in table`
    script.write_text("\n".join(lines) + "\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def _macos_route_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, route: str, ifconfig: bytes | None
) -> object:
    from ztctl.core.config import WarpConfig
    from ztctl.core.doctor.cluster import check_route
    from ztctl.core.doctor.context import DoctorContext
    from ztctl.core.model import Cluster, ExecCredential

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    path = sample(KIND, route)
    if route.endswith(".stderr.txt"):
        _tool(bin_dir, "route", None, path)
    else:
        _tool(bin_dir, "route", path)
    if ifconfig is not None:
        out = tmp_path / "ifconfig.out"
        out.write_bytes(ifconfig)
        _tool(bin_dir, "ifconfig", out)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(sys, "platform", "darwin")
    cluster = Cluster(
        name="corp",
        server="https://10.0.0.5:6443",
        addresses=("10.0.0.5",),
        credentials=ExecCredential("kubelogin"),
    )
    ctx = DoctorContext(team=None, warp=WarpConfig(interface="utun"), clusters=(cluster,))
    return check_route(ctx, "corp")


def test_macos_route_through_warps_utun_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ifconfig = sample(KIND, "macos/ifconfig-utun3-warp.txt").read_bytes()
    outcome = _macos_route_check(
        tmp_path, monkeypatch, "macos/route-get-google-utun3-warp.txt", ifconfig
    )
    assert outcome.status == "pass", outcome  # type: ignore[attr-defined]


def test_macos_route_through_another_vpns_utun_fails_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The non-WARP VPN of route-get-1 holds utun3; its interface, as tailscaled's utun8 in
    # the corpus, has no address (the sample with its name changed to utun3).
    other = sample(KIND, "macos/ifconfig-utun8-tailscaled-no-address.txt").read_bytes()
    outcome = _macos_route_check(
        tmp_path,
        monkeypatch,
        "macos/route-get-1-via-utun3-with-gateway.txt",
        other.replace(b"utun8", b"utun3"),
    )
    assert outcome.status == "fail", outcome  # type: ignore[attr-defined]
    assert "utun3 has no address, so it is not WARP's tunnel" in outcome.summary  # type: ignore[attr-defined]


def test_macos_route_through_tailscale_names_tailscale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ifconfig = (
        b"utun3: flags=8051<UP,POINTOPOINT,RUNNING,MULTICAST> mtu 1280\n"
        b"\tinet 100.101.102.103 --> 100.101.102.103 netmask 0xffffffff\n"
        b"\tinet6 fd7a:115c:a1e0::1 prefixlen 48\n"
    )
    outcome = _macos_route_check(
        tmp_path, monkeypatch, "macos/route-get-google-utun3-warp.txt", ifconfig
    )
    assert outcome.status == "fail", outcome  # type: ignore[attr-defined]
    assert "Tailscale's tunnel" in outcome.summary  # type: ignore[attr-defined]


def test_macos_no_route_on_stderr_with_exit_0_is_no_route(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome = _macos_route_check(
        tmp_path, monkeypatch, "macos/route-get-not-in-table.stderr.txt", None
    )
    assert outcome.status == "fail", outcome  # type: ignore[attr-defined]
    assert "has no route" in outcome.summary  # type: ignore[attr-defined]
    assert "not in table" in outcome.summary  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("route", "status"),
    [
        ("linux/ip-route-get-cloudflarewarp-device-ip-src.txt", "pass"),  # device IP source
        ("linux/ip-route-get-1.1.1.1-cloudflarewarp-docs.txt", "pass"),
        ("linux/ip-route-get-169.254-ens18-docs.txt", "fail"),  # split-tunnel excluded
    ],
)
def test_linux_route_check_on_real_ip_route_get(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, route: str, status: str
) -> None:
    from ztctl.core.config import WarpConfig
    from ztctl.core.doctor.cluster import check_route
    from ztctl.core.doctor.context import DoctorContext
    from ztctl.core.model import Cluster, ExecCredential

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _tool(bin_dir, "ip", sample(KIND, route))
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(sys, "platform", "linux")
    cluster = Cluster(
        name="corp",
        server="https://10.0.0.5:6443",
        addresses=("10.0.0.5",),
        credentials=ExecCredential("kubelogin"),
    )
    ctx = DoctorContext(team=None, warp=WarpConfig(interface="CloudflareWARP"), clusters=(cluster,))
    outcome = check_route(ctx, "corp")
    assert outcome.status == status, outcome
    if status == "fail":
        assert "leaves through ens18" in outcome.summary
