"""The server-side checks end to end on the lab (its Cloudflare API stand-in): `doctor`
with and without a token, the root cause named in the local failure, the deadline with the
API black-holed, `catalog check` in CI mode, and `login/logout --api-token`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.access import AccessEnv, access_fixture, ztctl_argv  # noqa: F401

TOKEN_ENV = "ZTCTL_CF_API_TOKEN"


def run(lab: Any, *args: str, env: dict[str, str] | None = None, **kw: Any) -> Any:
    return lab.run([*ztctl_argv(), *args], env=env or {}, **kw)


def checks_of(proc: Any) -> dict[str, dict[str, Any]]:
    doc = json.loads(proc.stdout)
    return {(c["id"] + (f"@{c['cluster']}" if c["cluster"] else "")): c for c in doc["checks"]}


def no_token(lab: Any) -> dict[str, str]:
    """Neither the variable nor a keyring holds a token."""
    return {TOKEN_ENV: "", "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}


# -- doctor -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "check", "local"),
    [
        ("cf.tunnel=down", "cf.tunnel", "tunnel k8s-lab, which has 0 connectors"),
        ("cf.route=missing", "cf.route", "no private network route covers 127.0.0.1"),
        ("cf.route=other-vnet", "cf.route", "virtual network 'other-net'"),
        ("cf.proxy=off", "cf.gateway", "TCP proxy is off"),
        ("cf.device=revoked", "cf.device", "registration was revoked"),
    ],
)
def test_a_server_side_outage_is_explained_in_the_local_failure(
    lab: Any, fault: str, check: str, local: str
) -> None:
    lab.set_many("reset", fault)
    proc = run(lab, "doctor", "--json", "--timeout", "3")  # room on a loaded machine
    assert proc.returncode == 1, proc.stderr
    checks = checks_of(proc)
    failing = {
        k.split("@")[0]
        for k, c in checks.items()
        if c["status"] == "fail" and k.startswith(("cf.", "cluster."))
    }
    assert check in failing and failing <= {check, "cluster.tcp", "cluster.tls", "cluster.api"}
    path = [c for k, c in checks.items() if k.startswith("cluster.") and c["status"] == "fail"]
    assert path, "the lab's Zero Trust path fails with the account"
    assert all(local in c["fix"] and c["data"]["rootCause"] == check for c in path)
    assert all("ztctl break-glass start lab" in c["fix"] for c in path)


def test_inspection_without_dni_is_named_in_cluster_tls(lab: Any) -> None:
    lab.set_many("reset", "cf.inspection=no-dni")
    proc = run(lab, "doctor", "--json", "--timeout", "3")  # room on a loaded machine
    checks = checks_of(proc)
    assert checks["cf.inspection@lab"]["status"] == "fail"
    tls = checks["cluster.tls@lab"]
    assert tls["status"] == "fail" and tls["data"]["rootCause"] == "cf.inspection"
    assert "Do Not Inspect" in tls["fix"]


def test_text_shows_connectors_compactly(lab: Any) -> None:
    lab.set_many("reset", "cf.connectors=1")
    proc = run(lab, "doctor", "--timeout", "2")
    assert proc.returncode == 1
    assert "tunnel k8s-lab healthy: 1 connector (2025.11.1), 4 edge connections" in proc.stdout


def test_without_a_token_the_cf_checks_skip_and_say_how_to_add_one(
    lab: Any, tmp_path: Path
) -> None:
    lab.reset()
    env = no_token(lab)
    proc = lab.run([*ztctl_argv(), "doctor", "--json"], env=env)
    checks = checks_of(proc)
    cf = [c for c in checks.values() if c["id"].startswith("cf.")]
    assert cf and all(c["status"] == "skip" for c in cf)
    assert all("ztctl login --api-token" in c["summary"] for c in cf)
    assert checks["cluster.api@lab"]["status"] == "pass"  # the local checks still ran
    forced = lab.run([*ztctl_argv(), "doctor", "--server"], env=env)
    assert forced.returncode == 4
    assert "ztctl login --api-token" in forced.stderr


def test_no_server_leaves_the_cf_checks_out(lab: Any) -> None:
    lab.reset()
    proc = run(lab, "doctor", "--json", "--no-server")
    assert not [k for k in checks_of(proc) if k.startswith("cf.")]


@pytest.mark.parametrize("mode", ["blackhole", "rate-limited"])
def test_the_deadline_holds_with_the_api_in_trouble(lab: Any, mode: str) -> None:
    lab.set_many("reset", f"cf.api={mode}")
    began = time.monotonic()
    proc = run(lab, "doctor", "--json", "--timeout", "1.5")
    elapsed = time.monotonic() - began
    assert proc.returncode == 0, proc.stdout  # API trouble is never a failure
    assert elapsed < 2 * 1.5 + 1.0 + 2.0  # the deadline, plus the process's start-up
    checks = checks_of(proc)
    assert checks["cf.api"]["status"] == "warn"
    assert checks["cluster.api@lab"]["status"] == "pass"  # local checks intact


def test_a_plain_http_api_url_off_loopback_is_refused(lab: Any) -> None:
    proc = run(lab, "doctor", env={"ZTCTL_CF_API_URL": "http://api.example.com/client/v4"})
    assert proc.returncode == 3
    assert "not an https URL" in proc.stderr


# -- catalog check ------------------------------------------------------------------------


def test_catalog_check_in_ci_mode(lab: Any) -> None:
    lab.reset()
    ok = run(lab, "catalog", "check", "--json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    ids = [c["id"] for c in json.loads(ok.stdout)["checks"]]
    assert ids[:2] == ["catalog.valid", "cf.api"]
    assert {"cf.route", "cf.tunnel", "cf.inspection"} <= set(ids)
    assert "cf.device" not in ids and "cf.split-tunnel" not in ids
    lab.set_many("cf.tunnel=down")
    broken = run(lab, "catalog", "check", "--json", "lab")
    assert broken.returncode == 1
    assert checks_of(broken)["cf.tunnel@lab"]["status"] == "fail"
    assert json.loads(broken.stdout)["clusters"] == ["lab"]


def test_catalog_check_without_a_token_exits_4(lab: Any) -> None:
    lab.reset()
    env = no_token(lab)
    proc = lab.run([*ztctl_argv(), "catalog", "check", "--json"], env=env)
    assert proc.returncode == 4
    checks = checks_of(proc)
    assert checks["catalog.valid"]["status"] == "pass"
    assert "ztctl login --api-token" in checks["cf.api"]["summary"]


def test_catalog_check_of_an_invalid_catalog_exits_3(lab: Any, tmp_path: Path) -> None:
    bad = tmp_path / "catalog.yaml"
    bad.write_text("apiVersion: ztctl/v1\nkind: ClusterCatalog\nclusters:\n  - name: Bad_Name\n")
    proc = run(lab, "--catalog", str(bad), "catalog", "check", "--json")
    assert proc.returncode == 3
    checks = checks_of(proc)
    assert checks["catalog.valid"]["status"] == "fail"
    assert checks["catalog.valid"]["data"]["problems"]


def test_catalog_check_unknown_cluster_suggests(lab: Any) -> None:
    proc = run(lab, "catalog", "check", "lab-ss")
    assert proc.returncode == 3
    assert "lab-sso" in proc.stderr


# -- login / logout --api-token -------------------------------------------------------------


def test_login_api_token_verifies_stores_and_logout_removes(access: AccessEnv) -> None:
    lab = access.lab
    lab.reset()
    token = lab.paths.cf_token.read_text().strip()
    env = {TOKEN_ENV: ""}
    proc = access.run(["login", "--api-token"], input=token + "\n", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "account-owned" in proc.stdout and "cf.tunnel: yes" in proc.stdout
    assert access.items().get("cloudflare-api-token") == token
    assert token not in proc.stdout + proc.stderr
    # Stored, it is what doctor uses without the environment variable.
    doctor = access.run(["doctor", "--json", "--server"], env=env)
    assert checks_of(doctor)["cf.api"]["status"] == "pass"
    out = access.run(["logout", "--api-token"], env=env)
    assert out.returncode == 0 and "Removed the Cloudflare API token" in out.stdout
    assert "cloudflare-api-token" not in access.items()


def test_login_api_token_reports_missing_permissions(access: AccessEnv) -> None:
    lab = access.lab
    lab.set_many("reset", "cf.lacks=zero-trust")
    token = lab.paths.cf_token.read_text().strip()
    proc = access.run(["login", "--api-token", "--json"], input=token, env={TOKEN_ENV: ""})
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["checks"]["cf.device"].startswith("skipped (the token lacks Zero Trust Read")
    assert doc["checks"]["cf.route"] == "yes"


@pytest.mark.parametrize(
    ("fault", "given", "code", "words"),
    [
        ("cf.token=invalid", None, 4, "Invalid API Token"),
        ("cf.token=other-account", None, 4, "cannot read account"),
        ("reset", "Bearer", 4, None),
        ("reset", "two words", 3, "not a Cloudflare API token (it has a space or a tab)"),
        ("reset", "", 3, "no API token was given"),
        ("cf.api=down", None, 1, "it was not stored"),
    ],
)
def test_login_api_token_refuses_what_does_not_work(
    access: AccessEnv, fault: str, given: str | None, code: int, words: str | None
) -> None:
    lab = access.lab
    lab.set_many("reset", fault)
    token = lab.paths.cf_token.read_text().strip()
    text = token if given is None else ("Bearer " + token + "x" if given == "Bearer" else given)
    proc = access.run(["login", "--api-token"], input=text, env={TOKEN_ENV: ""}, timeout=60)
    assert proc.returncode == code, proc.stdout + proc.stderr
    if words:
        assert words in proc.stderr
    assert "cloudflare-api-token" not in access.items()
    assert token not in proc.stdout + proc.stderr


def test_a_token_without_an_account_id(lab: Any, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    text = lab.paths.config.read_text()
    config.write_text(text.split("[cloudflare]")[0].rsplit("\n#", 1)[0] + "\n")
    lab.reset()
    soft = run(lab, "doctor", "--json", env={"ZTCTL_CONFIG": str(config)})
    api = checks_of(soft)["cf.api"]
    assert api["status"] == "skip" and "cloudflare.account_id" in api["summary"]
    forced = run(lab, "doctor", "--server", env={"ZTCTL_CONFIG": str(config)})
    assert forced.returncode == 3 and "cloudflare.account_id" in forced.stderr
    login = run(lab, "login", "--api-token", env={"ZTCTL_CONFIG": str(config)}, input="x")
    assert login.returncode == 3


def test_a_malformed_account_id_is_invalid_config(lab: Any) -> None:
    proc = run(lab, "catalog", "check", env={"ZTCTL_CF_ACCOUNT_ID": "acme"})
    assert proc.returncode == 3 and "32 hex" in proc.stderr


# -- a malformed token (issue 13 acceptance: it was quoted in every cf.* line) ---------------

MALFORMED = [
    ("SECRETpart1\nSECRETpart2", "it has a line break"),
    ("SECRETpart1\u00e9SECRETpart2", "it has a non-ASCII character"),
    ("SECRETpart1 SECRETpart2", "it has a space or a tab"),
]


@pytest.mark.parametrize(("token", "problem"), MALFORMED)
def test_a_malformed_token_fails_cf_api_without_quoting_it(
    lab: Any, token: str, problem: str
) -> None:
    lab.reset()
    env = {TOKEN_ENV: token}
    proc = run(lab, "doctor", "--json", "--server", "--timeout", "2", env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    checks = checks_of(proc)
    api = checks["cf.api"]
    assert api["status"] == "fail"
    assert api["summary"] == f"the Cloudflare API token from {TOKEN_ENV} is malformed ({problem})"
    assert TOKEN_ENV in api["fix"]
    others = [c for k, c in checks.items() if k.startswith("cf.") and k != "cf.api"]
    assert others and all(c["status"] == "skip" for c in others)
    assert "crashed" not in proc.stdout
    text = run(lab, "doctor", "--server", "--timeout", "2", env=env)
    catalog = run(lab, "catalog", "check", env=env)
    assert catalog.returncode == 1 and "is malformed" in catalog.stdout
    for out in (proc.stdout, proc.stderr, text.stdout, text.stderr, catalog.stdout):
        assert "SECRETpart" not in out


def test_a_transient_api_refusal_warns_never_fails(lab: Any) -> None:
    """A 200 with success: false and code 10001 ("service temporarily unavailable") is the
    API's trouble: cf.api warns and `catalog check` exits 0."""
    lab.set_many("reset", "cf.api=unsuccessful")
    proc = run(lab, "catalog", "check", "--json", "--timeout", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checks = checks_of(proc)
    assert checks["cf.api"]["status"] == "warn"
    assert "10001" in checks["cf.api"]["summary"]
    assert all(c["status"] != "fail" for c in checks.values())


def _audit(access: AccessEnv, event: str) -> list[dict[str, Any]]:
    from ztctl.core import audit

    return list(audit.read_events(access.state_dir, event))


def test_login_and_logout_api_token_are_audited_truthfully(access: AccessEnv) -> None:
    lab = access.lab
    lab.reset()
    token = lab.paths.cf_token.read_text().strip()
    env = {TOKEN_ENV: ""}
    assert access.run(["login", "--api-token"], input=token, env=env).returncode == 0
    logins = _audit(access, "login")
    assert logins and logins[-1]["apiToken"] is True
    assert logins[-1]["keyringItem"] == "cloudflare-api-token"
    out = access.run(["logout", "--api-token"], env=env)
    assert "Removed the Cloudflare API token" in out.stdout
    assert "cloudflare-api-token" in _audit(access, "logout")[-1]["removed"]
    again = access.run(["logout", "--api-token"], env=env)
    assert "No Cloudflare API token" in again.stdout
    assert "cloudflare-api-token" not in _audit(access, "logout")[-1]["removed"]
    log = "".join(p.read_text() for p in access.state_dir.rglob("*") if p.is_file())
    assert token not in log


@pytest.mark.parametrize(
    ("prefix", "suffix", "code", "words"),
    [
        (b"\xef\xbb\xbf", b"\n", 0, None),  # a byte order mark is dropped silently
        (b"", b"\xff\xfe", 3, "not valid UTF-8"),
        (b"", "\u00e9".encode(), 3, "it has a non-ASCII character"),
        (b"", b"\nsecond line", 3, "it has a line break"),
    ],
)
def test_login_api_token_says_what_is_wrong_with_the_input(
    access: AccessEnv, prefix: bytes, suffix: bytes, code: int, words: str | None
) -> None:
    import subprocess

    lab = access.lab
    lab.reset()
    token = lab.paths.cf_token.read_text().strip()
    proc = subprocess.run(
        [*ztctl_argv(), "login", "--api-token"],
        env={**lab.env, **access.env, TOKEN_ENV: ""},
        input=prefix + token.encode() + suffix,
        capture_output=True,
        timeout=60,
        check=False,
    )
    stderr = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == code, stderr
    if words:
        assert words in stderr and "spaces, several lines" not in stderr
    assert token not in stderr + proc.stdout.decode("utf-8", "replace")
