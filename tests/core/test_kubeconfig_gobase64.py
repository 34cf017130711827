"""``*-data`` base64 is decoded as kubectl (Go's encoding/base64.StdEncoding) decodes it."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ztctl.core.kubeconfig.gobase64 import Base64Error, decode_std, is_std

PEM = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode()

# (value, what Go's StdEncoding makes of it: the decoded bytes, or the failing offset)
CASES: list[tuple[str, bytes | int]] = [
    ("", b""),
    ("REFUQQ==", b"DATA"),
    ("REFUQUQ=", b"DATAD"),
    ("REFUQUFB", b"DATAAA"),
    ("REFU\nQQ==\r\n", b"DATA"),  # CR and LF are skipped anywhere
    ("REFUQQ===", 8),  # extra padding: what aws-cli's test fixtures hold
    ("DATA" * 42 + "=", 168),  # the aws-cli fixtures' exact shape
    ("REFUQQ", 4),  # padding is mandatory
    ("YQ==YQ==", 4),  # nothing after the padding
    ("REFUQQ==\t", 8),
    ("REFU-_==", 4),  # URL alphabet
    ("RE FU", 2),
    ("QQ=A", 2),  # "=" then not "="
    ("QQ=", 3),  # not enough padding
    ("QQ=\n=", b"A"),  # a newline between the two "="
    ("QUI=\nQQ", 5),
    ("R\u00c9FU", 1),  # a non-ASCII byte
    ("=QQQ", 0),
]


@pytest.mark.parametrize(("value", "expected"), CASES)
def test_decode_like_go(value: str, expected: bytes | int) -> None:
    if isinstance(expected, bytes):
        assert decode_std(value) == expected
        assert is_std(value)
    else:
        with pytest.raises(Base64Error) as caught:
            decode_std(value)
        assert caught.value.offset == expected
        assert not is_std(value)


@pytest.mark.parametrize(("value", "expected"), CASES)
def test_real_kubectl_agrees(
    tmp_path: Path, kubectl: str, value: str, expected: bytes | int
) -> None:
    config = tmp_path / "config"
    quoted = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    quoted = quoted.replace("\r", "\\r").replace("\t", "\\t")
    config.write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
        f'    server: https://10.0.0.1\n    certificate-authority-data: "{quoted}"\n'
    )
    proc = subprocess.run(
        [kubectl, "config", "view", "--raw"],
        env={**os.environ, "KUBECONFIG": str(config)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if isinstance(expected, bytes):
        assert proc.returncode == 0, proc.stderr
    else:
        assert proc.returncode != 0
        assert f"illegal base64 data at input byte {expected}" in proc.stderr, proc.stderr


@given(st.binary(max_size=64))
def test_round_trip(data: bytes) -> None:
    encoded = base64.b64encode(data).decode()
    assert decode_std(encoded) == data
    assert not is_std(encoded + "=")


def test_pem_sample_decodes() -> None:
    assert decode_std(PEM).startswith(b"-----BEGIN")
