"""Config (docs/configuration.md): defaults, environment overrides, and every kind of bad file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ztctl.core.config import config_path, load_config, state_dir
from ztctl.errors import InvalidInput


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "config.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path / "absent.toml", env={})
    assert not config.exists
    assert config.team is None and config.catalog is None
    assert config.warp.cli == "warp-cli"
    assert config.doctor.timeout == 3.0
    assert config.access.cloudflared == "cloudflared"


def test_full_file_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
team = "acme"
catalog = "https://platform.acme.net/clusters.yaml"
[warp]
cli = "/opt/warp/warp-cli"
interface = "utun3"
trace_url = "https://www.cloudflare.com/cdn-cgi/trace"
[access]
cloudflared = "/usr/local/bin/cloudflared"
[doctor]
timeout = 5
""",
    )
    config = load_config(path, env={})
    assert config.team == "acme"
    assert config.catalog == "https://platform.acme.net/clusters.yaml"
    assert config.warp.cli == "/opt/warp/warp-cli"
    assert config.warp.interface == "utun3"
    assert config.doctor.timeout == 5.0
    assert config.access.cloudflared == "/usr/local/bin/cloudflared"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[warp]\ncli = "from-file"\n')
    env = {
        "ZTCTL_WARP_CLI": "from-env",
        "ZTCTL_WARP_INTERFACE": "wg9",
        "ZTCTL_TRACE_URL": "http://127.0.0.1:1/cdn-cgi/trace",
        "ZTCTL_CLOUDFLARED": "cf-env",
    }
    config = load_config(path, env=env)
    assert config.warp.cli == "from-env"
    assert config.warp.interface == "wg9"
    assert config.warp.trace_url == "http://127.0.0.1:1/cdn-cgi/trace"
    assert config.access.cloudflared == "cf-env"


def test_config_path_precedence(tmp_path: Path) -> None:
    assert config_path("/x/explicit.toml", {"ZTCTL_CONFIG": "/y/env.toml"}) == Path(
        "/x/explicit.toml"
    )
    assert config_path(None, {"ZTCTL_CONFIG": "/y/env.toml"}) == Path("/y/env.toml")
    assert config_path(None, {}).name == "config.toml"
    assert state_dir({"ZTCTL_STATE_DIR": str(tmp_path)}) == tmp_path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("team = ", "not valid TOML"),
        ("tema = 'acme'", "unknown key tema (did you mean 'team'?)"),
        ("[wrap]\ncli = 'x'", "unknown section [wrap] (did you mean 'warp'?)"),
        ("[warp]\nclli = 'x'", "unknown key warp.clli (did you mean 'cli'?)"),
        ("[doctor]\ntimeout = 'fast'", "doctor.timeout must be a number, got string"),
        ("[doctor]\ntimeout = -1", "doctor.timeout must be greater than 0"),
        ("team = 3", "team must be a string, got integer"),
        ("team = ''", "team must not be empty"),
        (b"\xff\xfe\x00binary", "not UTF-8 text"),
    ],
)
def test_bad_config_is_invalid_input(tmp_path: Path, text: str | bytes, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InvalidInput) as info:
        load_config(path, env={})
    assert info.value.exit_code == 3
    assert expected in " ".join([info.value.message, *info.value.details])
    assert str(path) in " ".join([info.value.message, *info.value.details])
    assert info.value.fix


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "tema = 'a'\n[warp]\nclli = 'x'\n[doctor]\ntimeout = 'x'\n")
    with pytest.raises(InvalidInput) as info:
        load_config(path, env={})
    assert "3 problems" in info.value.message
    assert len(info.value.details) == 3


def test_directory_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="is a directory"):
        load_config(tmp_path, env={})
    path = write(tmp_path, "team = 'a'")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user who can read mode-000 files (root)")
        with pytest.raises(InvalidInput, match="cannot read config"):
            load_config(path, env={})
    finally:
        path.chmod(0o600)


def test_a_config_over_the_cap_is_refused(tmp_path: Path) -> None:
    # Devices and FIFOs are refused the same way (tests/cli/test_config_command.py runs
    # those in a child process: before the fix they hung or ate all memory).
    path = write(tmp_path, b"#" * (1024 * 1024 + 1))
    with pytest.raises(InvalidInput) as info:
        load_config(path, env={})
    assert info.value.message == f"config {path} is larger than 1 MiB"
    assert info.value.fix == (
        "a config file is a few lines: point --config (or ZTCTL_CONFIG) at the right file"
    )


def test_a_config_of_exactly_the_cap_is_read(tmp_path: Path) -> None:
    body = b'team = "acme"\n'
    path = write(tmp_path, body + b"#" * (1024 * 1024 - len(body)))
    assert load_config(path, env={}).team == "acme"


def test_cloudflare_section_and_its_environment(tmp_path: Path) -> None:
    from ztctl.core.config import load_config

    path = tmp_path / "config.toml"
    path.write_text('[cloudflare]\naccount_id = "699d98642c564d2e855e9661899b7252"\n')
    config = load_config(path, {})
    assert config.cloudflare.account_id == "699d98642c564d2e855e9661899b7252"
    assert config.cloudflare.api_url == "https://api.cloudflare.com/client/v4"
    env = {"ZTCTL_CF_API_URL": "http://127.0.0.1:9/client/v4", "ZTCTL_CF_ACCOUNT_ID": "a" * 32}
    overridden = load_config(path, env)
    assert overridden.cloudflare.account_id == "a" * 32
    assert overridden.cloudflare.api_url == "http://127.0.0.1:9/client/v4"
    path.write_text('[cloudflare]\naccount = "x"\n')
    with pytest.raises(InvalidInput, match="account_id"):
        load_config(path, {})
