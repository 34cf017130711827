"""The stand-in cloudflared, as a real subprocess."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ztctl.adapters.jwt import access_claims
from ztctl.lab import cloudflared as labcf
from ztctl.lab import jwt as labjwt
from ztctl.lab import state as labstate

APP = "https://k8s.lab.example:6443"
MISSING = (
    "Unable to find token for provided application. Please run login command to generate token.\n"
)


@pytest.fixture
def lab_dir(tmp_path: Path) -> Path:
    path = tmp_path / "lab"
    path.mkdir()
    return path


def cloudflared(lab_dir: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ztctl.lab.cloudflared", "--lab-dir", str(lab_dir), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def set_access(lab_dir: Path, **fields: object) -> None:
    with labstate.update(lab_dir) as s:
        for key, value in fields.items():
            setattr(s.access, key, value)


def test_version(lab_dir: Path) -> None:
    proc = cloudflared(lab_dir, "--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("cloudflared version ")


@pytest.mark.parametrize("app_args", [["-app=" + APP], ["--app=" + APP], ["--app", APP], [APP]])
def test_token_without_login_fails_with_the_real_message(
    lab_dir: Path, app_args: list[str]
) -> None:
    # stderr `Unable to find token ...`, the command fails, no browser
    proc = cloudflared(lab_dir, "access", "token", *app_args)
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", MISSING)


def test_login_then_token(lab_dir: Path) -> None:
    proc = cloudflared(lab_dir, "access", "login", APP)
    assert proc.returncode == 0
    # `Successfully fetched your token:\n\n<JWT>\n\n`
    assert proc.stdout.startswith("Successfully fetched your token:\n\n")
    assert proc.stdout.endswith("\n\n")
    token = proc.stdout.split("\n")[2]
    # the browser message on stderr
    assert proc.stderr.startswith("A browser window should have opened at the following URL:\n\n")
    assert proc.stderr.endswith(
        "\n\nIf the browser failed to open, please visit the URL above directly in your browser.\n"
    )
    login_url = proc.stderr.split("\n")[2]
    # the transfer URL on the app host with the app's AUD
    assert login_url.startswith("https://k8s.lab.example/cdn-cgi/access/cli?token=")
    assert f"aud={labjwt.app_aud(APP)}" in login_url
    assert "send_org_token=true&edge_token_transfer=true" in login_url

    claims = labjwt.verify_access_jwt(lab_dir, token, app_url=APP)
    assert claims is not None and claims["type"] == "app"

    # `access token -app=URL` prints the raw JWT with no newline
    proc = cloudflared(lab_dir, "access", "token", "-app=" + APP)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, token, "")


def test_token_files_follow_cloudflareds_naming_and_modes(lab_dir: Path) -> None:
    cloudflared(lab_dir, "access", "login", APP)
    directory = lab_dir / "cloudflared"
    # `<appHostname>-<appAUD>-token` and `<authDomain>-org-token`, 0600; dir 0700
    names = sorted(p.name for p in directory.iterdir())
    assert names == sorted(
        [f"k8s.lab.example-{labjwt.app_aud(APP)}-token", "lab.cloudflareaccess.com-org-token"]
    )
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for path in directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert labcf.app_token_path(lab_dir, APP).exists()
    org = access_claims(labcf.org_token_path(lab_dir).read_text())
    assert org.token_type == "org"


def test_login_reuses_a_valid_cached_token(lab_dir: Path) -> None:
    first = cloudflared(lab_dir, "access", "login", "--no-verbose", APP)
    second = cloudflared(lab_dir, "access", "login", "--no-verbose", APP)
    # `--no-verbose` prints only the JWT; step 2: a cached token is used
    assert first.stdout == second.stdout
    assert "." in first.stdout and "\n" not in first.stdout
    assert second.stderr == ""


def test_quiet_login_prints_nothing(lab_dir: Path) -> None:
    proc = cloudflared(lab_dir, "access", "login", "-q", APP)
    assert (proc.returncode, proc.stdout) == (0, "")
    assert cloudflared(lab_dir, "access", "token", "--app", APP).returncode == 0


def test_expired_token_is_deleted_and_refreshed_from_the_org_token(lab_dir: Path) -> None:
    set_access(lab_dir, token_ttl_s=1)
    cloudflared(lab_dir, "access", "login", APP)
    path = labcf.app_token_path(lab_dir, APP)
    # put an already-expired token in the cache, as if time had passed
    path.write_text(labjwt.issue_token(lab_dir, APP, ttl_s=-5))
    proc = cloudflared(lab_dir, "access", "token", "-app=" + APP)
    assert (proc.returncode, proc.stderr) == (1, MISSING)
    assert not path.exists()  # expired tokens are deleted on read
    # step 3: the org token is exchanged without a browser
    set_access(lab_dir, token_ttl_s=3600)
    proc = cloudflared(lab_dir, "access", "login", APP)
    assert proc.returncode == 0
    assert proc.stderr == ""
    token = proc.stdout.split("\n")[2]
    assert labjwt.verify_access_jwt(lab_dir, token, app_url=APP) is not None


def test_token_for_another_audience_is_discarded(lab_dir: Path) -> None:
    # 2026.8+ deletes cached app tokens whose aud lacks the app AUD
    path = labcf.app_token_path(lab_dir, APP)
    path.parent.mkdir(mode=0o700)
    path.write_text(labjwt.issue_token(lab_dir, "https://other.lab.example"))
    assert cloudflared(lab_dir, "access", "token", APP).returncode == 1
    assert not path.exists()


def test_blocked_login_waits_for_a_person(lab_dir: Path) -> None:
    set_access(lab_dir, login="blocked")
    with pytest.raises(subprocess.TimeoutExpired):
        cloudflared(lab_dir, "access", "login", APP, timeout=1.5)
    assert not labcf.app_token_path(lab_dir, APP).exists()


def test_login_without_url_fails(lab_dir: Path) -> None:
    proc = cloudflared(lab_dir, "access", "login")
    assert proc.returncode == 1
    assert "url" in proc.stderr


def test_token_path_does_not_import_cryptography() -> None:
    probe = (
        "import sys; from ztctl.lab import cloudflared\n"
        "print([m for m in sys.modules if m.startswith('cryptography')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert out.strip() == "[]"
