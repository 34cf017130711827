"""Config (docs/configuration.md): defaults, environment overrides, and every kind of bad file."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pytest

from ztctl.core.config import SCHEMA, config_path, load_config, state_dir
from ztctl.core.config_edit import parse_value, set_values
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
        ("[doctor]\ntimeout = -1", "doctor.timeout must be from 0.1 to 600 seconds, got -1"),
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


# -- every key's rule, from the schema ----------------------------------------------------
# Values each key must refuse, with what the message says. The table is the schema: a key
# added to it without rows here fails test_the_table_covers_the_schema.
BAD: dict[str, list[tuple[Any, str]]] = {
    "team": [
        ("not a team", "is not a Zero Trust team name"),
        ("acme.cloudflareaccess.com", "is not a Zero Trust team name"),
        ("-acme", "is not a Zero Trust team name"),
        ("a" * 64, "is not a Zero Trust team name"),
        (3, "team must be a string, got integer"),
        ("  ", "team must not be empty"),
    ],
    "catalog": [
        ("http://platform.example/c.yaml", "is not https"),
        ("https://alice:hunter2@platform.example/c.yaml", "carries a user name or password"),
        ("https://alice@platform.example/c.yaml", "carries a user name or password"),
        ("https://alice:hunter2@[::1/c.yaml", "is malformed"),
        ("https:///c.yaml", "has no host"),
        ("", "catalog must not be empty"),
    ],
    "warp.cli": [("", "must not be empty"), (1, "warp.cli must be a string")],
    "warp.interface": [(" ", "must not be empty"), (True, "warp.interface must be a string")],
    "warp.trace_url": [
        ("", "must not be empty"),
        (1.5, "warp.trace_url must be a string"),
        ("not a url", "is not an https URL"),
        ("ftp://x", "is not an https URL"),
        ("file:///etc/passwd", "is not an https URL"),
        ("http://www.cloudflare.com/cdn-cgi/trace", "is not an https URL"),
        ("http://localhost.evil.example/t", "is not an https URL"),
        ("https:///cdn-cgi/trace", "is not an https URL"),
        ("http://[::1", "is malformed"),
        ("https://h:99999/t", "is malformed"),
        ("https://alice:hunter2@127.0.0.1:1/t", "carries a user name or password"),
        ("http://alice:hunter2@[::1/t", "is malformed"),
    ],
    "access.cloudflared": [("", "must not be empty"), (7, "access.cloudflared must be a string")],
    "doctor.timeout": [
        (math.nan, "doctor.timeout must be a finite number of seconds, got nan"),
        (math.inf, "doctor.timeout must be a finite number of seconds, got inf"),
        (-math.inf, "must be a finite number"),
        (1e12, "doctor.timeout must be from 0.1 to 600 seconds, got 1e+12"),
        (100000, "must be from 0.1 to 600 seconds, got 100000"),
        (600.01, "must be from 0.1 to 600 seconds"),
        (600.0001, "must be from 0.1 to 600 seconds, got 600.0001"),  # as given, not "600"
        (0.0999999, "got 0.0999999"),
        (0.099, "must be from 0.1 to 600 seconds"),
        (0, "must be from 0.1 to 600 seconds"),
        (-1, "must be from 0.1 to 600 seconds"),
        ("fast", "doctor.timeout must be a number, got string"),
        (True, "doctor.timeout must be a number, got boolean"),
    ],
    "cloudflare.account_id": [
        ("zzz", "is not an account id (32 hex characters)"),
        ("a" * 31, "32 hex characters"),
        ("a" * 33, "32 hex characters"),
        ("g" * 32, "32 hex characters"),
    ],
    "cloudflare.api_url": [
        ("http://192.0.2.2:18080/client/v4", "is not an https URL"),
        ("http://localhost.evil.example/client/v4", "is not an https URL"),
        ("ftp://api.cloudflare.com/client/v4", "is not an https URL"),
        ("https://u:hunter2@api.cloudflare.com/client/v4", "carries a user name or password"),
        ("http://[::1", "is malformed"),
    ],
}
# Values each key must accept, the edges of its rule among them.
GOOD: dict[str, list[Any]] = {
    "team": ["acme", "a", "x-1", "a" * 63],
    "catalog": [
        "https://platform.example/c.yaml",
        "https://b.example/c.yaml?X-Amz-Credential=A%2F1&X-Amz-Signature=abc",  # presigned
        "/etc/ztctl/c.yaml",
        "~/c.yaml",
        "c.yaml",
    ],
    "warp.cli": ["warp-cli", "/opt/warp/warp-cli"],
    "warp.interface": ["utun3"],
    "warp.trace_url": [
        "http://127.0.0.1:1/cdn-cgi/trace",  # the lab's edge
        "http://[::1]:9/cdn-cgi/trace",
        "http://localhost:9/cdn-cgi/trace",
        "https://www.cloudflare.com/cdn-cgi/trace",
        "https://trace.example/t?sig=abc",  # a credential in the query: allowed, shown as ***
    ],
    "access.cloudflared": ["cloudflared"],
    "doctor.timeout": [0.1, 600, 3, 2.5],
    "cloudflare.account_id": ["699d98642c564d2e855e9661899b7252", "A" * 32],
    "cloudflare.api_url": [
        "https://api.cloudflare.com/client/v4",
        "http://127.0.0.1:9/client/v4",
        "http://[::1]:9/client/v4",
        "http://localhost:9/client/v4",
    ],
}


def test_the_table_covers_the_schema() -> None:
    names = [key.name for key in SCHEMA]
    assert sorted(BAD) == sorted(names)
    assert sorted(GOOD) == sorted(names)


def toml_for(key: str, value: Any) -> str:
    import tomlkit

    section, _, name = key.rpartition(".")
    document = tomlkit.document()
    table: Any = document
    if section:
        document.add(section, tomlkit.table())
        table = document[section]
    table[name] = value
    return document.as_string()


def as_typed(value: Any) -> str:
    """``value`` as a user types it after ``ztctl config set KEY``."""
    return repr(value) if isinstance(value, float) else str(value)


SCHEMA_KIND = {key.name: key.kind for key in SCHEMA}
BAD_ROWS = [(key, value, said) for key, rows in BAD.items() for value, said in rows]


@pytest.mark.parametrize(("key", "value", "said"), BAD_ROWS)
def test_a_bad_value_in_the_file_is_exit_3_naming_file_key_and_fix(
    tmp_path: Path, key: str, value: Any, said: str
) -> None:
    path = write(tmp_path, toml_for(key, value))
    with pytest.raises(InvalidInput) as info:
        load_config(path, env={})
    error = info.value
    assert error.exit_code == 3
    assert error.message.startswith(f"{path}: ")
    assert key.rpartition(".")[0] in error.message and said in error.message
    assert "config set" in error.fix and str(path) in error.fix
    assert "hunter2" not in f"{error.message} {error.fix} {error.details}"


# On the command line every value is text: a wrong TOML type cannot be typed there.
TYPED_ROWS = [
    (key, value, said)
    for key, value, said in BAD_ROWS
    if not isinstance(value, bool) and (isinstance(value, str) or SCHEMA_KIND[key] is not str)
]


@pytest.mark.parametrize(("key", "value", "said"), TYPED_ROWS)
def test_config_set_refuses_what_the_loader_refuses(
    tmp_path: Path, key: str, value: Any, said: str
) -> None:
    path = write(tmp_path, "# mine\n")
    text = as_typed(value)
    with pytest.raises(InvalidInput) as info:
        typed = parse_value(key, text)
        set_values(path, {key: typed})
    error = info.value
    assert error.exit_code == 3
    assert said.split(", got")[0] in error.message
    assert "nothing was written" in error.fix
    assert "hunter2" not in f"{error.message} {error.fix}"
    assert path.read_text() == "# mine\n"


@pytest.mark.parametrize(
    ("key", "value"), [(key, value) for key, values in GOOD.items() for value in values]
)
def test_good_values_pass_both_the_loader_and_config_set(
    tmp_path: Path, key: str, value: Any
) -> None:
    path = write(tmp_path, toml_for(key, value))
    config = load_config(path, env={})
    section, _, name = key.rpartition(".")
    holder = getattr(config, section) if section else config
    assert getattr(holder, name) == value
    path.unlink()
    assert set_values(path, {key: parse_value(key, as_typed(value))}) is True
    holder = getattr(load_config(path, env={}), section) if section else load_config(path, {})
    assert getattr(holder, name) == value


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("ZTCTL_CF_API_URL", "http://192.0.2.2:18080/client/v4", "is not an https URL"),
        ("ZTCTL_CF_API_URL", "https://u:hunter2@api.example/v4", "user name or password"),
        ("ZTCTL_CF_ACCOUNT_ID", "zzz", "32 hex characters"),
        ("ZTCTL_WARP_CLI", "  ", "warp.cli must not be empty"),
        ("ZTCTL_TRACE_URL", "http://[::1", "is malformed"),
        ("ZTCTL_TRACE_URL", "https://u:hunter2@h/t", "user name or password"),
    ],
)
def test_a_bad_value_in_the_environment_names_the_variable(
    tmp_path: Path, variable: str, value: str, said: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        load_config(tmp_path / "absent.toml", env={variable: value})
    assert info.value.exit_code == 3
    assert info.value.message.startswith(f"{variable}: ") and said in info.value.message
    assert info.value.fix.endswith(f": fix {variable}, or unset it")
    assert "hunter2" not in info.value.message + info.value.fix


def test_several_bad_values_each_come_with_their_fix(tmp_path: Path) -> None:
    path = write(tmp_path, "team = 'a b'\n[doctor]\ntimeout = nan\n")
    with pytest.raises(InvalidInput) as info:
        load_config(path, env={})
    assert info.value.message == f"config {path} has 2 problems"
    assert len(info.value.details) == 2
    assert "(e.g. acme): edit" in info.value.details[0]
    assert "`ztctl config set team VALUE`" in info.value.details[0]
    assert "give seconds from 0.1 to 600" in info.value.details[1]


def test_set_and_unset_may_fix_one_problem_at_a_time(tmp_path: Path) -> None:
    from ztctl.core.config_edit import unset_value

    path = write(tmp_path, "team = 'a b'\n[doctor]\ntimeout = nan\n")
    assert set_values(path, {"doctor.timeout": parse_value("doctor.timeout", "5")})
    assert "team" in path.read_text()  # still the user's to fix
    assert unset_value(path, "team")
    assert load_config(path, env={}).doctor.timeout == 5.0
