"""Exec credential plugins per client-go: the document they get, what they may print."""

from __future__ import annotations

import json
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ztctl.adapters.execcred import (
    ExecConfig,
    ExecPluginError,
    exec_info,
    parse_exec_output,
    parse_rfc3339,
    run_exec_plugin,
)

V1 = "client.authentication.k8s.io/v1"
V1BETA1 = "client.authentication.k8s.io/v1beta1"
CONFIG = ExecConfig(command="acme-auth", api_version=V1)


def doc(**status: object) -> bytes:
    return json.dumps({"apiVersion": V1, "kind": "ExecCredential", "status": status}).encode()


def test_token_with_expiry() -> None:
    cred = parse_exec_output(CONFIG, doc(token="abc", expirationTimestamp="2030-01-02T03:04:05Z"))
    assert cred.token == "abc"
    assert cred.expiration == datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert not cred.expired(datetime(2029, 1, 1, tzinfo=timezone.utc))
    assert cred.expired(datetime(2031, 1, 1, tzinfo=timezone.utc))
    assert "abc" not in repr(cred)


def test_client_certificate_pair_is_pem_bytes() -> None:
    cred = parse_exec_output(CONFIG, doc(clientCertificateData="CERT", clientKeyData="KEY"))
    assert cred.client_certificate_pem == b"CERT" and cred.client_key_pem == b"KEY"
    assert cred.token is None and cred.expiration is None


@pytest.mark.parametrize(
    ("stdout", "message"),
    [
        (b"not json", "decoding stdout"),
        (b'{"status": {"token": "x"}} trailing', "decoding stdout"),
        (
            json.dumps({"apiVersion": V1, "kind": "Other", "status": {}}).encode(),
            "not an ExecCredential",
        ),
        (
            json.dumps(
                {"apiVersion": V1BETA1, "kind": "ExecCredential", "status": {"token": "x"}}
            ).encode(),
            f"configured to use API version {V1}, plugin returned version {V1BETA1}",
        ),
        (
            json.dumps({"apiVersion": V1, "kind": "ExecCredential"}).encode(),
            "didn't return a status",
        ),
        (doc(), "didn't return a token or cert/key pair"),
        (doc(clientCertificateData="CERT"), "must both be present"),
        (doc(token="x", expirationTimestamp="tomorrow"), "is not RFC 3339"),
        (doc(token=5), "status.token is not a string"),
    ],
)
def test_invalid_output_is_refused(stdout: bytes, message: str) -> None:
    with pytest.raises(ExecPluginError) as info:
        parse_exec_output(CONFIG, stdout)
    assert message in info.value.message
    assert info.value.kind == "invalid-output"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2030-01-02T03:04:05Z", datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
        ("2030-01-02T03:04:05.123456789Z", datetime(2030, 1, 2, 3, 4, 5, 123456, timezone.utc)),
        ("2030-01-02T05:04:05+02:00", datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
        ("2030-01-02T03:04:05", None),  # no zone: not RFC 3339
        ("soon", None),
    ],
)
def test_parse_rfc3339(text: str, expected: datetime | None) -> None:
    assert parse_rfc3339(text) == expected


def test_exec_info_carries_cluster_only_when_asked() -> None:
    plain = json.loads(exec_info(CONFIG, interactive=False, cluster={"server": "https://x"}))
    assert plain == {"kind": "ExecCredential", "apiVersion": V1, "spec": {"interactive": False}}
    with_cluster = ExecConfig(command="x", api_version=V1BETA1, provide_cluster_info=True)
    info = json.loads(exec_info(with_cluster, interactive=True, cluster={"server": "https://x"}))
    assert info["apiVersion"] == V1BETA1
    assert info["spec"] == {"interactive": True, "cluster": {"server": "https://x"}}


def plugin(tmp_path: Path, body: str) -> str:
    script = tmp_path / "plugin"
    script.write_text(f"#!{sys.executable}\nimport json, os, sys\n" + textwrap.dedent(body))
    script.chmod(0o755)
    return str(script)


def test_run_passes_env_and_exec_info_and_reads_stdout(tmp_path: Path) -> None:
    command = plugin(
        tmp_path,
        """
        info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
        token = os.environ["EXTRA"] + ":" + str(info["spec"]["interactive"]) + ":" + sys.argv[1]
        print(json.dumps({"apiVersion": info["apiVersion"], "kind": "ExecCredential",
                          "status": {"token": token}}))
        """,
    )
    config = ExecConfig(command=command, args=("arg1",), env=(("EXTRA", "e"),), api_version=V1)
    cred = run_exec_plugin(config, stdin_is_tty=True, allow_interactive=True, timeout=10)
    assert cred.token == "e:True:arg1"
    cred = run_exec_plugin(config, stdin_is_tty=True, allow_interactive=False, timeout=10)
    assert cred.token == "e:False:arg1"  # --no-input: never interactive
    never = ExecConfig(
        command=command, args=("a",), env=(("EXTRA", "n"),), interactive_mode="Never"
    )
    assert run_exec_plugin(never, stdin_is_tty=True, timeout=10).token == "n:False:a"


def test_always_interactive_without_a_terminal_fails_before_running(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    command = plugin(tmp_path, f"open({str(marker)!r}, 'w').close()\n")
    config = ExecConfig(command=command, interactive_mode="Always")
    with pytest.raises(ExecPluginError) as info:
        run_exec_plugin(config, stdin_is_tty=False, timeout=10)
    assert "standard input is not a terminal" in info.value.message
    assert not marker.exists()


def test_non_zero_exit(tmp_path: Path) -> None:
    command = plugin(tmp_path, "sys.exit(7)\n")
    with pytest.raises(ExecPluginError) as info:
        run_exec_plugin(ExecConfig(command=command), timeout=10)
    assert f"exec: executable {command} failed with exit code 7" == info.value.message


def test_hung_plugin_times_out(tmp_path: Path) -> None:
    command = plugin(tmp_path, "import time\ntime.sleep(30)\n")
    with pytest.raises(ExecPluginError) as info:
        run_exec_plugin(ExecConfig(command=command), timeout=0.5)
    assert info.value.kind == "timeout"


def test_missing_binary_uses_the_install_hint() -> None:
    config = ExecConfig(command="ztctl-test-absent-plugin", install_hint="install acme-auth")
    with pytest.raises(ExecPluginError) as info:
        run_exec_plugin(config, timeout=5)
    assert info.value.message == "exec: executable ztctl-test-absent-plugin not found"
    assert "install acme-auth" in info.value.fix


def test_removed_api_version_is_a_config_error() -> None:
    config = ExecConfig(command="x", api_version="client.authentication.k8s.io/v1alpha1")
    with pytest.raises(ExecPluginError) as info:
        run_exec_plugin(config, timeout=5)
    assert info.value.kind == "config" and "invalid apiVersion" in info.value.message
