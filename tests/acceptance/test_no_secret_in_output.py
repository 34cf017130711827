"""Acceptance, contract §3: no secret is ever printed or logged, by any command.

One environment holds every kind of secret ztctl can meet — the Access token in the keyring,
a bearer token and inline key data in kubeconfig, the lab's client key — and every command
that reads them runs in text and JSON, with -vv, healthy and during an outage. Every stdout,
stderr, the audit log and the state directory are searched for each secret.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml

from tests.support.access import AccessEnv, access_fixture  # noqa: F401

BEARER = "kubeconfig-bearer-t0ken-0123456789abcdef"
KEY_DATA_MARK = "INLINE-KEY-DATA-MARKER"


def plant_kubeconfig(access: AccessEnv, path: Path) -> None:
    document = yaml.safe_load(access.lab.kubeconfig.read_text(encoding="utf-8"))
    key_pem = f"-----BEGIN EC PRIVATE KEY-----\n{KEY_DATA_MARK}\n-----END EC PRIVATE KEY-----\n"
    document["users"].append(
        {"name": "robot", "user": {"token": BEARER}},
    )
    document["users"].append(
        {
            "name": "inline",
            "user": {
                "client-certificate-data": base64.b64encode(b"not a cert").decode(),
                "client-key-data": base64.b64encode(key_pem.encode()).decode(),
            },
        },
    )
    document["contexts"].append({"name": "robot", "context": {"cluster": "lab", "user": "robot"}})
    path.write_text(yaml.safe_dump(document), encoding="utf-8")


def secrets_of(access: AccessEnv, token: str) -> list[str]:
    lab_key = access.lab.paths.client_key.read_text(encoding="utf-8")
    key_body = "".join(line for line in lab_key.splitlines() if "-----" not in line)
    return [
        token,
        BEARER,
        KEY_DATA_MARK,
        base64.b64encode(KEY_DATA_MARK.encode()).decode()[:16],
        key_body[:40],
    ]


COMMANDS = [
    ["status"],
    ["clusters"],
    ["doctor", "--all", "--timeout", "2"],
    ["probe", "lab", "--timeout", "2"],
    ["probe", "lab-sso", "--timeout", "2"],
    ["use-cluster", "lab-sso", "--dry-run", "--no-probe"],
    ["use-cluster", "lab", "--no-probe"],
    ["break-glass", "status"],
]


@pytest.mark.parametrize("outage", [False, True], ids=["healthy", "outage"])
def test_no_command_prints_or_stores_a_secret(
    access: AccessEnv, tmp_path: Path, outage: bool
) -> None:
    token = access.mint()
    access.put("lab-sso", token)
    kubeconfig = tmp_path / "kubeconfig"
    plant_kubeconfig(access, kubeconfig)
    env = {"KUBECONFIG": str(kubeconfig)}
    if outage:
        access.lab.set(zt_path="reset")
    outputs: list[tuple[str, str]] = []
    for command in COMMANDS:
        for extra in ([], ["--json"]):
            result = access.run(["-vv", *command, *extra], env=env, input="")
            label = " ".join([*command, *extra])
            outputs.append((f"{label} (stdout)", result.stdout))
            outputs.append((f"{label} (stderr)", result.stderr))
            if extra:
                json.loads(result.stdout)  # still one JSON document, success or error
    # The credential plugin prints the token on stdout by design (that is its job), but never
    # on stderr; a failing call prints no token at all.
    plugin = access.run(["credential", "lab-sso"], env=env)
    outputs.append(("credential (stderr)", plugin.stderr))
    for path in sorted(access.state_dir.rglob("*")):
        if path.is_file():
            outputs.append((str(path), path.read_text(encoding="utf-8", errors="replace")))

    leaks = [
        (where, secret[:12] + "…")
        for where, text in outputs
        for secret in secrets_of(access, token)
        if secret and secret in text
    ]
    assert leaks == []
    # The test can fail: the token really is what the plugin hands to kubectl.
    assert token in plugin.stdout
