"""The credential plugin's pure parts: exec request, token fit, the ExecCredential document;
and the plugin itself against the lab's stand-in cloudflared with the isolated keyring."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from tests.support.access import (  # noqa: F401
    EXEC_V1,
    EXEC_V1BETA1,
    AccessEnv,
    access_fixture,
    invocations,
    recording_cloudflared,
)
from ztctl.core.credential import (
    Credential,
    exec_request,
    get_credential,
    token_claims,
    token_problem,
)
from ztctl.errors import AuthNeeded, InvalidInput, UsageError

NOW = 1_800_000_000.0


def jwt(claims: dict[str, object]) -> str:
    def b64(data: dict[str, object]) -> str:
        raw = json.dumps(data).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{b64({'alg': 'RS256', 'typ': 'JWT'})}.{b64(claims)}.sig"


GOOD = {
    "aud": ["a" * 64],
    "email": "ada@example.com",
    "exp": NOW + 3600,
    "nbf": NOW - 10,
    "iss": "https://acme.cloudflareaccess.com",
    "type": "app",
}


@pytest.mark.parametrize(
    ("changes", "team", "expected"),
    [
        ({}, "acme", None),
        ({}, None, None),
        ({"aud": "single-string-aud"}, "acme", None),
        ({"exp": NOW - 1}, "acme", "expired at"),
        ({"exp": NOW + 5}, "acme", "expires at"),  # inside the leeway
        ({"exp": None}, "acme", "has no expiry"),
        ({"exp": "soon"}, "acme", "has no expiry"),
        ({"nbf": NOW + 3600}, "acme", "not valid before"),
        ({"type": "org"}, "acme", "org token"),
        ({"aud": []}, "acme", "no audience"),
        ({"aud": None}, "acme", "no audience"),
        ({}, "other", "not by team 'other'"),
    ],
)
def test_token_problem(changes: dict[str, object], team: str | None, expected: str | None) -> None:
    claims = {**GOOD, **changes}
    claims = {k: v for k, v in claims.items() if v is not None}
    problem = token_problem(token_claims(jwt(claims)), now=NOW, team=team)
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and expected in problem


@pytest.mark.parametrize("text", ["", "abc", "a.b", "a.!!!.c", "a.bm90anNvbg.c", "a.WzFd.c"])
def test_garbage_is_not_a_jwt(text: str) -> None:
    assert token_claims(text) is None
    assert token_problem(token_claims(text), now=NOW) == "is not a JWT"


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (None, (EXEC_V1, False)),
        (
            {"apiVersion": EXEC_V1, "kind": "ExecCredential", "spec": {"interactive": True}},
            (EXEC_V1, True),
        ),
        (
            {"apiVersion": EXEC_V1BETA1, "kind": "ExecCredential", "spec": {"interactive": False}},
            (EXEC_V1BETA1, False),
        ),
        ({"apiVersion": EXEC_V1BETA1, "kind": "ExecCredential", "spec": {}}, (EXEC_V1BETA1, False)),
    ],
)
def test_exec_request(info: dict[str, object] | None, expected: tuple[str, bool]) -> None:
    env = {} if info is None else {"KUBERNETES_EXEC_INFO": json.dumps(info)}
    assert exec_request(env) == expected


@pytest.mark.parametrize(
    "raw",
    ['{"apiVersion":"client.authentication.k8s.io/v1alpha1","kind":"ExecCredential"}', "[1]", "{"],
)
def test_exec_request_refuses_what_it_cannot_answer(raw: str) -> None:
    with pytest.raises(UsageError):
        exec_request({"KUBERNETES_EXEC_INFO": raw})


def test_document_is_an_exec_credential_with_expiry() -> None:
    doc = json.loads(Credential(EXEC_V1BETA1, "t0k", NOW, "keyring").document)
    assert doc == {
        "apiVersion": EXEC_V1BETA1,
        "kind": "ExecCredential",
        "status": {"token": "t0k", "expirationTimestamp": "2027-01-15T08:00:00Z"},
    }


def info(api: str = EXEC_V1, interactive: bool = False) -> str:
    return json.dumps(
        {"apiVersion": api, "kind": "ExecCredential", "spec": {"interactive": interactive}}
    )


# -- against the lab ----------------------------------------------------------------------


def test_keyring_hit_needs_no_cloudflared(access: AccessEnv, tmp_path: Path) -> None:
    access.extra["ZTCTL_CLOUDFLARED"] = str(recording_cloudflared(access.lab, tmp_path))
    token = access.mint()
    access.put("lab-sso", token)
    cred = get_credential("lab-sso", {**access.env, "KUBERNETES_EXEC_INFO": info(EXEC_V1BETA1)})
    assert (cred.source, cred.api_version) == ("keyring", EXEC_V1BETA1)
    assert json.loads(cred.document)["status"]["token"] == token
    assert invocations(tmp_path) == []


def test_expired_keyring_copy_is_refreshed_through_cloudflared(
    access: AccessEnv, tmp_path: Path
) -> None:
    access.extra["ZTCTL_CLOUDFLARED"] = str(recording_cloudflared(access.lab, tmp_path))
    access.put("lab-sso", access.mint(now=time.time() - 7200))
    from ztctl.lab.cloudflared import app_token_path

    fresh = access.mint()
    path = app_token_path(access.lab.dir, access.lab.server)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(fresh)
    cred = get_credential("lab-sso", {**access.env, "KUBERNETES_EXEC_INFO": info()})
    assert cred.source == "cloudflared"
    assert access.items()["lab-sso"] == fresh
    assert [c.split()[:2] for c in invocations(tmp_path)] == [["access", "token"]]


def test_not_interactive_never_opens_a_browser(access: AccessEnv, tmp_path: Path) -> None:
    access.extra["ZTCTL_CLOUDFLARED"] = str(recording_cloudflared(access.lab, tmp_path))
    with pytest.raises(AuthNeeded) as caught:
        get_credential("lab-sso", {**access.env, "KUBERNETES_EXEC_INFO": info()})
    assert "ztctl login" in caught.value.fix
    assert all("access login" not in c for c in invocations(tmp_path))


def test_no_input_wins_over_an_interactive_request(access: AccessEnv, tmp_path: Path) -> None:
    access.extra["ZTCTL_CLOUDFLARED"] = str(recording_cloudflared(access.lab, tmp_path))
    env = {**access.env, "KUBERNETES_EXEC_INFO": info(interactive=True), "ZTCTL_NO_INPUT": "1"}
    with pytest.raises(AuthNeeded):
        get_credential("lab-sso", env)
    assert all("access login" not in c for c in invocations(tmp_path))


def test_interactive_request_logs_in_once_in_the_browser(access: AccessEnv, tmp_path: Path) -> None:
    access.extra["ZTCTL_CLOUDFLARED"] = str(recording_cloudflared(access.lab, tmp_path))
    env = {**access.env, "KUBERNETES_EXEC_INFO": info(interactive=True)}
    cred = get_credential("lab-sso", env)
    assert cred.source == "browser"
    assert get_credential("lab-sso", env).source == "keyring"
    logins = [c for c in invocations(tmp_path) if c.startswith("access login")]
    assert len(logins) == 1


def test_a_failed_browser_login_is_not_repeated_at_once(access: AccessEnv, tmp_path: Path) -> None:
    script = recording_cloudflared(access.lab, tmp_path, fail_login=True)
    access.extra["ZTCTL_CLOUDFLARED"] = str(script)
    env = {**access.env, "KUBERNETES_EXEC_INFO": info(interactive=True)}
    with pytest.raises(AuthNeeded):
        get_credential("lab-sso", env)
    with pytest.raises(AuthNeeded) as caught:
        get_credential("lab-sso", env)
    assert "not opening another" in caught.value.message
    logins = [c for c in invocations(tmp_path) if c.startswith("access login")]
    assert len(logins) == 1


def test_cluster_without_access_tokens_is_refused(access: AccessEnv) -> None:
    with pytest.raises(InvalidInput) as caught:
        get_credential("lab", access.env)
    assert "use-cluster lab" in caught.value.fix


@pytest.mark.parametrize("name", ["", "UPPER", "a/b", "--help"])
def test_bad_cluster_name(name: str) -> None:
    with pytest.raises(UsageError):
        get_credential(name, {})
