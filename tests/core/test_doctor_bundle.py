"""`doctor --bundle`: the archive has every part a helpdesk needs and no secret.

Secrets are planted where doctor reads: a kubeconfig with a token, key and certificate data,
a password, auth-provider config, exec env values and secret-looking exec arguments, a
proxy URL with a password; the isolated keyring holds an Access token; the WARP client has a
consumer license key. None of them may appear in any member, in any form.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.support.access import (
    access_fixture,  # noqa: F401
    ztctl_argv,
)
from ztctl.core.bundle import OMITTED, Scrubber, _exec_args, archive_format, read_members
from ztctl.errors import UsageError

PRIVATE_KEY = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgPLANTEDKEYMATERIAL\n"
    "PLANTEDKEYMATERIALPLANTEDKEYMATERIALPLANTEDKEYMATERIAL0123456789AB\n"
    "-----END PRIVATE KEY-----\n"
)
SECRETS = {
    "token": "PLANTED-TOKEN-9f8e7d6c5b4a3f2e",
    "password": "PLANTED-PASSWORD-77aa",
    "env": "PLANTED-ENV-SECRET-5521",
    "arg": "PLANTED-ARG-SECRET-8812",
    "assign": "PLANTED-ASSIGN-SECRET-3344",
    "idtoken": "PLANTED-IDTOKEN-6677",
    "proxy": "PLANTED-PROXY-PASS-1199",
    "envproxy": "PLANTED-ENVPROXY-4455",
}


def planted_kubeconfig(lab, path: Path) -> Path:  # type: ignore[no-untyped-def]
    key_data = base64.b64encode(PRIVATE_KEY.encode()).decode()
    cert_data = base64.b64encode(lab.paths.client_cert.read_bytes()).decode()
    ca_data = base64.b64encode(lab.paths.ca_cert.read_bytes()).decode()
    s = SECRETS
    path.write_text(
        f"""apiVersion: v1
kind: Config
current-context: lab
clusters:
- name: lab
  cluster:
    server: {lab.server}
    certificate-authority-data: {ca_data}
- name: proxied
  cluster:
    server: https://k8s.example.invalid:6443
    proxy-url: socks5://oncall:{s["proxy"]}@127.0.0.1:1080
users:
- name: lab
  user:
    client-certificate-data: {cert_data}
    client-key-data: {key_data}
- name: tokenuser
  user:
    token: {s["token"]}
    username: admin
    password: {s["password"]}
- name: oidc
  user:
    auth-provider:
      name: oidc
      config:
        id-token: {s["idtoken"]}
- name: plugin
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: kubelogin
      args: [get-token, --token, {s["arg"]}, --client-secret={s["assign"]}]
      env:
      - name: LOGIN_SECRET
        value: {s["env"]}
contexts:
- name: lab
  context: {{cluster: lab, user: lab, namespace: default}}
- name: other
  context: {{cluster: proxied, user: tokenuser}}
""",
        encoding="utf-8",
    )
    return path


def forms(secret: str) -> list[str]:
    """The secret and the encodings it could leak in."""
    raw = secret.encode()
    return [secret, base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()]


@pytest.mark.parametrize("name", ["doctor.tar.gz", "doctor.zip"])
def test_bundle_contains_everything_and_no_secret(access, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    lab = access.lab
    lab.set_many("reset", "warp.team=none")  # a consumer registration shows its License key
    token = access.mint()
    access.put("lab-sso", token)
    kubeconfig = planted_kubeconfig(lab, tmp_path / "kubeconfig")
    bundle = tmp_path / name
    proc = access.run(
        [
            *["--kubeconfig", str(kubeconfig)],
            "doctor",
            "--all",
            "--timeout",
            "3",
            "--bundle",
            str(bundle),
        ],
        env={
            "HTTPS_PROXY": f"http://u:{SECRETS['envproxy']}@127.0.0.1:3128",
            "NO_PROXY": "localhost,127.0.0.1",
        },
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert bundle.exists() and (bundle.stat().st_mode & 0o777) == 0o600
    members = read_members(bundle)
    short = {m.split("/", 1)[1]: text for m, text in members.items()}
    assert set(short) == {
        "results.json",
        "warp-cli.txt",
        "routes.txt",
        "dns.txt",
        "kubeconfig.json",
        "config.json",
        "environment.json",
        "versions.json",
    }
    # the parts are there
    results = json.loads(short["results.json"])
    assert results["schemaVersion"] == 1 and {c["id"] for c in results["checks"]} >= {
        "warp.cli",
        "cluster.auth",
    }
    assert "warp-cli" in short["warp-cli.txt"] and "status" in short["warp-cli.txt"]
    assert "127.0.0.1" in short["routes.txt"]
    structure = json.loads(short["kubeconfig.json"])["files"][0]
    users = {u["name"]: u["user"] for u in structure["users"]}
    assert users["lab"]["client-key-data"] == OMITTED
    assert users["tokenuser"]["token"] == OMITTED
    assert users["plugin"]["exec"]["command"] == "kubelogin"
    assert users["plugin"]["exec"]["env"] == [{"name": "LOGIN_SECRET", "value": OMITTED}]
    assert {c["name"] for c in structure["contexts"]} == {"lab", "other"}
    assert json.loads(short["versions.json"])["ztctl"]
    # the planted values were really there to leak: each shows up redacted
    assert "License: <redacted>" in short["warp-cli.txt"] or '"license":"<redacted>"' in (
        short["warp-cli.txt"].replace(" ", "")
    )
    assert "<redacted>@127.0.0.1:3128" in json.loads(short["environment.json"])["HTTPS_PROXY"]
    proxied = {c["name"]: c["cluster"] for c in structure["clusters"]}["proxied"]
    assert proxied["proxy-url"] == "socks5://<redacted>@127.0.0.1:1080"
    assert "--token" in users["plugin"]["exec"]["args"]
    # and no secret, in any member, in any form
    from ztctl.lab.state import WarpState

    planted = [*SECRETS.values(), token, WarpState().license, "PLANTEDKEYMATERIAL"]
    for member, text in members.items():
        for secret in planted:
            for form in forms(secret):
                assert form not in text, f"{member} leaks {secret[:12]}…"
        assert "PRIVATE KEY" not in text, member


def test_bad_bundle_name_is_a_usage_error(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = lab.run([*ztctl_argv(), "doctor", "--bundle", str(tmp_path / "x.rar")])
    assert proc.returncode == 2
    assert ".tar.gz" in proc.stderr
    assert not (tmp_path / "x.rar").exists()
    with pytest.raises(UsageError):
        archive_format(Path("x.txt"))
    assert archive_format(Path("a.TGZ")) == "tar.gz"


def test_scrubber_patterns() -> None:
    scrub = Scrubber()
    scrub.add("s3cr3t-value-123")
    text = (
        "token s3cr3t-value-123 here\n"
        "Authorization: Bearer abcdefghijklmnop\n"
        "Cookie: CF_Authorization=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl\n"
        "(user set)\tLicense: 2x7Kd94b-1Rt5u3Q8-0vW6e2M9\n" + PRIVATE_KEY
    )
    out = scrub(text)
    for leaked in (
        "s3cr3t-value-123",
        "abcdefghijklmnop",
        "eyJzdWIiOiJ4In0",
        "2x7Kd94b",
        "PLANTED",
    ):
        assert leaked not in out
    assert "License: <redacted>" in out


def test_secret_exec_arguments_are_replaced() -> None:
    scrub = Scrubber()
    args = ["get-token", "--server-id", "abc", "--token", "t0ps3cret!", "--password=hunter22", "-v"]
    assert _exec_args(args, scrub) == [
        "get-token",
        "--server-id",
        "abc",
        "--token",
        "<redacted>",
        "--password=<redacted>",
        "-v",
    ]
    assert "t0ps3cret!" in scrub.secrets and "hunter22" in scrub.secrets


def test_positional_exec_arguments_are_replaced() -> None:
    scrub = Scrubber()
    args = ["get-token", "s3cr3t-positional-value", "--region", "eu", "AKIA0123456789", "-v"]
    assert _exec_args(args, scrub) == [
        "get-token",
        "<redacted>",
        "--region",
        "eu",
        "<redacted>",
        "-v",
    ]
    assert {"s3cr3t-positional-value", "AKIA0123456789"} <= scrub.secrets
    # a first positional that is not a subcommand word is a value too
    assert _exec_args(["hunter2hunter2", "token"], Scrubber()) == ["<redacted>", "<redacted>"]
