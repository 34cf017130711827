"""The lab's "Cloudflare edge" (trace, JWKS, get-identity, Date skew) and its Access JWTs,
over real HTTP on loopback, started in-process."""

from __future__ import annotations

import email.utils
import http.client
import json
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ztctl.adapters.jwt import access_claims, decode_header
from ztctl.lab import edge as labedge
from ztctl.lab import jwt as labjwt
from ztctl.lab import state as labstate

APP = "https://k8s.lab.example:6443"


@pytest.fixture
def lab_dir(tmp_path: Path) -> Path:
    path = tmp_path / "lab"
    path.mkdir()
    return path


@pytest.fixture
def edge(lab_dir: Path) -> Iterator[labedge.Edge]:
    server = labedge.start_edge(lab_dir)
    yield server
    server.stop()


def get(
    edge: labedge.Edge, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(edge.host, edge.port, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def trace(edge: labedge.Edge) -> dict[str, str]:
    status, headers, body = get(edge, "/cdn-cgi/trace")
    assert status == 200
    assert headers["content-type"] == "text/plain"
    return dict(line.split("=", 1) for line in body.decode().splitlines())


def update(lab_dir: Path, **changes: Any) -> None:
    with labstate.update(lab_dir) as s:
        for dotted, value in changes.items():
            section, key = dotted.split("__")
            setattr(getattr(s, section), key, value)


# --- /cdn-cgi/trace -------------------------------------------------------------


def test_trace_has_the_recorded_fields(edge: labedge.Edge) -> None:
    # sample fields, in the same order
    fields = trace(edge)
    assert list(fields) == [
        "fl",
        "h",
        "ip",
        "ts",
        "visit_scheme",
        "uag",
        "colo",
        "sliver",
        "http",
        "loc",
        "tls",
        "sni",
        "warp",
        "gateway",
        "rbi",
        "kex",
    ]
    assert fields["h"] == f"127.0.0.1:{edge.port}"
    assert abs(float(fields["ts"]) - time.time()) < 60


def test_trace_follows_warp_state(lab_dir: Path, edge: labedge.Edge) -> None:
    assert (trace(edge)["warp"], trace(edge)["gateway"]) == ("on", "on")
    assert trace(edge)["ip"] == labedge.WARP_EGRESS_IP

    update(lab_dir, faults__gateway=False)
    assert (trace(edge)["warp"], trace(edge)["gateway"]) == ("on", "off")
    update(lab_dir, faults__gateway=True)

    update(lab_dir, warp__connected=False)
    fields = trace(edge)
    assert (fields["warp"], fields["gateway"]) == ("off", "off")
    assert fields["ip"] != labedge.WARP_EGRESS_IP
    update(lab_dir, warp__connected=True)

    for mode, warp in [("proxy", "off"), ("doh", "off"), ("warp+doh", "on"), ("tunnel_only", "on")]:
        update(lab_dir, warp__mode=mode)
        assert trace(edge)["warp"] == warp, mode
    update(lab_dir, warp__mode="warp")

    update(lab_dir, warp__team=None)  # a consumer registration: WARP, but no Gateway
    assert (trace(edge)["warp"], trace(edge)["gateway"]) == ("on", "off")

    update(lab_dir, warp__daemon=False)
    assert trace(edge)["warp"] == "off"


def test_date_header_and_ts_follow_clock_skew(lab_dir: Path, edge: labedge.Edge) -> None:
    update(lab_dir, faults__clock_skew_s=-600)
    _, headers, _ = get(edge, "/cdn-cgi/trace")
    served = email.utils.parsedate_to_datetime(headers["date"]).timestamp()
    assert -660 < served - time.time() < -540
    assert -660 < float(trace(edge)["ts"]) - time.time() < -540
    update(lab_dir, faults__clock_skew_s=0)
    _, headers, _ = get(edge, "/cdn-cgi/access/certs")
    assert abs(email.utils.parsedate_to_datetime(headers["date"]).timestamp() - time.time()) < 60


def test_unknown_path_is_404(edge: labedge.Edge) -> None:
    assert get(edge, "/nope")[0] == 404


def test_edge_listens_on_loopback_only(lab_dir: Path) -> None:
    with pytest.raises(ValueError):
        labedge.start_edge(lab_dir, host="0.0.0.0")


# --- JWTs and the JWKS --------------------------------------------------------


def test_token_has_the_real_claim_set_and_header(lab_dir: Path) -> None:
    token = labjwt.issue_token(lab_dir, APP)
    header = decode_header(token)
    assert list(header) == ["alg", "kid", "typ"]
    assert header["alg"] == "RS256" and header["typ"] == "JWT"
    assert len(header["kid"]) == 64 and int(header["kid"], 16) >= 0
    claims = labjwt.verify_access_jwt(lab_dir, token, app_url=APP)
    assert claims is not None
    assert list(claims) == [
        "aud",
        "email",
        "exp",
        "iat",
        "nbf",
        "iss",
        "type",
        "identity_nonce",
        "sub",
        "country",
    ]
    assert claims["aud"] == [labjwt.app_aud(APP)]
    assert claims["iss"] == "https://lab.cloudflareaccess.com"
    assert claims["type"] == "app"
    assert claims["exp"] - claims["iat"] == labstate.AccessState().token_ttl_s
    # ztctl's own unverified decoder reads the same thing
    decoded = access_claims(token)
    assert (decoded.email, decoded.audiences) == (claims["email"], (labjwt.app_aud(APP),))


def test_signing_key_is_private(lab_dir: Path) -> None:
    labjwt.ensure_signing_key(lab_dir)
    key = lab_dir / "access" / labjwt.KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((lab_dir / "access").stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda d, t: t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB"), "bad signature"),
        (lambda d, t: labjwt.issue_token(d, APP, ttl_s=-10), "expired"),
        (lambda d, t: labjwt.issue_token(d, APP, now=time.time() + 3600), "not yet valid"),
        (lambda d, t: labjwt.issue_token(d, "https://other.lab.example"), "other audience"),
        (lambda d, t: labjwt.issue_token(d, APP, kind="org"), "org token for an app"),
        (lambda d, t: "not.a.jwt", "garbage"),
    ],
)
def test_verify_rejects(lab_dir: Path, mutate: Any, why: str) -> None:
    token = labjwt.issue_token(lab_dir, APP)
    assert labjwt.verify_access_jwt(lab_dir, token, app_url=APP) is not None
    assert labjwt.verify_access_jwt(lab_dir, mutate(lab_dir, token), app_url=APP) is None, why


def test_verify_rejects_other_team_issuer(lab_dir: Path) -> None:
    token = labjwt.issue_token(lab_dir, APP)
    with labstate.update(lab_dir) as s:
        s.team = "acme"
    assert labjwt.verify_access_jwt(lab_dir, token, app_url=APP) is None


def test_jwks_endpoint_verifies_tokens(lab_dir: Path, edge: labedge.Edge) -> None:
    status, headers, body = get(edge, "/cdn-cgi/access/certs")
    assert status == 200 and headers["content-type"] == "application/json"
    doc = json.loads(body)
    assert set(doc) == {"keys", "public_cert", "public_certs"}
    (jwk,) = doc["keys"]
    assert {jwk["kty"], jwk["alg"], jwk["use"]} == {"RSA", "RS256", "sig"}
    assert doc["public_cert"]["kid"] == jwk["kid"]
    assert doc["public_cert"]["cert"].startswith("-----BEGIN CERTIFICATE-----")
    token = labjwt.issue_token(lab_dir, APP)
    issuer = labjwt.issuer("lab")
    assert labjwt.verify_with_jwks(token, doc, expected_issuer=issuer, audience=labjwt.app_aud(APP))
    assert labjwt.verify_with_jwks(token, {"keys": []}, expected_issuer=issuer) is None


def test_key_rotation_keeps_the_previous_key_valid(lab_dir: Path, edge: labedge.Edge) -> None:
    old_token = labjwt.issue_token(lab_dir, APP)
    labjwt.rotate_signing_key(lab_dir)
    new_token = labjwt.issue_token(lab_dir, APP)
    assert decode_header(old_token)["kid"] != decode_header(new_token)["kid"]
    doc = json.loads(get(edge, "/cdn-cgi/access/certs")[2])
    assert [k["kid"] for k in doc["keys"]] == [
        decode_header(new_token)["kid"],
        decode_header(old_token)["kid"],
    ]
    assert len(doc["public_certs"]) == 2
    for token in (old_token, new_token):
        assert labjwt.verify_access_jwt(lab_dir, token, app_url=APP) is not None


# --- /cdn-cgi/access/get-identity -----------------------------------------


def identity(edge: labedge.Edge, token: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"Cookie": f"CF_Authorization={token}"} if token else {}
    status, _, body = get(edge, "/cdn-cgi/access/get-identity", headers)
    return status, json.loads(body)


def test_get_identity_needs_a_valid_cookie(lab_dir: Path, edge: labedge.Edge) -> None:
    assert identity(edge, None)[0] == 401
    assert identity(edge, "garbage")[0] == 401
    assert identity(edge, labjwt.issue_token(lab_dir, APP, ttl_s=-1))[0] == 401


def test_get_identity_reports_posture_per_rule(lab_dir: Path, edge: labedge.Edge) -> None:
    token = labjwt.issue_token(lab_dir, APP)
    status, doc = identity(edge, token)
    assert status == 200
    for key in ("email", "idp", "geo", "user_uuid", "devicePosture", "account_id", "iat", "ip"):
        assert key in doc
    for key in ("is_warp", "is_gateway", "gateway_account_id", "device_id", "device_sessions"):
        assert key in doc
    assert doc["email"] == labstate.AccessState().email
    assert (doc["is_warp"], doc["is_gateway"]) == (True, True)
    rules = doc["devicePosture"]
    assert {r["rule_name"] for r in rules.values()} == {n for _, n, _ in labedge.POSTURE_RULES}
    assert all(r["success"] for r in rules.values())
    for rule_id, rule in rules.items():
        assert rule["id"] == rule_id
        assert {"type", "schedule", "timestamp", "input", "check"} <= set(rule)

    update(lab_dir, faults__posture_fail=["disk_encryption", "Firewall"])
    failed = {
        r["rule_name"]
        for r in identity(edge, token)[1]["devicePosture"].values()
        if not r["success"]
    }
    assert failed == {"Disk encryption", "Firewall"}


def test_get_identity_posture_is_consistent_with_warp(lab_dir: Path, edge: labedge.Edge) -> None:
    token = labjwt.issue_token(lab_dir, APP)
    update(lab_dir, warp__connected=False)
    status, doc = identity(edge, token)
    assert status == 200
    failed = {r["type"] for r in doc["devicePosture"].values() if not r["success"]}
    assert failed == {"warp", "gateway"}
    assert doc["is_warp"] is False
    update(lab_dir, warp__registered=False)
    assert identity(edge, token)[1]["devicePosture"] == {}
