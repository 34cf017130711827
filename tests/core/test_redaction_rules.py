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

from ztctl.adapters.socks import parse_proxy_url, redact_url
from ztctl.adapters.warp.client import _redact
from ztctl.core.bundle import REDACTED, Scrubber, _exec_args, kubeconfig_structure

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
