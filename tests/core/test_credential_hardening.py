"""`ztctl credential` against hostile keyring tokens (issue 15, low): `exp: Infinity` is
refreshed, not a crash; a token with a wrong issuer or `alg: none` is never served by the
fast path."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from tests.support.access import (  # noqa: F401
    AccessEnv,
    access_fixture,
    invocations,
    recording_cloudflared,
)
from ztctl.core.credential import (
    fast_path_problem,
    get_credential,
    token_claims,
    token_problem,
)

NOW = 1_800_000_000.0


def b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def forged(lab_token: str, *, payload: str | None = None, header: str | None = None) -> str:
    """``lab_token`` with its header or its payload replaced by raw JSON text."""
    head, body, sig = lab_token.split(".")
    return ".".join([b64(header) if header else head, b64(payload) if payload else body, sig])


def claims_json(token: str, **changes: object) -> str:
    claims = token_claims(token)
    assert claims is not None
    claims.update(changes)
    return json.dumps(claims)


@pytest.mark.parametrize("exp", ["Infinity", "-Infinity", "NaN", "1e308", "99999999999999"])
def test_an_absurd_expiry_is_a_problem_not_a_crash(exp: str) -> None:
    raw = '{"aud": ["a"], "iss": "https://acme.cloudflareaccess.com", "exp": ' + exp + "}"
    header = b64(json.dumps({"alg": "RS256"}))
    token = f"{header}.{b64(raw)}.sig"
    problem = token_problem(token_claims(token), now=NOW, team="acme")
    assert problem is not None


def test_the_fast_path_needs_a_signing_algorithm_an_issuer_and_the_team() -> None:
    claims = {"aud": ["a"], "exp": NOW + 3600, "iss": "https://acme.cloudflareaccess.com"}
    good = f"{b64(json.dumps({'alg': 'RS256'}))}.{b64(json.dumps(claims))}.sig"
    assert fast_path_problem(good, claims, team="acme", now=NOW) is None
    assert fast_path_problem(good, claims, team=None, now=NOW) is not None
    assert "not by team" in (fast_path_problem(good, claims, team="evil", now=NOW) or "")
    for alg in ("none", "None", "HS256", None):
        bad = f"{b64(json.dumps({'alg': alg}))}.{b64(json.dumps(claims))}.sig"
        assert "not signed" in (fast_path_problem(bad, claims, team="acme", now=NOW) or "")
    no_iss = {k: v for k, v in claims.items() if k != "iss"}
    assert fast_path_problem(good, no_iss, team="acme", now=NOW) is not None


def _cloudflared_has(access: AccessEnv, token: str) -> None:
    from ztctl.lab.cloudflared import app_token_path

    path = app_token_path(access.lab.dir, access.lab.server)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(token)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda t: forged(
            t,
            payload=claims_json(t).replace(
                f'"exp": {token_claims(t)["exp"]}',
                '"exp": Infinity',  # type: ignore[index]
            ),
        ),
        lambda t: forged(t, payload=claims_json(t, iss="https://evil.cloudflareaccess.com")),
        lambda t: forged(t, header='{"alg": "none", "typ": "JWT"}'),
        lambda t: forged(t, header='{"alg": ["RS256"], "typ": "JWT"}'),
        lambda t: forged(t, payload=claims_json(t, iss=[token_claims(t)["iss"]])),  # type: ignore[index]
        lambda t: forged(t, payload=claims_json(t, exp=str(token_claims(t)["exp"]))),  # type: ignore[index]
    ],
    ids=["exp-infinity", "wrong-issuer", "alg-none", "alg-list", "iss-list", "exp-string"],
)
def test_a_spoilt_keyring_token_is_refreshed_through_cloudflared(
    access: AccessEnv, tmp_path: Path, spoil: object
) -> None:
    access.extra["ZTCTL_CLOUDFLARED"] = str(recording_cloudflared(access.lab, tmp_path))
    spoilt = spoil(access.mint())  # type: ignore[operator]
    assert spoilt != access.mint()
    access.put("lab-sso", spoilt)
    fresh = access.mint(now=time.time() + 1)
    _cloudflared_has(access, fresh)
    cred = get_credential("lab-sso", access.env)
    assert cred.source == "cloudflared"
    assert json.loads(cred.document)["status"]["token"] == fresh
    assert access.items()["lab-sso"] == fresh


@pytest.mark.parametrize("exp", ["Infinity", "NaN", "-1", "1e300"])
def test_access_claims_read_an_absurd_expiry_as_none(exp: str) -> None:
    from ztctl.adapters.jwt import access_claims

    header = b64(json.dumps({"alg": "RS256"}))
    payload = '{"exp": ' + exp + ', "iat": ' + exp + "}"
    token = f"{header}.{b64(payload)}.sig"
    claims = access_claims(token)
    assert claims.expires_at is None and claims.issued_at is None
    assert claims.expired(NOW)


def test_the_team_checked_by_the_slow_path_is_remembered_for_the_fast_path(
    access: AccessEnv, tmp_path: Path
) -> None:
    from ztctl.core.credential import TEAMS_FILE, _fast_team

    access.extra["ZTCTL_CLOUDFLARED"] = str(recording_cloudflared(access.lab, tmp_path))
    # A config without `team`: the team comes from the catalog only.
    config = tmp_path / "no-team.toml"
    config.write_text(f'catalog = "{access.lab.paths.catalog}"\n')
    access.extra["ZTCTL_CONFIG"] = str(config)
    assert _fast_team(access.env, "lab-sso") is None
    token = access.mint()
    access.put("lab-sso", token)
    cred = get_credential("lab-sso", access.env)
    assert cred.source == "keyring" and invocations(tmp_path) == []
    assert json.loads((access.state_dir / TEAMS_FILE).read_text()) == {"lab-sso": "lab"}
    assert _fast_team(access.env, "lab-sso") == "lab"
    # a planted token of another team is still not served
    access.put(
        "lab-sso", forged(token, payload=claims_json(token, iss="https://x.cloudflareaccess.com"))
    )
    fresh = access.mint(now=time.time() + 1)
    _cloudflared_has(access, fresh)
    assert json.loads(get_credential("lab-sso", access.env).document)["status"]["token"] == fresh
