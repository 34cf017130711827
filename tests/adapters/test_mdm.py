"""WARP's MDM file: the team it names, per OS, read safely; and doctor using it."""

from __future__ import annotations

import contextlib
import os
import plistlib
import stat
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ztctl.adapters import mdm
from ztctl.adapters.mdm import MdmParseError, parse_mdm, read_mdm, team_from_mdm

BARE = b"<dict>\n  <key>organization</key>\n  <string>acme</string>\n</dict>\n"


def test_paths_per_os() -> None:
    assert mdm.mdm_paths("darwin") == ("/Library/Managed Preferences/com.cloudflare.warp.plist",)
    assert mdm.mdm_paths("linux") == ("/var/lib/cloudflare-warp/mdm.xml",)
    assert mdm.mdm_paths("win32") == ("C:\\ProgramData\\Cloudflare\\mdm.xml",)
    assert mdm.mdm_paths("sunos5") == ()
    assert "/Applications/Cloudflare WARP.app/Contents/Resources/warp-cli" in mdm.warp_cli_paths(
        "darwin"
    )


def test_bare_dict_plist_and_binary_plist() -> None:
    assert parse_mdm(BARE) == ("acme",)
    assert parse_mdm(plistlib.dumps({"organization": "acme"})) == ("acme",)
    binary = plistlib.dumps({"configs": [{"organization": "acme"}]}, fmt=plistlib.FMT_BINARY)
    assert parse_mdm(binary) == ("acme",)
    assert parse_mdm(b"\xef\xbb\xbf" + BARE) == ("acme",)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"organization=acme",
        b"<dict><key>organization</key><string>a b</string></dict>",
        b"<dict><key>organization</key><integer>3</integer></dict>",
        b'<!DOCTYPE x [<!ENTITY a "aaaa">]><plist><dict><key>organization</key>'
        b"<string>&a;</string></dict></plist>",
        b"<array><string>acme</string></array>",
    ],
)
def test_malformed_files_raise_only_the_parse_error(data: bytes) -> None:
    with pytest.raises(MdmParseError):
        parse_mdm(data)


def test_several_teams_give_no_team(tmp_path: Path) -> None:
    path = tmp_path / "mdm.plist"
    path.write_bytes(
        plistlib.dumps({"configs": [{"organization": "acme"}, {"organization": "other"}]})
    )
    config = read_mdm([str(path)])
    assert config is not None and config.team is None
    assert config.problem == "it names several teams (acme, other)"
    path.write_bytes(
        plistlib.dumps({"configs": [{"organization": "Acme"}, {"organization": "acme"}]})
    )
    assert team_from_mdm([str(path)]) == "acme"


def test_missing_fifo_and_huge_files_are_no_team(tmp_path: Path) -> None:
    assert read_mdm([str(tmp_path / "absent.xml")]) is None
    fifo = tmp_path / "fifo.xml"
    os.mkfifo(fifo)
    config = read_mdm([str(fifo)])  # must not block
    assert config is not None and config.problem == "it is not a regular file"
    big = tmp_path / "big.xml"
    big.write_bytes(b" " * (mdm.MAX_MDM_BYTES + 1))
    config = read_mdm([str(big)])
    assert config is not None and config.team is None and "larger than" in (config.problem or "")


def _standin_warp(tmp_path: Path, account: str) -> str:
    out = tmp_path / "account.txt"
    out.write_text(account)
    script = tmp_path / "warp-cli"
    script.write_text(
        f"#!{sys.executable}\nimport sys\n"
        "if sys.argv[1:] == ['--version']:\n    print('warp-cli 2023.12.1'); sys.exit(0)\n"
        f"sys.stdout.write(open({str(out)!r}).read())\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_doctor_registration_uses_the_mdm_team_when_none_is_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ztctl.core.config import WarpConfig
    from ztctl.core.doctor.context import DoctorContext
    from ztctl.core.doctor.warp import check_registration

    file = tmp_path / "mdm.xml"
    file.write_bytes(BARE)
    monkeypatch.setitem(mdm.MDM_PATHS, "linux", (str(file),))
    monkeypatch.setitem(mdm.MDM_PATHS, "darwin", (str(file),))
    cli = _standin_warp(tmp_path, "Account type: Team\nDevice ID: x\nOrganization: other\n")
    outcome = check_registration(DoctorContext(team=None, warp=WarpConfig(cli=cli)))
    assert outcome.status == "fail"
    assert "not in WARP's MDM file's team 'acme'" in outcome.summary
    assert "ztctl login --team acme" in outcome.fix
    assert outcome.data["teamSource"] == "mdm"

    # A configured team wins over the MDM file.
    outcome = check_registration(DoctorContext(team="other", warp=WarpConfig(cli=cli)))
    assert outcome.status == "pass" and outcome.data["teamSource"] == "config"


def test_warp_cli_is_found_where_the_installer_puts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ztctl.adapters.warp import WarpClient, WarpError

    cli = _standin_warp(tmp_path, "")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setitem(mdm.WARP_CLI_PATHS, "linux", ("/nonexistent/warp-cli", cli))
    monkeypatch.setitem(mdm.WARP_CLI_PATHS, "darwin", ("/nonexistent/warp-cli", cli))
    assert WarpClient("warp-cli").executable() == cli
    assert str(WarpClient("warp-cli").version()) == "2023.12.1"
    monkeypatch.setitem(mdm.WARP_CLI_PATHS, "linux", ())
    monkeypatch.setitem(mdm.WARP_CLI_PATHS, "darwin", ())
    with pytest.raises(WarpError, match="was not found"):
        WarpClient("warp-cli").executable()


@given(st.binary(max_size=300))
def test_parse_mdm_raises_only_its_own_error_on_garbage(data: bytes) -> None:
    with contextlib.suppress(MdmParseError):
        parse_mdm(data)


@given(st.text(alphabet="<>/dictkeystringorganizationplistarray ab-=&;\n", max_size=200))
def test_parse_mdm_on_plist_shaped_garbage(text: str) -> None:
    with contextlib.suppress(MdmParseError):
        parse_mdm(text.encode())


def test_registration_missing_fix_names_the_mdm_team(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ztctl.core.config import WarpConfig
    from ztctl.core.doctor.context import DoctorContext
    from ztctl.core.doctor.warp import check_connected

    file = tmp_path / "mdm.xml"
    file.write_bytes(BARE)
    monkeypatch.setitem(mdm.MDM_PATHS, "linux", (str(file),))
    monkeypatch.setitem(mdm.MDM_PATHS, "darwin", (str(file),))
    status = "Status update: Unable\nReason: Registration Missing due to: Daemon Startup\n"
    cli = _standin_warp(tmp_path, status)
    outcome = check_connected(DoctorContext(team=None, warp=WarpConfig(cli=cli)))
    assert outcome.status == "fail"
    assert "no registration" in outcome.summary
    assert outcome.fix == "run `ztctl login --team acme`"
