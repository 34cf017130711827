"""The credential plugin's contract as tables (pure): the ExecCredential ztctl prints for
kubectl, the one it reads from a catalog's exec plugin, and the token rules between them."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any

import pytest

from ztctl.adapters.execcred import (
    ExecConfig,
    ExecPluginError,
    PluginCredential,
    exec_info,
    parse_exec_output,
    parse_rfc3339,
)
from ztctl.core.catalog_parse import NAME_RE
from ztctl.core.credential import (
    API_V1,
    API_V1BETA1,
    Credential,
    _answer,
    _valid_name,
    exec_request,
    expires_at,
    identity,
    rfc3339,
    token_claims,
)

NOW = 1_800_000_000  # 2027-01-15T08:00:00Z


def jwt(claims: Any, header: Any = None) -> str:
    def part(value: Any) -> str:
        raw = json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part(header or {'alg': 'RS256'})}.{part(claims)}.c2ln"


# -- what ztctl prints for kubectl ----------------------------------------------------------

# (apiVersion kubectl asked for, token, the status ztctl must print)
DOCUMENTS = [
    (
        API_V1,
        jwt({"exp": NOW, "aud": ["a"]}),
        {"expirationTimestamp": "2027-01-15T08:00:00Z"},
    ),
    (
        API_V1BETA1,
        jwt({"exp": NOW + 59.9, "aud": "a"}),
        {"expirationTimestamp": "2027-01-15T08:00:59Z"},  # whole seconds, rounded down
    ),
    (API_V1, jwt({"aud": "a"}), {}),  # no exp: no expirationTimestamp (kubectl never expires it)
    (API_V1, jwt({"exp": "soon"}), {}),  # an exp that is not a number is no expiry
    (API_V1, jwt({"exp": True}), {}),
    (API_V1, "not-a-jwt", {}),
]


@pytest.mark.parametrize(("api", "token", "expiry"), DOCUMENTS)
def test_the_exec_credential_kubectl_reads(api: str, token: str, expiry: dict[str, str]) -> None:
    credential = _answer(api, token, "keyring")
    assert json.loads(credential.document) == {
        "apiVersion": api,
        "kind": "ExecCredential",
        "status": {"token": token, **expiry},
    }
    assert "\n" not in credential.document and " " not in credential.document  # compact
    assert credential.source == "keyring" and credential.api_version == api
    if expiry:
        assert credential.expires_at is not None
        assert rfc3339(credential.expires_at) == expiry["expirationTimestamp"]
    else:
        assert credential.expires_at is None


def test_the_expiry_parses_back_as_kubectl_parses_it() -> None:
    document = json.loads(Credential(API_V1, "t", NOW + 3600, "browser").document)
    stamp = document["status"]["expirationTimestamp"]
    assert parse_rfc3339(stamp) == datetime.fromtimestamp(NOW + 3600, timezone.utc)


RFC3339 = [
    (0, "1970-01-01T00:00:00Z"),
    (NOW, "2027-01-15T08:00:00Z"),
    (NOW + 0.999, "2027-01-15T08:00:00Z"),
    (951782400, "2000-02-29T00:00:00Z"),
]


@pytest.mark.parametrize(("epoch", "text"), RFC3339)
def test_rfc3339(epoch: float, text: str) -> None:
    assert rfc3339(epoch) == text


# -- what kubectl asks for -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "request_"),
    [
        ({}, (API_V1, False)),
        ({"KUBERNETES_EXEC_INFO": ""}, (API_V1, False)),
        ({"KUBERNETES_EXEC_INFO": json.dumps({"apiVersion": API_V1BETA1})}, (API_V1BETA1, False)),
        ({"KUBERNETES_EXEC_INFO": json.dumps({"spec": {"interactive": True}})}, (API_V1, True)),
        (
            {
                "KUBERNETES_EXEC_INFO": json.dumps(
                    {"apiVersion": API_V1, "spec": {"interactive": 1}}
                )
            },
            (API_V1, False),  # only a JSON true means interactive
        ),
        ({"KUBERNETES_EXEC_INFO": json.dumps({"spec": "interactive"})}, (API_V1, False)),
    ],
)
def test_exec_request(env: dict[str, str], request_: tuple[str, bool]) -> None:
    assert exec_request(env) == request_


@pytest.mark.parametrize(
    "raw", ["{", "[]", '"x"', json.dumps({"apiVersion": "client.authentication.k8s.io/v1alpha1"})]
)
def test_exec_request_refusals_are_usage_errors(raw: str) -> None:
    from ztctl.errors import EXIT_USAGE, UsageError

    with pytest.raises(UsageError) as caught:
        exec_request({"KUBERNETES_EXEC_INFO": raw})
    assert caught.value.exit_code == EXIT_USAGE
    if "v1alpha1" in raw:
        assert caught.value.message == (
            "kubectl asked for ExecCredential client.authentication.k8s.io/v1alpha1, which "
            "ztctl does not speak (it answers client.authentication.k8s.io/v1 and "
            "client.authentication.k8s.io/v1beta1)"
        )
        assert caught.value.fix == "rewrite the kubeconfig entry with `ztctl use-cluster CLUSTER`"
    else:
        assert caught.value.message == "KUBERNETES_EXEC_INFO is not an ExecCredential JSON object"
        assert caught.value.fix == (
            "let kubectl run `ztctl credential`; unset KUBERNETES_EXEC_INFO to run it by hand"
        )


# -- token claims ---------------------------------------------------------------------------

CLAIMS = [
    (jwt({"exp": 5}), {"exp": 5}),
    (jwt({"sub": "x" * 7}), {"sub": "xxxxxxx"}),  # any padding length
    (jwt({"sub": "x" * 8}), {"sub": "xxxxxxxx"}),
    (jwt({"sub": "x" * 9}), {"sub": "xxxxxxxxx"}),
    (" " + jwt({"exp": 5}) + "\n", {"exp": 5}),  # surrounding blanks
    (jwt({"exp": 5}).rsplit(".", 1)[0] + ".", {"exp": 5}),  # no signature: still its claims
    (jwt([1, 2]), None),  # a payload that is not an object
    ("a.b", None),
    ("a.b.c.d", None),
    ("a..c", None),
    ("a.!!!.c", None),
    ("a." + base64.urlsafe_b64encode(b"\xff\xfe").decode() + ".c", None),
    ("", None),
]


@pytest.mark.parametrize(("token", "claims"), CLAIMS)
def test_token_claims(token: str, claims: dict[str, Any] | None) -> None:
    assert token_claims(token) == claims


@pytest.mark.parametrize(
    ("claims", "who"),
    [
        ({"email": "a@acme.net", "common_name": "svc", "sub": "1"}, "a@acme.net"),
        ({"email": "", "common_name": "svc", "sub": "1"}, "svc"),
        ({"common_name": 5, "sub": "1"}, "1"),
        ({"sub": ""}, None),
        ({}, None),
    ],
)
def test_identity(claims: dict[str, Any], who: str | None) -> None:
    assert identity(claims) == who


@pytest.mark.parametrize(
    ("claims", "when"),
    [
        ({"exp": 5}, 5.0),
        ({"exp": 5.5}, 5.5),
        ({"exp": 0}, 0.0),  # the epoch itself
        ({"exp": 0.5}, 0.5),
        ({"exp": -1}, None),
        ({"exp": 253402300799}, 253402300799.0),  # 9999-12-31T23:59:59Z, the last time
        ({"exp": 253402300800}, None),
        ({"exp": float("nan")}, None),
        ({"exp": float("inf")}, None),
        ({"exp": "5"}, None),
        ({"exp": False}, None),
        ({}, None),
    ],
)
def test_expires_at(claims: dict[str, Any], when: float | None) -> None:
    assert expires_at(claims) == when


@pytest.mark.parametrize(
    "name",
    [
        "a",
        "prod",
        "prod-eu",
        "a.b_c",
        "a" * 63,
        "a" * 64,
        "",
        "-a",
        "a-",
        "A",
        "a b",
        "acc\n",
        "abcdefghijklmnopqrstuvwxyz0123456789._-a",  # every allowed character at once
    ],
)
def test_the_plugin_accepts_exactly_the_catalog_names(name: str) -> None:
    assert _valid_name(name) is bool(NAME_RE.fullmatch(name))


# -- what a catalog's exec plugin prints (read per client-go) ------------------------------

CONFIG = ExecConfig(command="acme-auth", api_version=API_V1)


def plugin_output(status: Any, api: str = API_V1, kind: str = "ExecCredential") -> bytes:
    return json.dumps({"apiVersion": api, "kind": kind, "status": status}).encode()


STAMP = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
ACCEPTED = [
    ({"token": "t"}, PluginCredential(token="t")),
    (
        {"token": "t", "expirationTimestamp": "2030-01-02T03:04:05Z"},
        PluginCredential("t", expiration=STAMP),
    ),
    ({"token": "t", "expirationTimestamp": ""}, PluginCredential(token="t")),
    ({"token": "t", "expirationTimestamp": None}, PluginCredential(token="t")),
    (
        {"clientCertificateData": "C", "clientKeyData": "K"},
        PluginCredential(client_certificate_pem=b"C", client_key_pem=b"K"),
    ),
    (
        {"token": "t", "clientCertificateData": "C", "clientKeyData": "K"},
        PluginCredential("t", b"C", b"K"),
    ),
    ({"token": "t", "clientCertificateData": "", "clientKeyData": ""}, PluginCredential("t")),
]


@pytest.mark.parametrize(("status", "credential"), ACCEPTED)
def test_plugin_output_accepted(status: dict[str, Any], credential: PluginCredential) -> None:
    got = parse_exec_output(CONFIG, plugin_output(status))
    assert (got.token, got.client_certificate_pem, got.client_key_pem, got.expiration) == (
        credential.token,
        credential.client_certificate_pem,
        credential.client_key_pem,
        credential.expiration,
    )


REFUSED = [
    (b"\xff", "acme-auth: decoding stdout"),
    (b"", "decoding stdout"),
    (b"[]", "stdout is not an ExecCredential"),
    (plugin_output({"token": "t"}, kind="Config"), "stdout is not an ExecCredential"),
    (plugin_output({"token": "t"}, api=API_V1BETA1), "plugin returned version " + API_V1BETA1),
    (plugin_output(["t"]), "acme-auth didn't return a status field"),
    (plugin_output({}), "acme-auth didn't return a token or cert/key pair"),
    (plugin_output({"token": ""}), "didn't return a token or cert/key pair"),
    (plugin_output({"clientKeyData": "K"}), "clientCertificateData and clientKeyData must both"),
    (plugin_output({"token": "t", "clientCertificateData": "C"}), "must both be present"),
    (plugin_output({"token": ["t"]}), "acme-auth: status.token is not a string"),
    (
        plugin_output({"clientCertificateData": 1, "clientKeyData": "K"}),
        "status.clientCertificateData is not a string",
    ),
    (
        plugin_output({"clientCertificateData": "C", "clientKeyData": 1}),
        "status.clientKeyData is not a string",
    ),
    (
        plugin_output({"token": "t", "expirationTimestamp": "2030-01-02"}),
        "expirationTimestamp '2030-01-02' is not RFC 3339",
    ),
]


@pytest.mark.parametrize(("stdout", "message"), REFUSED)
def test_plugin_output_refused(stdout: bytes, message: str) -> None:
    with pytest.raises(ExecPluginError) as caught:
        parse_exec_output(CONFIG, stdout)
    assert message in caught.value.message
    assert caught.value.kind == "invalid-output"
    assert caught.value.fix


def test_a_plugin_credential_never_shows_its_secrets() -> None:
    shown = repr(PluginCredential("s3cr3t-token", b"CERT-PEM", b"KEY-PEM", STAMP))
    assert "s3cr3t" not in shown and "CERT-PEM" not in shown and "KEY-PEM" not in shown


@pytest.mark.parametrize(
    ("now", "expired"),
    [
        (datetime(2030, 1, 2, 3, 4, 4, tzinfo=timezone.utc), False),
        (STAMP, True),  # at the instant it expires
        (datetime(2030, 1, 2, 3, 4, 6, tzinfo=timezone.utc), True),
    ],
)
def test_plugin_credential_expiry(now: datetime, expired: bool) -> None:
    assert PluginCredential("t", expiration=STAMP).expired(now) is expired
    assert PluginCredential("t").expired(now) is False


def test_plugin_credential_expiry_against_the_clock() -> None:
    assert PluginCredential("t", expiration=datetime(2000, 1, 1, tzinfo=timezone.utc)).expired()
    assert not PluginCredential("t", expiration=datetime(9999, 1, 1, tzinfo=timezone.utc)).expired()


RFC3339_IN = [
    ("2030-01-02T03:04:05Z", STAMP),
    ("2030-01-02T03:04:05z", STAMP),
    (" 2030-01-02T03:04:05Z ", STAMP),
    ("2030-01-02T03:04:05.5Z", STAMP.replace(microsecond=500000)),
    ("2030-01-02T03:04:05.123456789Z", STAMP.replace(microsecond=123456)),
    ("2030-01-02T04:04:05+01:00", STAMP),
    ("2030-01-02T03:04:05", None),
    ("2030-13-02T03:04:05Z", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "when"), RFC3339_IN)
def test_parse_rfc3339(text: str, when: datetime | None, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "JST-9")  # a local zone that is not UTC: the answer stays in UTC
    time.tzset()
    try:
        parsed = parse_rfc3339(text)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert parsed == when
    if parsed is not None:
        offset = parsed.utcoffset()
        assert offset is not None and offset.total_seconds() == 0


@pytest.mark.parametrize(
    ("config", "interactive", "cluster", "spec"),
    [
        (CONFIG, False, None, {"interactive": False}),
        (CONFIG, True, {"server": "https://x"}, {"interactive": True}),
        (
            ExecConfig("x", api_version=API_V1BETA1, provide_cluster_info=True),
            False,
            {"server": "https://x"},
            {"interactive": False, "cluster": {"server": "https://x"}},
        ),
        (ExecConfig("x", provide_cluster_info=True), True, None, {"interactive": True}),
    ],
)
def test_exec_info(
    config: ExecConfig, interactive: bool, cluster: dict[str, Any] | None, spec: dict[str, Any]
) -> None:
    text = exec_info(config, interactive=interactive, cluster=cluster)
    assert json.loads(text) == {
        "kind": "ExecCredential",
        "apiVersion": config.api_version,
        "spec": spec,
    }
    assert " " not in text  # compact, as client-go writes it


# -- whether a token fits (the keyring copy is used, else refreshed) ---------------------------

FITS = {
    "aud": ["a" * 64],
    "exp": NOW + 3600,
    "nbf": NOW - 10,
    "iss": "https://acme.cloudflareaccess.com",
    "type": "app",
}


class _Dropped:
    """A row value meaning: leave the field out (a stable repr keeps test ids stable)."""

    def __repr__(self) -> str:
        return "DROPPED"


DROPPED = _Dropped()

# (claims changed from a fitting token, team, the problem: exact text or None)
TOKEN_RULES = [
    ({}, "acme", None),
    ({}, None, None),
    ({"iss": "https://acme.cloudflareaccess.com/"}, "acme", None),  # a trailing slash is the same
    ({"iss": DROPPED}, "acme", None),  # no issuer claim: nothing to compare
    ({"iss": 5}, "acme", None),
    (
        {"iss": "https://acme.cloudflareaccess.com/X"},
        "acme",
        "was issued by https://acme.cloudflareaccess.com/X, not by team 'acme' "
        "(https://acme.cloudflareaccess.com)",
    ),
    ({"type": DROPPED}, "acme", None),
    ({"nbf": DROPPED}, "acme", None),
    ({"nbf": NOW + 60}, "acme", None),  # a minute of clock skew is tolerated
    ({"aud": "one"}, "acme", None),
    ({"aud": ["", "one"]}, "acme", None),
    ({"exp": NOW + 10.5}, "acme", None),  # just past the leeway
    ({"exp": NOW + 366 * 86400}, "acme", None),  # the longest an Access session lasts
    (
        {"exp": NOW + 366 * 86400 + 1},
        "acme",
        "claims to expire at 2028-01-16T08:00:01Z, later than any Access session",
    ),
    ({"exp": NOW + 10}, "acme", "expires at 2027-01-15T08:00:10Z"),  # inside the leeway
    ({"exp": NOW}, "acme", "expired at 2027-01-15T08:00:00Z"),
    ({"exp": NOW - 1}, "acme", "expired at 2027-01-15T07:59:59Z"),
    ({"exp": DROPPED}, "acme", "has no expiry (exp), or one that is not a time"),
    ({"exp": "soon"}, "acme", "has no expiry (exp), or one that is not a time"),
    (
        {"nbf": NOW + 61},
        "acme",
        "is not valid before 2027-01-15T08:01:01Z (check the device clock)",
    ),
    ({"type": "org"}, "acme", "is an Access org token, not an application token"),
    # a claim is shown cut: 40 characters of a type, 200 of an issuer
    (
        {"type": "t" * 41},
        "acme",
        f"is an Access {'t' * 40} token, not an application token",
    ),
    (
        {"iss": "https://" + "i" * 200},
        "acme",
        f"was issued by https://{'i' * 192}, not by team 'acme' "
        "(https://acme.cloudflareaccess.com)",
    ),
    ({"aud": []}, "acme", "names no audience (aud)"),
    ({"aud": [""]}, "acme", "names no audience (aud)"),
    ({"aud": ""}, "acme", "names no audience (aud)"),
    ({"aud": DROPPED}, "acme", "names no audience (aud)"),
    ({"aud": [5]}, "acme", "names no audience (aud)"),
    (
        {},
        "other",
        "was issued by https://acme.cloudflareaccess.com, not by team 'other' "
        "(https://other.cloudflareaccess.com)",
    ),
]


@pytest.mark.parametrize(("changes", "team", "problem"), TOKEN_RULES)
def test_token_rules(changes: dict[str, Any], team: str | None, problem: str | None) -> None:
    from ztctl.core.credential import token_problem

    claims = {k: v for k, v in {**FITS, **changes}.items() if v is not DROPPED}
    assert token_problem(claims, now=NOW, team=team) == problem


def test_a_token_that_is_not_a_jwt_does_not_fit() -> None:
    from ztctl.core.credential import token_problem

    assert token_problem(None, now=NOW) == "is not a JWT"
    assert token_problem(FITS, now=NOW, leeway=3600) == "expires at 2027-01-15T09:00:00Z"


# -- a token whose header or claims have unexpected types (hostile finding 12) -----------
# Unusable like any other token: the fast path declines it with a reason (so it is
# refreshed the normal way), and no rule crashes on it.

FIT_HEADER = {"alg": "RS256", "typ": "JWT"}

# (header changes, claims changes, the fast path's reason)
ODD_TYPES = [
    ({"alg": ["RS256"]}, {}, "is not signed the way Access signs tokens (alg a JSON array)"),
    ({"alg": {"RS256": 1}}, {}, "is not signed the way Access signs tokens (alg a JSON object)"),
    ({"alg": 256}, {}, "is not signed the way Access signs tokens (alg a JSON number)"),
    ({"alg": True}, {}, "is not signed the way Access signs tokens (alg a JSON boolean)"),
    ({"alg": None}, {}, "is not signed the way Access signs tokens (alg null)"),
    ({"alg": DROPPED}, {}, "is not signed the way Access signs tokens (alg null)"),
    ({}, {"iss": ["https://acme.cloudflareaccess.com"]}, "names an issuer (iss) that is no URL"),
    (
        {},
        {"iss": {"url": "https://acme.cloudflareaccess.com"}},
        "names an issuer (iss) that is no URL",
    ),
    ({}, {"iss": 5}, "names an issuer (iss) that is no URL"),
    ({}, {"iss": ""}, "names an issuer (iss) that is no URL"),
    ({}, {"exp": "1800003600"}, "has no expiry (exp), or one that is not a time"),
    ({}, {"exp": [NOW + 3600]}, "has no expiry (exp), or one that is not a time"),
    ({}, {"exp": {"at": NOW + 3600}}, "has no expiry (exp), or one that is not a time"),
    (
        {},
        {"nbf": "later", "type": ["app"]},
        "names a token type (type) that is no word (a JSON array)",
    ),
    ({}, {"type": {"k": "app"}}, "names a token type (type) that is no word (a JSON object)"),
    ({}, {"aud": {"a": ["b"]}}, "names no audience (aud)"),
    ({}, {"aud": [["a"]]}, "names no audience (aud)"),
]


def _odd(
    header_changes: dict[str, Any], claim_changes: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    header = {k: v for k, v in {**FIT_HEADER, **header_changes}.items() if v is not DROPPED}
    claims = {k: v for k, v in {**FITS, **claim_changes}.items() if v is not DROPPED}
    return jwt(claims, header), claims


@pytest.mark.parametrize(("header", "changes", "reason"), ODD_TYPES)
def test_odd_types_in_a_token_are_a_reason_to_refresh_never_a_crash(
    header: dict[str, Any], changes: dict[str, Any], reason: str
) -> None:
    from ztctl.core.credential import fast_path_problem, token_problem

    token, claims = _odd(header, changes)
    assert token_claims(token) == claims
    assert fast_path_problem(token, claims, team="acme", now=NOW) == reason
    token_problem(claims, now=NOW, team="acme")  # the slow path's rule answers too
    identity(claims)
    expires_at(claims)


def test_the_same_token_with_fitting_types_is_served() -> None:
    from ztctl.core.credential import fast_path_problem

    token, claims = _odd({}, {})
    assert fast_path_problem(token, claims, team="acme", now=NOW) is None
