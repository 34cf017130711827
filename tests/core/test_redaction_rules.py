"""Redaction as tables: a secret planted in every field that can carry one never comes out.

Covers the URL redactors (proxy and server URLs with a user and password), warp-cli argument
redaction (one-time enrolment tokens) and the doctor bundle's kubeconfig structure plus its
final scrub (every secret-bearing kubeconfig field, exec arguments, tokens). Pure: no lab.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ztctl.adapters.routes_bg import redact_argv
from ztctl.adapters.socks import parse_proxy_url, redact_url
from ztctl.adapters.warp.client import _redact
from ztctl.core import catalog_parse
from ztctl.core.bundle import (
    OMITTED,
    REDACTED,
    Scrubber,
    _environment,
    _exec_args,
    _redact_url,
    _scrub_userinfo,
    _user_structure,
    kubeconfig_structure,
)

SECRET = "Pl4nted-S3cret-9f8e7d6c"

# (URL, what a message may show of it)
URLS = [
    (f"socks5://ops:{SECRET}@127.0.0.1:1080", "socks5://127.0.0.1:1080"),
    (f"socks5h://{SECRET}@proxy:1080", "socks5h://proxy:1080"),  # a bare user part
    (f"http://ops:{SECRET}@proxy.acme.net:3128", "http://proxy.acme.net:3128"),
    (f"https://a:{SECRET}@k8s.acme.net:6443/path", "https://k8s.acme.net:6443/path"),
    (f"https://a:p@ss{SECRET}@k8s.acme.net", "https://k8s.acme.net"),  # '@' in the password
    (f"ops:{SECRET}@proxy:1080", "proxy:1080"),  # no scheme
    ("socks5://127.0.0.1:1080", "socks5://127.0.0.1:1080"),  # nothing to hide
    ("https://k8s.acme.net", "https://k8s.acme.net"),
]


@pytest.mark.parametrize(("url", "shown"), URLS)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert SECRET not in redact_url(url)


@pytest.mark.parametrize(
    "url",
    [
        f"ftp://ops:{SECRET}@proxy:21",
        f"socks5://ops:{SECRET}@proxy:99999",
        f"socks5://ops:{SECRET}@:1080",
    ],
)
def test_a_bad_proxy_url_is_refused_without_its_password(url: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_proxy_url(url)
    assert SECRET not in str(caught.value)


# (warp-cli arguments, as the transcript records them)
WARP_ARGS = [
    (["registration", "token", SECRET], ("registration", "token", "<redacted>")),
    (["teams-enroll-token", SECRET], ("teams-enroll-token", "<redacted>")),
    (["--json", "registration", "token", SECRET], ("--json", "registration", "token", REDACTED)),
    (["status"], ("status",)),
    (["registration", "new", "acme"], ("registration", "new", "acme")),
    (["token"], ("token",)),
    (["token", "a", "b"], ("token", REDACTED, "b")),  # only the argument after the word
]


@pytest.mark.parametrize(("args", "recorded"), WARP_ARGS)
def test_warp_cli_arguments(args: list[str], recorded: tuple[str, ...]) -> None:
    assert _redact(args) == recorded


# (exec arguments of a kubeconfig user, as the bundle shows them)
EXEC_ARGS = [
    (["--token", SECRET], ["--token", REDACTED]),
    (["--token=" + SECRET], ["--token=" + REDACTED]),
    (["--client-secret", SECRET], ["--client-secret", REDACTED]),
    (["--client-secret=" + SECRET], ["--client-secret=" + REDACTED]),
    (["--password", SECRET, "-v"], ["--password", REDACTED, "-v"]),
    (["-p=" + SECRET], ["-p=" + SECRET]),  # not secret-named: kept (the scrub still applies)
    (["--api-key", SECRET], ["--api-key", REDACTED]),
    (["--auth", SECRET], ["--auth", REDACTED]),
    (["--passwd", SECRET], ["--passwd", REDACTED]),
    (["PASSWORD=" + SECRET], ["PASSWORD=" + REDACTED]),
    (["get-token", "--server-id", "abc"], ["get-token", "--server-id", "abc"]),
    (["--token"], ["--token"]),  # a flag with nothing after it
    ("--token " + SECRET, []),  # not a list: nothing shown
]


@pytest.mark.parametrize(("args", "shown"), EXEC_ARGS)
def test_exec_arguments(args: Any, shown: list[str]) -> None:
    scrub = Scrubber()
    assert _exec_args(args, scrub) == shown
    if REDACTED in " ".join(shown):
        assert SECRET in scrub.secrets


PRIVATE_KEY = f"-----BEGIN RSA PRIVATE KEY-----\nMIIE{SECRET}\n-----END RSA PRIVATE KEY-----\n"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ" + "x" * 20 + ".c2lnbmF0dXJlc2lnbmF0dXJl"

# (text with a secret in it, the secret part) — found by its shape, without being told
SHAPES = [
    (f"key:\n{PRIVATE_KEY}", "MIIE"),
    (f"-----BEGIN PRIVATE KEY-----\n{SECRET} (cut off", SECRET),
    (f"token {JWT} end", JWT),
    (f"Authorization: Bearer {SECRET}", SECRET),
    (f"authorization: bearer {SECRET}", SECRET),
    (f"Cookie: CF_Authorization={SECRET}; other=1", SECRET),
    (f"(user set)\tLicense: {SECRET}", SECRET),
    (f"License: {SECRET}", SECRET),
    (json.dumps({"license": SECRET}), SECRET),
    (f"com.cloudflare.warp://acme.cloudflareaccess.com/auth?token={SECRET}", SECRET),
]


@pytest.mark.parametrize(("text", "secret"), SHAPES)
def test_secret_shaped_text(text: str, secret: str) -> None:
    assert secret not in Scrubber()(text)


def test_ordinary_text_is_left_alone() -> None:
    text = "Mode: Warp\nBearer of news\nlicense plate\nserver https://k8s.acme.net:6443\n"
    assert Scrubber()(text) == text


@pytest.mark.parametrize(
    ("value", "scrubbed"),
    [
        (SECRET, True),
        ("short", False),  # too short to scrub without mangling ordinary text
        (f"  {SECRET}\n", True),
        (5, False),
        (None, False),
    ],
)
def test_known_secrets(value: Any, scrubbed: bool) -> None:
    scrub = Scrubber()
    scrub.add(value)
    text = f"before {str(value).strip()} after"
    assert (str(value).strip() not in scrub(text)) is scrubbed


def test_base64_data_is_scrubbed_in_every_form() -> None:
    pem = f"-----BEGIN CERTIFICATE-----\n{SECRET}LINE0123456789\n-----END CERTIFICATE-----\n"
    data = base64.b64encode(pem.encode()).decode()
    scrub = Scrubber()
    scrub.add(data)
    for form in (data, pem.strip(), f"{SECRET}LINE0123456789"):
        assert SECRET not in scrub(f"x {form} y")


# -- a kubeconfig with a secret in every field that can carry one ---------------------------

FIELDS = {
    "token": f"tok-{SECRET}",
    "password": f"pw-{SECRET}",
    "username": f"user-{SECRET}",
    "client-certificate-data": base64.b64encode(f"CERT-{SECRET}".encode()).decode(),
    "client-key-data": base64.b64encode(PRIVATE_KEY.encode()).decode(),
    "auth-provider-config": f"idp-{SECRET}",
    "exec-env": f"env-{SECRET}",
    "exec-arg": f"arg-{SECRET}",
    "exec-arg-assigned": f"assigned-{SECRET}",
    "unknown-user-field": f"unknown-{SECRET}",
    "proxy-url": f"proxy-{SECRET}",
    "server-userinfo": f"server-{SECRET}",
    "cluster-unknown": f"cluster-{SECRET}",
    "ca-data": base64.b64encode(f"CA-{SECRET}".encode()).decode(),
}


def planted(path: Path) -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "prod",
        "clusters": [
            {
                "name": "prod",
                "cluster": {
                    "server": f"https://admin:{FIELDS['server-userinfo']}@k8s.acme.net:6443",
                    "proxy-url": f"socks5://ops:{FIELDS['proxy-url']}@127.0.0.1:1080",
                    "certificate-authority-data": FIELDS["ca-data"],
                    "x-vendor-secret": FIELDS["cluster-unknown"],
                },
            }
        ],
        "users": [
            {
                "name": "prod",
                "user": {
                    "token": FIELDS["token"],
                    "username": FIELDS["username"],
                    "password": FIELDS["password"],
                    "client-certificate-data": FIELDS["client-certificate-data"],
                    "client-key-data": FIELDS["client-key-data"],
                    "x-vendor-field": FIELDS["unknown-user-field"],
                    "auth-provider": {
                        "name": "oidc",
                        "config": {"refresh-token": FIELDS["auth-provider-config"]},
                    },
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1",
                        "command": "kubelogin",
                        "args": [
                            "get-token",
                            "--client-secret",
                            FIELDS["exec-arg"],
                            "--password=" + FIELDS["exec-arg-assigned"],
                        ],
                        "env": [{"name": "TOKEN", "value": FIELDS["exec-env"]}],
                    },
                },
            }
        ],
        "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "prod"}}],
    }
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_no_planted_secret_reaches_the_bundle(tmp_path: Path) -> None:
    scrub = Scrubber()
    structure = kubeconfig_structure([planted(tmp_path / "config")], scrub)
    shown = json.dumps(structure)
    # By construction: the structure itself names no secret (before the final scrub) ...
    leaked = sorted(name for name, value in FIELDS.items() if SECRET in shown and value in shown)
    assert leaked == []
    assert SECRET not in shown
    # ... and every secret value was handed to the scrub, so other members lose it too.
    elsewhere = "\n".join(f"log line mentioning {value}" for value in FIELDS.values())
    assert SECRET not in scrub(elsewhere)
    # What is kept: names, the hosts, the wiring, the kinds of credential.
    assert "k8s.acme.net:6443" in shown and "127.0.0.1:1080" in shown
    assert '"command": "kubelogin"' in shown and '"name": "TOKEN"' in shown


# == every redactor, whole: what is shown is the input with the secret, and only the secret,
# replaced (a redactor that hides too much or mangles the rest fails as surely as a leak) ==


# (URL, socks.redact_url: a proxy URL in a probe route label or message)
PROXY_LABELS = [
    (f"socks5://ops:{SECRET}@[::1]:1080", "socks5://[::1]:1080"),  # IPv6
    (f"http://ops:p%40ss%3A{SECRET}@proxy:3128", "http://proxy:3128"),  # percent-encoded
    (f"socks5://ops:a/b{SECRET}@proxy:1080", "socks5://proxy:1080"),  # '/' in the password
    (f"socks5://:{SECRET}@proxy:1080", "socks5://proxy:1080"),  # no user
    (f"{SECRET}@proxy:1080", "proxy:1080"),  # a bare user, no scheme
    ("socks5://proxy", "socks5://proxy"),
    ("", ""),
]


@pytest.mark.parametrize(("url", "shown"), PROXY_LABELS)
def test_proxy_labels(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_a_proxy_shown_in_a_route_label_or_spec_never_has_its_password() -> None:
    from ztctl.core.probe.routes import RoutePath

    path = RoutePath("break-glass", proxy=f"socks5h://ops:{SECRET}@[fd00::1]:1080")
    assert path.proxy_display == "socks5h://[fd00::1]:1080"
    assert RoutePath("zero-trust").proxy_display is None
    spec = parse_proxy_url(f"socks5://ops:{SECRET}@[fd00::1]:1080")
    assert spec.display == "socks5://[fd00::1]:1080"
    assert parse_proxy_url(f"http://ops:{SECRET}@proxy").display == "http://proxy:80"


# (URL, catalog_parse.redact_url: a URL quoted in a catalog message)
CATALOG_URLS = [
    (f"socks5://ops:{SECRET}@127.0.0.1:1080", "'socks5://ops:***@127.0.0.1:1080'"),
    (f"https://ops:{SECRET}@[::1]:6443/p", "'https://ops:***@[::1]:6443/p'"),
    (f"http://ops:p%40{SECRET}@proxy:3128", "'http://ops:***@proxy:3128'"),
    (f"http://ops:p@{SECRET}@proxy:3128", "'http://ops:***@proxy:3128'"),  # '@' in it
    (f"socks5://:{SECRET}@proxy:1", "'socks5://:***@proxy:1'"),
    (
        f"https://ops:{SECRET}@k8s.acme.net/c.yaml?ref=main#top",
        "'https://ops:***@k8s.acme.net/c.yaml?ref=main#top'",
    ),
    # a token given as the user name (https://TOKEN@host) is a secret too
    (f"https://{SECRET}@git.acme.net/c.yaml", "'https://***@git.acme.net/c.yaml'"),
    # URLs that do not parse still lose what may be a password
    (f"socks5://ops:{SECRET}@[::1:1080", "'socks5://***@[::1:1080'"),  # unclosed bracket
    (f"http://ops:ab/{SECRET}@proxy:1", "'http://***@proxy:1'"),  # '/' in the password
    (f"https://ops:{SECRET}@k8s:99999", "'https://***@k8s:99999'"),  # a port out of range
    # nothing to hide: quoted as it is
    ("https://k8s.acme.net:6443/x", "'https://k8s.acme.net:6443/x'"),
    ("https://k8s.acme.net/a@b", "'https://k8s.acme.net/a@b'"),  # '@' in the path
    ("https://[::1:6443", "'https://[::1:6443'"),
    ("https://k8s:99999", "'https://k8s:99999'"),
    ("not a url", "'not a url'"),
    (f"https://ops:{SECRET}@k8s\x1b\x07", "'https://ops:***@k8s\\x1b\\x07'"),  # escaped
    (f"https://ops:{SECRET}@{'h' * 100}", "'" + ("https://ops:***@" + "h" * 100)[:80] + "…'"),
]


@pytest.mark.parametrize(("url", "shown"), CATALOG_URLS)
def test_catalog_redact_url(url: str, shown: str) -> None:
    assert catalog_parse.redact_url(url) == shown


# (text, catalog_parse.hide_passwords: a proxy URL shown by `clusters` and `status`)
SHOWN_TEXT = [
    (f"proxy socks5://oncall:{SECRET}@127.0.0.1:1080", "proxy socks5://oncall:***@127.0.0.1:1080"),
    (f"socks5://oncall:{SECRET}@[::1]:1080", "socks5://oncall:***@[::1]:1080"),
    (f"http://oncall:p%40{SECRET}@proxy:3128", "http://oncall:***@proxy:3128"),
    (f"http://oncall:p@{SECRET}@proxy:3128", "http://oncall:***@proxy:3128"),  # '@' in it
    (f"socks5://:{SECRET}@proxy:1080", "socks5://:***@proxy:1080"),
    ("http://oncall:@proxy:3128", "http://oncall:***@proxy:3128"),  # empty, still starred
    (f"HTTP://oncall:{SECRET}@proxy", "HTTP://oncall:***@proxy"),
    (f"git+ssh://oncall:{SECRET}@host/x", "git+ssh://oncall:***@host/x"),
    (
        f"a http://u:{SECRET}@h:1 and socks5://v:{SECRET}2@g:2 end",
        "a http://u:***@h:1 and socks5://v:***@g:2 end",
    ),
    ("socks5://oncall@proxy:1080", "socks5://oncall@proxy:1080"),  # a user name is shown
    ("ssh oncall@bastion:22", "ssh oncall@bastion:22"),
    ("http://proxy:8080/path@x", "http://proxy:8080/path@x"),  # a port, then a path
    ("vpn wg0", "vpn wg0"),
]


@pytest.mark.parametrize(("text", "shown"), SHOWN_TEXT)
def test_hide_passwords(text: str, shown: str) -> None:
    assert catalog_parse.hide_passwords(text) == shown


# (argv of a break-glass VPN command, as printed and audited)
VPN_ARGV = [
    (["curl", f"https://bob:p@{SECRET}@vpn.acme/x"], ["curl", "https://bob:***@vpn.acme/x"]),
    (
        ["curl", f"https://bob:p%40{SECRET}@[fd00::1]:8443/"],
        ["curl", "https://bob:***@[fd00::1]:8443/"],
    ),
    (["tool", "--token", SECRET, "--token=" + SECRET], ["tool", "--token", "***", "--token=***"]),
    (["tool", "--oauth-token", SECRET], ["tool", "--oauth-token", "***"]),
    (["tool", "-t", "tun0"], ["tool", "-t", "tun0"]),  # not secret-named
    (["tool", "--password"], ["tool", "--password"]),  # nothing after it
    (["tool", "--password", "--password", "x"], ["tool", "--password", "***", "x"]),
    (["tool", "--user=bob", "--keyfile=/k"], ["tool", "--user=bob", "--keyfile=***"]),
    (["tool", "OTP = 123456"], ["tool", "OTP = ***"]),
    (["tool", "api_key:" + SECRET], ["tool", "api_key:***"]),
    (["tool", f"client-secret={SECRET};rest"], ["tool", "client-secret=***;rest"]),
    (["tool", "monkey=1", "tokenless", "x.y=z"], ["tool", "monkey=1", "tokenless", "x.y=z"]),
    (
        ["curl", "-H", f"Authorization: Bearer {SECRET}", "https://vpn.acme/"],
        ["curl", "-H", "Authorization: ***", "https://vpn.acme/"],
    ),
    (
        ["sh", "-c", f"curl -H 'authorization: basic {SECRET}' https://x"],
        ["sh", "-c", "curl -H 'authorization: ***' https://x"],
    ),
    ([], []),
]


@pytest.mark.parametrize(("argv", "shown"), VPN_ARGV)
def test_vpn_argv(argv: list[str], shown: list[str]) -> None:
    assert redact_argv(argv) == shown


# (a value, the API token, what cf.* checks report: every trace of the token is [token])
TOKEN = "cfT0ken_abc.DEF-123~+/="
CF_VALUES: list[tuple[Any, str, Any]] = [
    (f"Bearer {TOKEN}", TOKEN, "Bearer [token]"),
    (
        {"headers": {"Authorization": f"Bearer {TOKEN}"}, "n": 3, "ok": True, "none": None},
        TOKEN,
        {"headers": {"Authorization": "Bearer [token]"}, "n": 3, "ok": True, "none": None},
    ),
    (
        [f"a {TOKEN}", (f"{TOKEN}{TOKEN}", 1), [{"x": [TOKEN]}]],
        TOKEN,
        ["a [token]", ("[token][token]", 1), [{"x": ["[token]"]}]],
    ),
    # a token with a line break, shown escaped by an error text: each piece of 4 or more
    (
        "header b'Bearer abcd1234\\nxyz9876'",
        "abcd1234\nxyz9876",
        "header b'Bearer [token]\\n[token]'",
    ),
    ("ab and abcd", "ab\nabcd", "ab and [token]"),  # a piece under 4 characters stays
    ("the token 'abc' is short", "abc", "the token '[token]' is short"),  # but never the token
    ("nothing here", "abcdef", "nothing here"),
    ("anything", "", "anything"),  # no token: nothing to scrub
    (42, TOKEN, 42),
]


@pytest.mark.parametrize(("value", "token", "shown"), CF_VALUES)
def test_cloudflare_scrub(value: Any, token: str, shown: Any) -> None:
    from ztctl.adapters.cloudflare import scrub

    assert scrub(value, token) == shown
    assert type(scrub(value, token)) is type(shown)


def test_every_cf_outcome_loses_the_token_in_each_field() -> None:
    from ztctl.core.doctor.runner import Outcome
    from ztctl.core.doctor.server import _scrubbed

    outcome = Outcome(
        "fail",
        f"the API refused {TOKEN}",
        f"replace {TOKEN}",
        {"token": TOKEN, "list": [TOKEN, 1]},
    )
    assert _scrubbed(outcome, TOKEN) == Outcome(
        "fail",
        "the API refused [token]",
        "replace [token]",
        {"token": "[token]", "list": ["[token]", 1]},
    )
    assert _scrubbed(Outcome("pass", "ok"), TOKEN) == Outcome("pass", "ok")


# (a kubeconfig server or proxy-url, or an environment proxy, as the bundle shows it;
# the secrets handed to the scrub)
BUNDLE_URLS: list[tuple[Any, Any, set[str]]] = [
    (
        f"https://admin:{SECRET}@k8s:6443",
        f"https://{REDACTED}@k8s:6443",
        {SECRET, f"admin:{SECRET}"},
    ),
    (f"socks5://{SECRET}@[::1]:1080", f"socks5://{REDACTED}@[::1]:1080", {SECRET}),  # user only
    (
        f"http://ops:p%40{SECRET}@proxy:3128",
        f"http://{REDACTED}@proxy:3128",
        {f"p%40{SECRET}", f"p@{SECRET}", f"ops:p%40{SECRET}"},
    ),
    (
        f"http://ops:p@{SECRET}@proxy:3128",
        f"http://{REDACTED}@proxy:3128",
        {f"p@{SECRET}", f"ops:p@{SECRET}"},
    ),
    # HTTPS_PROXY=user:password@host:port (no scheme, as Go and curl accept it)
    (f"ops:{SECRET}@proxy:3128", f"{REDACTED}@proxy:3128", {SECRET, f"ops:{SECRET}"}),
    # a URL in the query keeps the real userinfo hidden
    (
        f"https://ops:{SECRET}@k8s/?next=http://x@y",
        f"https://{REDACTED}@y",
        {f"ops:{SECRET}@k8s/?next=http://x", f"{SECRET}@k8s/?next=http://x"},
    ),
    ("https://k8s:6443", "https://k8s:6443", set()),
    ("proxy:3128", "proxy:3128", set()),
    (None, None, set()),
    (1080, 1080, set()),
]


@pytest.mark.parametrize(("url", "shown", "secrets"), BUNDLE_URLS)
def test_bundle_urls(url: Any, shown: Any, secrets: set[str]) -> None:
    scrub = Scrubber()
    _scrub_userinfo(url, scrub)
    assert _redact_url(url) == shown
    assert scrub.secrets == secrets


def test_the_environment_in_the_bundle() -> None:
    env = {
        "HTTPS_PROXY": f"ops:{SECRET}@proxy:3128",
        "http_proxy": f"http://ops:{SECRET}@proxy:3128",
        "NO_PROXY": "10.0.0.0/8,.acme.net",
        "ZTCTL_STATE_DIR": "/tmp/state",
        "ZTCTL_API_TOKEN": SECRET,  # never
        "HOME": "/home/alice",  # not ours to show
        "AWS_SECRET_ACCESS_KEY": SECRET,
    }
    assert _environment(env) == {
        "HTTPS_PROXY": f"{REDACTED}@proxy:3128",
        "NO_PROXY": "10.0.0.0/8,.acme.net",
        "ZTCTL_STATE_DIR": "/tmp/state",
        "http_proxy": f"http://{REDACTED}@proxy:3128",
    }


# (a value handed to the scrub, the secrets it scrubs from then on)
_PEM = f"-----BEGIN CERTIFICATE-----\nMIIB{SECRET}0123\nMIIC\n-----END CERTIFICATE-----\n"
_PEM64 = base64.b64encode(_PEM.encode()).decode()
SCRUB_ADDS: list[tuple[Any, set[str]]] = [
    (SECRET, {SECRET}),
    (f"\t{SECRET} \n", {SECRET}),
    ("12345", set()),  # under 6 characters: would mangle ordinary text
    ("123456", {"123456"}),
    (None, set()),
    (123456789, set()),
    # base64 data: the value, the decoded text and each long line that is not a PEM marker
    (_PEM64, {_PEM64, _PEM.strip(), f"MIIB{SECRET}0123"}),
    # base64-looking but shorter than 16, or not UTF-8 when decoded: only the value
    ("QUJDREVGR0g=", {"QUJDREVGR0g="}),
    (base64.b64encode(b"\xff\xfe" * 12).decode(), {base64.b64encode(b"\xff\xfe" * 12).decode()}),
    ("aaaa aaaa aaaa aaaa", {"aaaa aaaa aaaa aaaa"}),  # decodes to bytes that are not text
]


@pytest.mark.parametrize(("value", "secrets"), SCRUB_ADDS)
def test_what_the_scrub_learns(value: Any, secrets: set[str]) -> None:
    scrub = Scrubber()
    scrub.add(value)
    assert scrub.secrets == secrets


# (text, what the final scrub leaves of it, with SECRET and a longer secret known)
LONGER = f"{SECRET}-and-more"
SCRUBBED = [
    (f"a {SECRET} b {SECRET}", f"a {REDACTED} b {REDACTED}"),
    (f"a {LONGER} b", f"a {REDACTED} b"),  # the longer first: no tail left behind
    (f"Authorization: Bearer {SECRET}", f"Authorization: Bearer {REDACTED}"),
    ("Authorization: Bearer abcdefgh", f"Authorization: Bearer {REDACTED}"),
    ("Bearer abcdefg", "Bearer abcdefg"),  # too short to be a token
    (f"token {JWT} end", "token <redacted JWT> end"),
    ("Cookie: CF_Authorization=abc; other=1", f"Cookie: CF_Authorization={REDACTED}; other=1"),
    ("(user set)\tLicense: 2x7Kd94b-1Rt5u3Q8", f"(user set)\tLicense: {REDACTED}"),
    ('{"license": "2x7Kd94b"}', f'{{"license": "{REDACTED}"}}'),
    (
        "open com.cloudflare.warp://acme.cloudflareaccess.com/auth?token=abc&x=1",
        f"open com.cloudflare.warp://acme.cloudflareaccess.com/auth?token={REDACTED}&x=1",
    ),
    (f"key:\n{PRIVATE_KEY}tail", "key:\n<redacted private key>\ntail"),
    ("-----BEGIN EC PRIVATE KEY-----\nabc (cut off", "<redacted private key>"),
    ("Mode: Warp\nBearer of news\nlicense plate\n", "Mode: Warp\nBearer of news\nlicense plate\n"),
]


@pytest.mark.parametrize(("text", "shown"), SCRUBBED)
def test_the_final_scrub(text: str, shown: str) -> None:
    scrub = Scrubber()
    scrub.add(SECRET)
    scrub.add(LONGER)
    assert scrub(text) == shown


# (exec arguments, as the bundle shows them: whole)
EXEC_ARGS_WHOLE = [
    (["get-token", "--login", "devicecode"], ["get-token", "--login", "devicecode"]),
    (["oidc-login", "get-token", SECRET], ["oidc-login", "get-token", REDACTED]),
    (["get-token", "--v=2", SECRET], ["get-token", "--v=2", REDACTED]),  # '=': no value next
    (
        ["--region", "eu", "--secret", SECRET, "eu"],
        ["--region", "eu", "--secret", REDACTED, REDACTED],
    ),
    (["Get-Token"], [REDACTED]),  # not a lower-case subcommand word
    (["-", "x"], [REDACTED, REDACTED]),  # a lone '-' is not a flag
    ([1234567, "--key", 7654321], [REDACTED, "--key", REDACTED]),
    ([], []),
]


@pytest.mark.parametrize(("args", "shown"), EXEC_ARGS_WHOLE)
def test_exec_arguments_whole(args: list[Any], shown: list[str]) -> None:
    assert _exec_args(args, Scrubber()) == shown


def test_the_user_structure_whole() -> None:
    scrub = Scrubber()
    user = {
        "client-certificate": "/certs/me.crt",
        "client-key": "/certs/me.key",
        "tokenFile": "/var/run/token",
        "token": f"tok-{SECRET}",
        "username": f"user-{SECRET}",
        "password": f"pw-{SECRET}",
        "client-certificate-data": FIELDS["client-certificate-data"],
        "client-key-data": FIELDS["client-key-data"],
        "auth-provider": {"name": "oidc", "config": {"id-token": f"idp-{SECRET}"}},
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": "kubelogin",
            "args": ["get-token", "--token", f"arg-{SECRET}"],
            "env": [{"name": "TOKEN", "value": f"env-{SECRET}"}, "not a mapping"],
            "interactiveMode": "Never",
            "provideClusterInfo": True,
        },
        "x-vendor": f"vendor-{SECRET}",
        "extensions": [
            {"name": "ztctl", "extension": {"cluster": "prod"}},
            {"name": "other", "extension": {"k": SECRET}},
        ],
    }
    assert _user_structure(user, scrub) == {
        "client-certificate": "/certs/me.crt",
        "client-key": "/certs/me.key",
        "tokenFile": "/var/run/token",
        "client-certificate-data": OMITTED,
        "client-key-data": OMITTED,
        "token": OMITTED,
        "password": OMITTED,
        "username": OMITTED,
        "auth-provider": {"name": "oidc", "config": OMITTED},
        "exec": {
            "command": "kubelogin",
            "args": ["get-token", "--token", REDACTED],
            "env": [{"name": "TOKEN", "value": OMITTED}],
            "apiVersion": "client.authentication.k8s.io/v1",
            "interactiveMode": "Never",
            "provideClusterInfo": True,
        },
        "x-vendor": OMITTED,
        "extensions": [{"name": "ztctl", "extension": {"cluster": "prod"}}, {"name": "other"}],
    }
    for value in ("tok-", "user-", "pw-", "idp-", "arg-", "env-", "vendor-"):
        assert value + SECRET in scrub.secrets, value
    assert _user_structure({"auth-provider": "x", "exec": "y"}, Scrubber()) == {
        "auth-provider": OMITTED,
        "exec": OMITTED,
    }


def test_the_kubeconfig_structure_whole(tmp_path: Path) -> None:
    path = planted(tmp_path / "config")
    missing = tmp_path / "missing"
    scrub = Scrubber()
    assert kubeconfig_structure([path, missing], scrub) == {
        "files": [
            {
                "path": str(path),
                "exists": True,
                "current-context": "prod",
                "clusters": [
                    {
                        "name": "prod",
                        "cluster": {
                            "server": f"https://{REDACTED}@k8s.acme.net:6443",
                            "proxy-url": f"socks5://{REDACTED}@127.0.0.1:1080",
                            "certificate-authority-data": OMITTED,
                            "x-vendor-secret": OMITTED,
                        },
                    }
                ],
                "users": [
                    {
                        "name": "prod",
                        "user": {
                            "client-certificate-data": OMITTED,
                            "client-key-data": OMITTED,
                            "token": OMITTED,
                            "password": OMITTED,
                            "username": OMITTED,
                            "auth-provider": {"name": "oidc", "config": OMITTED},
                            "exec": {
                                "command": "kubelogin",
                                "args": [
                                    "get-token",
                                    "--client-secret",
                                    REDACTED,
                                    f"--password={REDACTED}",
                                ],
                                "env": [{"name": "TOKEN", "value": OMITTED}],
                                "apiVersion": "client.authentication.k8s.io/v1",
                                "interactiveMode": None,
                                "provideClusterInfo": None,
                            },
                            "x-vendor-field": OMITTED,
                        },
                    }
                ],
                "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "prod"}}],
            },
            {"path": str(missing), "exists": False},
        ]
    }
    for name, value in FIELDS.items():
        if name != "ca-data":
            assert SECRET not in scrub(f"x {value} y"), name
    assert SECRET not in scrub(base64.b64decode(FIELDS["ca-data"]).decode())


_CATALOG = """\
apiVersion: ztctl/v1
kind: ClusterCatalog
team: acme
clusters:
  - name: lab
    server: {server}
    addresses: [203.0.113.10]
    certificateAuthorityData: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
    credentials: {{accessToken: {{app: https://lab.example}}}}
"""
_TO_HTTPS = "must use https:// (the API server speaks TLS)"
_NO_USERINFO = (
    "carries a user name or password: remove USER:PASSWORD@ (credentials go under "
    "credentials:, never in the URL)"
)
_PROXY = "must be socks5://HOST:PORT, socks5h://HOST:PORT or http(s)://HOST:PORT"

# (server, break-glass proxy: the one problem of the catalog, whole)
CATALOG_PROBLEMS = [
    (f"http://admin:{SECRET}@k8s:6443", None, f"server: 'http://admin:***@k8s:6443' {_TO_HTTPS}"),
    (
        f"https://admin:{SECRET}@[::1:6443",
        None,
        "server: 'https://***@[::1:6443' is not a URL (an IPv6 host goes in brackets)",
    ),
    (f"https://{SECRET}@k8s", None, f"server: 'https://***@k8s' {_NO_USERINFO}"),
    (f"https://a:{SECRET}@k8s:6443", None, f"server: 'https://a:***@k8s:6443' {_NO_USERINFO}"),
    (
        "https://k8s:6443",
        f"ftp://u:{SECRET}@h:1080",
        f"breakGlass.proxy: 'ftp://u:***@h:1080' {_PROXY}",
    ),
    (
        "https://k8s:6443",
        f"socks5://u:a/{SECRET}@h:1080",
        f"breakGlass.proxy: 'socks5://***@h:1080' {_PROXY}",
    ),
    (
        "https://k8s:6443",
        f"socks5://u:{SECRET}@[::1:1080",
        f"breakGlass.proxy: 'socks5://***@[::1:1080' {_PROXY}",
    ),
]


@pytest.mark.parametrize(("server", "proxy", "problem"), CATALOG_PROBLEMS)
def test_a_catalog_problem_never_quotes_a_urls_secret(
    server: str, proxy: str | None, problem: str
) -> None:
    from ztctl.core.catalog import parse_catalog
    from ztctl.errors import InvalidInput

    text = _CATALOG.format(server=server)
    if proxy:
        text += f"    breakGlass:\n      proxy: {proxy}\n"
    with pytest.raises(InvalidInput) as caught:
        parse_catalog(text, source="c.yaml", label="c.yaml", base_dir=None)
    assert caught.value.message == f"c.yaml: clusters[0] (lab).{problem}"
    assert caught.value.details == []


ODD_KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: c
clusters:
- name: ext
  cluster:
    server: https://k8s:6443
    a-vendor-secret: vendor-secret-value
    certificate-authority-data: Q0EtZGF0YS1zZWNyZXQtdmFsdWU=
    extensions:
    - name: ztctl
      extension: {cluster: ext}
    - name: other
      extension: {k: other-secret-value}
- name: plain
  cluster:
    server: https://plain:6443
    extensions: []
- name: empty
users:
- name: u
  user: {token: token-secret-value, x-vendor: vendor-value-2, extensions: []}
- name: u2
  user: {x-vendor: vendor-value-3, extensions: [{name: other, extension: {k: v}}]}
contexts:
- name: c
  context:
    cluster: ext
    user: u
    namespace: ns
    x-other: 1
    extensions: [{name: ztctl, extension: {cluster: ext}}]
"""


def test_the_kubeconfig_structure_as_written_to_the_bundle(tmp_path: Path) -> None:
    """The JSON text, in order: an unreadable file, then the others still; what is kept of
    clusters, users and contexts; the names of other tools' extensions only."""
    unreadable = tmp_path / "dir"
    unreadable.mkdir()
    odd = tmp_path / "odd"
    odd.write_text(ODD_KUBECONFIG, encoding="utf-8")
    missing = tmp_path / "missing"
    scrub = Scrubber()
    structure = kubeconfig_structure([unreadable, missing, odd], scrub)
    expected = {
        "files": [
            {
                "path": str(unreadable),
                "error": f"kubeconfig {unreadable} is a directory, not a file",
            },
            {"path": str(missing), "exists": False},
            {
                "path": str(odd),
                "exists": True,
                "current-context": "c",
                "clusters": [
                    {
                        "name": "ext",
                        "cluster": {
                            "server": "https://k8s:6443",
                            "certificate-authority-data": OMITTED,
                            "a-vendor-secret": OMITTED,
                            "extensions": [
                                {"name": "ztctl", "extension": {"cluster": "ext"}},
                                {"name": "other"},
                            ],
                        },
                    },
                    {"name": "plain", "cluster": {"server": "https://plain:6443"}},
                    {"name": "empty", "cluster": {}},
                ],
                "users": [
                    {"name": "u", "user": {"token": OMITTED, "x-vendor": OMITTED}},
                    {
                        "name": "u2",
                        "user": {"x-vendor": OMITTED, "extensions": [{"name": "other"}]},
                    },
                ],
                "contexts": [
                    {
                        "name": "c",
                        "context": {
                            "cluster": "ext",
                            "user": "u",
                            "namespace": "ns",
                            "extensions": [{"name": "ztctl", "extension": {"cluster": "ext"}}],
                        },
                    }
                ],
            },
        ]
    }
    assert json.dumps(structure, indent=2) == json.dumps(expected, indent=2)
    assert scrub.secrets == {
        "vendor-secret-value",
        "Q0EtZGF0YS1zZWNyZXQtdmFsdWU=",
        "CA-data-secret-value",
        "token-secret-value",
        "vendor-value-2",
        "vendor-value-3",
    }


@pytest.mark.parametrize(
    ("extensions", "names"),
    [
        (
            [{"name": "ztctl", "extension": {"a": 1}}, {"name": "x", "extension": {"k": SECRET}}],
            [{"name": "ztctl", "extension": {"a": 1}}, {"name": "x"}],
        ),
        ([{"name": "x"}, "not a mapping", None], [{"name": "x"}]),
        (5, []),  # not a list (a kubeconfig with this is refused before; nothing shown anyway)
        ({"name": "ztctl"}, []),
    ],
)
def test_extension_names(extensions: Any, names: list[Any]) -> None:
    from ztctl.core.bundle import _extension_names

    assert _extension_names(extensions) == names


# more exec arguments, and the order of the final scrub
EXEC_ARGS_MORE = [
    (["--password=" + SECRET, "positional"], [f"--password={REDACTED}", REDACTED]),
    (["--password=" + SECRET, "get-token"], [f"--password={REDACTED}", REDACTED]),
]


@pytest.mark.parametrize(("args", "shown"), EXEC_ARGS_MORE)
def test_after_an_assigned_secret(args: list[str], shown: list[str]) -> None:
    assert _exec_args(args, Scrubber()) == shown


def test_the_longest_secret_is_scrubbed_first_whatever_its_spelling() -> None:
    scrub = Scrubber()
    scrub.add(SECRET)
    scrub.add(f"A-{SECRET}")  # sorts before SECRET, and is longer
    assert scrub(f"x A-{SECRET} y {SECRET}") == f"x {REDACTED} y {REDACTED}"


_SIXTEEN = "0123456789abcdef"  # exactly 16 characters
SCRUB_ADDS_EDGES: list[tuple[str, set[str]]] = [
    # 16 base64 characters: decoded too
    ("aGVsbG8gd29ybGQh", {"aGVsbG8gd29ybGQh", "hello world!"}),
    # base64 wrapped over lines, as some tools write *-data
    ("aGVsbG8g\nd29ybGQh", {"aGVsbG8g\nd29ybGQh", "hello world!"}),
    # a decoded line of exactly 16 characters is a secret of its own
    (
        base64.b64encode(f"-----BEGIN X-----\n{_SIXTEEN}\n".encode()).decode(),
        {
            base64.b64encode(f"-----BEGIN X-----\n{_SIXTEEN}\n".encode()).decode(),
            f"-----BEGIN X-----\n{_SIXTEEN}",
            _SIXTEEN,
        },
    ),
]


@pytest.mark.parametrize(("value", "secrets"), SCRUB_ADDS_EDGES)
def test_what_the_scrub_learns_at_the_edges(value: str, secrets: set[str]) -> None:
    scrub = Scrubber()
    scrub.add(value)
    assert scrub.secrets == secrets


# URLs with an '@' in the password or before '://', for each URL redactor
AT_SIGNS = [
    (redact_url, f"ops:p@{SECRET}@proxy:1080", "proxy:1080"),
    (redact_url, "tok@en://h", "tok@en://h"),  # no user part after the scheme
    (catalog_parse.redact_url, f"socks5://ops:p@{SECRET}@[::1:1080", "'socks5://***@[::1:1080'"),
    (
        catalog_parse.redact_url,
        f"socks5://ops:{SECRET}@[::1:1080/?next=http://x",
        "'socks5://***@[::1:1080/?next=http://x'",
    ),
    (_redact_url, "tok@en://h", "tok@en://h"),
]


@pytest.mark.parametrize(("redactor", "url", "shown"), AT_SIGNS)
def test_at_signs(redactor: Any, url: str, shown: str) -> None:
    assert redactor(url) == shown


# (text, what every redactor that shows a URL leaves of it: catalog_parse.hide_passwords,
# config.redact (config set/get/show), CheckResult (doctor), the bundle's final scrub).
# A presigned URL is a fine catalog, but the value of a credential-looking query parameter
# is a secret: it comes out as *** whatever its case, and every other parameter is kept.
QUERY_SECRETS = [
    (f"https://h/c.yaml?token={SECRET}", "https://h/c.yaml?token=***"),
    (
        f"https://h/c.yaml?access_token={SECRET}&ref=main",
        "https://h/c.yaml?access_token=***&ref=main",
    ),
    (
        f"https://b.s3.amazonaws.example/c.yaml?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential=AKIA%2F20261204&X-Amz-Signature={SECRET}&X-Amz-Expires=300",
        "https://b.s3.amazonaws.example/c.yaml?X-Amz-Algorithm=***"
        "&X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Expires=***",
    ),
    (
        f"https://storage.example/b/c.yaml?X-Goog-Signature={SECRET}&alt=media",
        "https://storage.example/b/c.yaml?X-Goog-Signature=***&alt=media",
    ),
    (
        f"https://a.blob.example/c/c.yaml?sv=2022-11-02&se=2026-12-05&sr=b&sp=r&sig={SECRET}%3D",
        "https://a.blob.example/c/c.yaml?sv=***&se=***&sr=***&sp=***&sig=***",
    ),
    (f"https://h/c?SIGNATURE={SECRET}#frag", "https://h/c?SIGNATURE=***#frag"),
    (
        f"https://h/c?key={SECRET}&api_key={SECRET}&apikey=x",
        "https://h/c?key=***&api_key=***&apikey=***",
    ),
    # a value runs to the next '&': over-hiding a ';' (never a separator here) is fine
    (f"https://h/c?password={SECRET};secret={SECRET}", "https://h/c?password=***"),
    (f"https://h/cb?code={SECRET}&auth={SECRET}", "https://h/cb?code=***&auth=***"),
    (
        f"cannot fetch https://h/c.yaml?token={SECRET}: refused (https://h/t?sig={SECRET})",
        # the value runs to a blank: the message's ':' and ')' go with it (over-hiding is fine)
        "cannot fetch https://h/c.yaml?token=*** refused (https://h/t?sig=***",
    ),
    (f"'https://h/c.yaml?token={SECRET}'", "'https://h/c.yaml?token=***'"),  # quoted
    (
        f"https://alice:{SECRET}@h/t?token={SECRET}",
        "https://alice:***@h/t?token=***",
    ),
    # nothing to hide: ordinary parameters, names that merely contain a short word
    ("https://h/c.yaml?ref=main&page=2", "https://h/c.yaml?ref=main&page=2"),
    ("https://h/c?keyword=a&monkey=b&spin=c", "https://h/c?keyword=a&monkey=b&spin=c"),
    ("https://h/token=abc/c.yaml", "https://h/token=abc/c.yaml"),  # in the path, not a query
    ("timeout=3 token=x", "timeout=3 token=x"),  # not a URL's query
    ("https://h/c?token=", "https://h/c?token="),  # empty: nothing to hide
]


@pytest.mark.parametrize(("text", "shown"), QUERY_SECRETS)
def test_query_secrets(text: str, shown: str) -> None:
    from ztctl.core.config import redact
    from ztctl.core.doctor.runner import CheckResult

    assert catalog_parse.hide_passwords(text) == shown
    if "@" not in text:  # config.redact hides a userinfo password its own way (tested above)
        assert redact(text) == shown
    result = CheckResult("net.trace", "t", "fail", text, text, data={"url": text, "l": [text]})
    assert result.summary == shown
    assert result.fix == shown
    assert result.data == {"url": shown, "l": [shown]}
    scrub = Scrubber()
    assert scrub(text) == shown


# (URL, catalog_parse.redact_url: quoted and bounded, query secrets hidden too)
CATALOG_QUERY_URLS = [
    (f"https://h/c.yaml?token={SECRET}", "'https://h/c.yaml?token=***'"),
    (f"https://ops:{SECRET}@h/c?sig={SECRET}", "'https://ops:***@h/c?sig=***'"),
    (f"https://ops:{SECRET}@[::1/c?sig={SECRET}", "'https://***@[::1/c?sig=***'"),  # no parse
]


@pytest.mark.parametrize(("url", "shown"), CATALOG_QUERY_URLS)
def test_catalog_redact_url_hides_query_secrets(url: str, shown: str) -> None:
    assert catalog_parse.redact_url(url) == shown
