"""Conformance of the warp-cli adapter and the warp.* checks with real warp-cli output.

Each row names one sample of the corpus (see ``corpus.py``) and the verdict ztctl must reach
on it, taken from the truth column of the corpus INDEX. A stand-in ``warp-cli`` (a real
subprocess) prints the sample verbatim for the command the sample answers, so the whole path
runs: the subprocess, the error classification, the parser and the check. Adding a sample
is one row.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.corpus import corpus_dir, files_on_disk, index_rows, sample
from ztctl.adapters.warp import (
    WarpClient,
    WarpError,
    WarpErrorKind,
    WarpParseError,
    classify_error,
    parse_help_commands,
    parse_registration,
    parse_settings,
    parse_status,
    parse_version,
)
from ztctl.core.config import WarpConfig
from ztctl.core.doctor.context import DoctorContext
from ztctl.core.doctor.runner import Outcome
from ztctl.core.model import Cluster, ExecCredential

KIND = "warp"

# How the stand-in answers: the sample on stdout with exit 0 (`out`), or on stderr with
# exit 1 (`err`, how warp-cli reports failures).
STANDIN = """#!{python}
import sys
args = [a for a in sys.argv[1:] if a not in ("--json", "-j", "--accept-tos")]
if args == ["--version"]:
    print({version!r})
    sys.exit(0)
data = open({path!r}, "rb").read()
if {stream!r} == "out":
    sys.stdout.buffer.write(data)
    sys.exit(0)
sys.stderr.buffer.write(data)
sys.exit(1)
"""

# (sample, what ztctl runs it as, expected verdict)
# Verdicts: "check:<id>:<status>:<words>" (a doctor check's outcome, `words` in its summary
# or fix); "error:<kind>" (the failure warp-cli reports); "version:<x>"; "commands:<names>";
# "registration:<type>:<org>"; "success" (no failure); "enrol:<url>"; "not-read" (a text
# ztctl never parses: every parser refuses it instead of guessing).
ROWS: list[tuple[str, str, str]] = [
    (
        "status-2025.5-disconnected-manual-multiline-linux.txt",
        "status",
        "check:warp.connected:fail:Manual Disconnection|warp-cli connect",
    ),
    (
        "status-2025.9.558-connected-network-healthy-linux.txt",
        "status",
        "check:warp.connected:pass:connected, network healthy",
    ),
    (
        "status-2023-unable-registration-missing-singleline-linux.txt",
        "status",
        "check:warp.connected:fail:no registration|ztctl login",
    ),
    (
        "status-2026-unable-registration-missing-due-to-api-linux.txt",
        "status",
        "check:warp.connected:fail:no registration|ztctl login",
    ),
    (
        "status-2025-unable-registration-missing-due-to-daemon-startup-linux.txt",
        "status",
        "check:warp.connected:fail:no registration|ztctl login",
    ),
    (
        "status-2023-unable-insufficient-fd-singleline-linux.txt",
        "status",
        "check:warp.connected:fail:Insufficient system resource: file descriptor",
    ),
    (
        "status-2024.1-success-then-disconnected-singleline-linux.txt",
        "status",
        "check:warp.connected:fail:disconnected (reason: Manual Disconnection)",
    ),
    (
        "status-2023-bare-disconnected-reason-linux.txt",
        "status",
        "check:warp.connected:fail:disconnected (reason: Manual Disconnection)",
    ),
    (
        "status-2024or2025-connecting-bare-linux.txt",
        "status",
        "check:warp.connected:warn:connecting",
    ),
    (
        "status-2024or2025-unable-connectivity-check-dns-linux.txt",
        "status",
        "check:warp.connected:fail:Connectivity check failed due to DNS Lookup Failed",
    ),
    (
        "status-era-a-connected-singleline-linux.txt",
        "status",
        "check:warp.connected:pass:WARP is connected",
    ),
    (
        "status-json-2026.7-connected-networkhealthy-3rdparty.txt",
        "status",
        "check:warp.connected:pass:network healthy",
    ),
    (
        "status-json-2026.7-disconnected-manual-3rdparty.txt",
        "status",
        "check:warp.connected:fail:Manual Disconnection|warp-cli connect",
    ),
    (
        "status-json-2026.7-connecting-establishing-3rdparty.txt",
        "status",
        "check:warp.connected:warn:connecting (Establishing Connection)",
    ),
    (
        "settings-2026.3.846.0-proxy-consumer-tabs-linux.txt",
        "settings",
        "check:warp.mode:fail:proxy mode|port 40000",
    ),
    (
        "settings-2023or2024-proxy-noprefix-linux.txt",
        "settings",
        "check:warp.mode:fail:proxy mode|port 40000",
    ),
    # Truncated by the poster after the exclude header: the mode is read, the list is not.
    (
        "settings-2025.1.861.0-warp-tabs-truncated-linux.txt",
        "settings",
        "check:warp.mode:pass:Gateway with WARP (Warp)",
    ),
    (
        "settings-2025.1.861.0-warp-tabs-truncated-linux.txt",
        "settings",
        "check:warp.split-tunnel:warn:exclude list elided (`...`)",
    ),
    # A tail fragment: no Mode line, so the mode is not shown (not "unknown").
    (
        "settings-2025.x-tail-local-policy-mdm-linux.txt",
        "settings",
        "check:warp.mode:warn:did not show the mode",
    ),
    # Annotated by the docs (`# ...` after values, `...` elisions): never guessed through.
    (
        "settings-docs-annotated-warpdoh-exclude-org-official.txt",
        "settings",
        "check:warp.mode:warn:which ztctl does not know",
    ),
    (
        "settings-docs-annotated-warpdoh-exclude-org-official.txt",
        "settings",
        "check:warp.split-tunnel:warn:exclude list elided (`...`)",
    ),
    (
        "settings-noprefix-warpdoh-include-hostonly-hackerone-docs.txt",
        "settings",
        "check:warp.mode:pass:Gateway with WARP (DNS over HTTPS)",
    ),
    (
        "settings-noprefix-warpdoh-include-hostonly-hackerone-docs.txt",
        "settings",
        "check:warp.split-tunnel:warn:include list elided (`...`)",
    ),
    # A fragment: the include list it shows is read; the mode is not shown.
    (
        "settings-windows-include-fragment-blog.txt",
        "settings",
        "check:warp.mode:warn:did not show the mode",
    ),
    (
        "settings-windows-include-fragment-blog.txt",
        "settings",
        "check:warp.split-tunnel:pass:every cluster address is included",
    ),
    ("account-2024.1-team-linux.txt", "account", "registration:team:gzxiexl"),
    (
        "account-2024.1-team-linux.txt",
        "account",
        "check:warp.registration:pass:enrolled in team gzxiexl",
    ),
    ("version-2025.2.600.0-linux.txt", "version", "version:2025.2.600.0"),
    ("version-2024.4.133-linux.txt", "version", "version:2024.4.133"),
    ("error-2024.11.309.0-daemon-not-running-linux.txt", "error", "error:no-daemon"),
    (
        "error-2024.11.309.0-daemon-not-running-linux.txt",
        "error",
        "check:warp.daemon:fail:daemon is not running|start the WARP daemon",
    ),
    ("error-2021-daemon-not-running-old-wording-linux.txt", "error", "error:no-daemon"),
    (
        "error-2021-daemon-not-running-old-wording-linux.txt",
        "error",
        "check:warp.daemon:fail:daemon is not running|start the WARP daemon",
    ),
    ("error-2023-daemon-not-running-old-wording-linux.txt", "error", "error:no-daemon"),
    (
        "error-2023-daemon-not-running-old-wording-linux.txt",
        "error",
        "check:warp.daemon:fail:daemon is not running|start the WARP daemon",
    ),
    ("error-2024.1-old-registration-still-around-linux.txt", "error", "error:old-registration"),
    ("error-2025-api-unreachable-registration-new-linux.txt", "error", "error:api-unreachable"),
    (
        "error-2024.9.346.0-unrecognized-teams-enroll-linux.txt",
        "error",
        "error:unrecognized-subcommand",
    ),
    (
        "error-2026.3.846.0-unrecognized-set-mode-linux.txt",
        "error",
        "error:unrecognized-subcommand",
    ),
    (
        "error-2024.9.346.0-unrecognized-add-excluded-route-linux.txt",
        "error",
        "error:unrecognized-subcommand",
    ),
    ("deprecation-2024.x-register-set-mode-warnings-linux.txt", "action", "success"),
    (
        "enroll-2024.x-teams-enroll-deprecation-linux.txt",
        "action",
        "enrol:https://*****.cloudflareaccess.com/warp",
    ),
    # Printed only on a terminal; without one it means the terms are not accepted yet.
    ("tos-2024.x-teams-enroll-notice-prompt-linux.txt", "action", "error:tos-not-accepted"),
    ("tunnel-stats-2026-masque-ipv4-linux.txt", "other", "not-read"),
    ("tunnel-stats-2026-masque-ipv6-linux.txt", "other", "not-read"),
    ("help-2023.3.398-linux.txt", "help", "commands:account,set-mode,teams-enroll"),
    ("help-2024.2.62-linux.txt", "help", "commands:registration,mode,tunnel"),
]


def _standin(tmp_path: Path, path: Path, stream: str, version: str) -> str:
    script = tmp_path / "warp-cli"
    script.write_text(
        STANDIN.format(python=sys.executable, version=version, path=str(path), stream=stream)
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def _context(cli: str, team: str | None = None) -> DoctorContext:
    cluster = Cluster(
        name="corp",
        server="https://10.0.0.5:6443",
        addresses=("10.0.0.5",),
        credentials=ExecCredential("kubelogin"),
    )
    return DoctorContext(team=team, warp=WarpConfig(cli=cli), clusters=(cluster,), timeout=5.0)


def _check(check_id: str, ctx: DoctorContext) -> Outcome:
    from ztctl.core.doctor import warp as checks

    function = {
        "warp.daemon": checks.check_daemon,
        "warp.connected": checks.check_connected,
        "warp.registration": checks.check_registration,
        "warp.mode": checks.check_mode,
        "warp.split-tunnel": checks.check_split_tunnel,
    }[check_id]
    return function(ctx)


def _verdict(tmp_path: Path, name: str, role: str, expected: str) -> None:
    path = sample(KIND, name)
    text = path.read_text(encoding="utf-8")
    head, _, rest = expected.partition(":")
    if head == "check":
        check_id, status, words = rest.split(":", 2)
        stream = "err" if role == "error" else "out"
        # An era whose command names fit the sample (old `account` before 2024.2).
        version = "warp-cli 2023.12.1" if role == "account" else "warp-cli 2025.9.558.0"
        cli = _standin(tmp_path, path, stream, version)
        team = "gzxiexl" if role == "account" else None
        outcome = _check(check_id, _context(cli, team))
        said = f"{outcome.summary}\n{outcome.fix}"
        assert outcome.status == status, (name, outcome.status, said)
        for word in words.split("|"):
            assert word.lower() in said.lower(), (name, word, said)
    elif head == "error":
        if role == "error":
            assert classify_error("", text, 1) is WarpErrorKind(rest), name
        else:
            assert classify_error(text, "", 0) is WarpErrorKind(rest), name
    elif head == "version":
        assert str(parse_version(text)) == rest
    elif head == "commands":
        assert set(rest.split(",")) <= parse_help_commands(text)
    elif head == "registration":
        kind, org = rest.split(":")
        reg = parse_registration(text)
        assert (reg.account_type, reg.organization, reg.is_team) == (kind, org, True)
    elif head == "success":
        assert classify_error(text, "", 0) is None
    elif head == "enrol":
        cli = _standin(tmp_path, path, "out", "warp-cli 2024.1.160")
        enrolment = WarpClient(cli, timeout=5.0).register("*****")
        assert enrolment.url == rest
    elif head == "not-read":
        assert classify_error(text, "", 0) is None
        for parser in (parse_status, parse_settings, parse_registration, parse_version):
            with pytest.raises(WarpParseError):
                parser(text)
    else:  # pragma: no cover - a typo in the table
        pytest.fail(f"unknown verdict {expected!r}")


@pytest.mark.parametrize(
    ("name", "role", "expected"), ROWS, ids=[f"{r[0]}-{r[2][:30]}" for r in ROWS]
)
def test_warp_sample(tmp_path: Path, name: str, role: str, expected: str) -> None:
    _verdict(tmp_path, name, role, expected)


def test_every_warp_sample_has_a_row() -> None:
    listed = set(index_rows(KIND))
    on_disk = files_on_disk(KIND)
    covered = {row[0] for row in ROWS}
    assert listed == on_disk, ("INDEX and folder differ", listed ^ on_disk)
    assert on_disk - covered == set(), "samples without a row in ROWS"
    assert covered - on_disk == set(), "rows naming no sample"


def test_daemon_down_in_status_json_names_the_daemon(tmp_path: Path) -> None:
    """`ztctl status --json` on the old wording: the daemon is down (not `warp-cli account`)."""
    from ztctl.core.status import warp_view

    path = sample(KIND, "error-2023-daemon-not-running-old-wording-linux.txt")
    cli = _standin(tmp_path, path, "err", "warp-cli 2023.3.398")
    view = warp_view(WarpClient(cli, timeout=5.0))
    error: Any = view.error
    assert error is not None
    text = str(error)
    assert "daemon is not running" in text and "systemctl" in text, text
    assert "failed with exit code" not in text


def test_daemon_down_raises_the_daemon_error(tmp_path: Path) -> None:
    path = sample(KIND, "error-2021-daemon-not-running-old-wording-linux.txt")
    cli = _standin(tmp_path, path, "err", "warp-cli 2021.6.0")
    with pytest.raises(WarpError) as caught:
        WarpClient(cli, timeout=5.0).status()
    assert caught.value.reason is WarpErrorKind.NO_DAEMON


def test_corpus_folder_resolves() -> None:
    assert corpus_dir(KIND).name == KIND
    assert os.path.isabs(corpus_dir(KIND))


def test_status_json_cli_says_the_daemon_is_down(tmp_path: Path) -> None:
    """The whole `ztctl status --json` on the 2023 wording: the daemon, with the fix."""
    import json
    import subprocess

    path = sample(KIND, "error-2023-daemon-not-running-old-wording-linux.txt")
    cli = _standin(tmp_path, path, "err", "warp-cli 2023.3.398")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "ZTCTL_WARP_CLI": cli,
        "ZTCTL_STATE_DIR": str(tmp_path / "state"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "ztctl", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    error = json.loads(proc.stdout)["warp"]["error"]
    assert error["message"] == "the WARP daemon is not running (warp-cli cannot reach it)"
    assert "systemctl enable --now warp-svc" in error["fix"]
