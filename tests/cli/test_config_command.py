"""`ztctl config show|path|get|set|unset`: validated, comment-keeping, atomic edits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ZTCTL = [sys.executable, "-m", "ztctl"]

ORIGINAL = """\
# Written by hand: keep this comment.
team = "acme"  # the team

[warp]
# which warp-cli
cli = "warp-cli"
"""


def run(config: Path, *args: str, extra: dict[str, str] | None = None):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(config.parent),
        "ZTCTL_CONFIG": str(config),
        **(extra or {}),
    }
    return subprocess.run(
        [*ZTCTL, "config", *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(ORIGINAL)
    return path


def test_set_keeps_comments_and_adds_sections(config: Path) -> None:
    assert run(config, "set", "doctor.timeout", "5").returncode == 0
    assert run(config, "set", "warp.interface", "utun").returncode == 0
    text = config.read_text()
    assert text.startswith(ORIGINAL.rstrip("\n"))
    assert "# which warp-cli" in text and "# the team" in text
    assert 'interface = "utun"' in text
    assert "[doctor]\ntimeout = 5" in text
    assert run(config, "get", "doctor.timeout").stdout == "5\n"
    assert run(config, "get", "warp.interface").stdout == "utun\n"


def test_set_the_same_value_writes_nothing(config: Path) -> None:
    before = config.stat().st_mtime_ns
    result = run(config, "set", "team", "acme", "--json")
    assert json.loads(result.stdout)["changed"] is False
    assert config.stat().st_mtime_ns == before


def test_unknown_key_is_exit_3_with_the_closest_key(config: Path) -> None:
    result = run(config, "set", "warp.clii", "x")
    assert result.returncode == 3
    assert "unknown config key 'warp.clii' (did you mean 'warp.cli'?)" in result.stderr
    assert "fix: valid keys: team, catalog, warp.cli" in result.stderr
    assert config.read_text() == ORIGINAL
    assert run(config, "get", "tem").returncode == 3


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("doctor.timeout", "soon", "doctor.timeout must be a number"),
        ("doctor.timeout", "0", "doctor.timeout must be from 0.1 to 600 seconds, got 0"),
        ("doctor.timeout", "nan", "finite number"),
        ("doctor.timeout", "1e12", "doctor.timeout must be from 0.1 to 600 seconds, got 1e+12"),
        ("doctor.timeout", "100000", "from 0.1 to 600 seconds, got 100000"),
        ("cloudflare.api_url", "http://192.0.2.2:18080/client/v4", "is not an https URL"),
        ("cloudflare.account_id", "zzz", "is not an account id (32 hex characters)"),
        ("team", "not a team", "not a Zero Trust team name"),
        ("team", "acme.cloudflareaccess.com", "not a Zero Trust team name"),
        ("catalog", "http://example.test/c.yaml", "is not https"),
        ("warp.cli", "  ", "must not be empty"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_written(
    config: Path, key: str, value: str, message: str
) -> None:
    result = run(config, "set", "--", key, value)
    assert result.returncode == 3, result.stderr
    assert message in result.stderr
    assert "fix:" in result.stderr
    assert config.read_text() == ORIGINAL


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["doctor.timeout", "-1"], "from 0.1 to 600 seconds, got -1"),
        (["doctor.timeout", "-0.5", "--json"], "from 0.1 to 600 seconds, got -0.5"),
        (["doctor.timeout", "-inf"], "finite number of seconds, got -inf"),
        (["doctor.timeout", "600.0001"], "from 0.1 to 600 seconds, got 600.0001"),
        (["team", "--bogus"], "'--bogus' is not a Zero Trust team name"),
        (["warp.trace_url", "http://[::1"], "is malformed"),
        (["warp.trace_url", "file:///etc/passwd"], "is not an https URL"),
    ],
)
def test_a_value_starting_with_a_dash_is_a_value_refused_by_its_rule(
    config: Path, args: list[str], message: str
) -> None:
    """No `--` needed: `config set doctor.timeout -1` is exit 3 by the rule, not a usage
    error about an option -1."""
    result = run(config, "set", *args)
    assert result.returncode == 3, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert message in output
    assert "No such option" not in output
    if "--json" in args:
        assert json.loads(result.stdout)["error"]["code"] == 3
    assert config.read_text() == ORIGINAL


def test_a_precise_value_is_shown_as_given(config: Path) -> None:
    result = run(config, "set", "doctor.timeout", "3.1234567")
    assert result.returncode == 0, result.stderr
    assert "doctor.timeout = 3.1234567 in" in result.stderr
    assert run(config, "get", "doctor.timeout").stdout == "3.1234567\n"


def test_unset_removes_the_key_and_keeps_the_rest(config: Path) -> None:
    result = run(config, "unset", "team")
    assert result.returncode == 0
    assert "team" not in config.read_text().replace("# Written", "")
    assert "# which warp-cli" in config.read_text()
    assert run(config, "get", "team").returncode == 1
    again = run(config, "unset", "team", "--json")
    assert again.returncode == 0
    assert json.loads(again.stdout)["changed"] is False


def test_unset_clears_a_stale_key_the_loader_refuses(config: Path) -> None:
    config.write_text(ORIGINAL + "colour = true\n")
    assert run(config, "show").returncode == 3
    assert run(config, "unset", "warp.colour").returncode == 0
    assert run(config, "show").returncode == 0


def test_show_lists_every_key_with_its_source(config: Path) -> None:
    result = run(config, "show", "--json", extra={"ZTCTL_CLOUDFLARED": "/opt/cf"})
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    rows = {s["key"]: (s["value"], s["source"]) for s in document["settings"]}
    assert rows["team"] == ("acme", "file")
    assert rows["warp.cli"] == ("warp-cli", "file")
    assert rows["access.cloudflared"] == ("/opt/cf", "env")
    assert rows["doctor.timeout"] == (3.0, "default")
    assert document["path"] == str(config)


def test_path_and_set_create_a_missing_file_privately(tmp_path: Path) -> None:
    config = tmp_path / "new" / "dir" / "config.toml"
    assert run(config, "path").stdout == f"{config}\n"
    assert run(config, "set", "catalog", "https://platform.example/c.yaml").returncode == 0
    assert config.read_text() == 'catalog = "https://platform.example/c.yaml"\n'
    assert config.stat().st_mode & 0o777 == 0o600


def test_broken_toml_is_exit_3_and_left_alone(config: Path) -> None:
    config.write_text("team = \n")
    result = run(config, "set", "team", "acme")
    assert result.returncode == 3
    assert "not valid TOML" in result.stderr
    assert config.read_text() == "team = \n"


def _memory_cap() -> None:  # in the child: a regression reads /dev/zero into 1 GiB, not all RAM
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.mark.parametrize(
    ("target", "what"),
    [("fifo", "a FIFO (named pipe)"), ("/dev/zero", "a character device")],
)
@pytest.mark.parametrize(
    "command",
    [
        ("config", "set", "team", "acme"),
        ("config", "get", "team"),
        ("config", "show"),
        ("clusters",),
    ],
    ids=["set", "get", "show", "clusters"],
)
def test_a_config_that_is_not_a_file_is_exit_3_at_once(
    tmp_path: Path, target: str, what: str, command: tuple[str, ...]
) -> None:
    # Before the fix a FIFO blocked ztctl for ever and /dev/zero was read until memory ran out.
    path = Path(target) if target.startswith("/") else tmp_path / target
    if target == "fifo":
        os.mkfifo(path)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    result = subprocess.run(
        [*ZTCTL, "--config", str(path), *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
        preexec_fn=_memory_cap,
    )
    assert result.returncode == 3, result.stderr
    assert f"error: config {path} is {what}, not a regular file\n" in result.stderr
    assert "fix: point --config (or ZTCTL_CONFIG) at a TOML file" in result.stderr


def test_set_through_a_symlink_keeps_the_link(tmp_path: Path, config: Path) -> None:
    link = tmp_path / "link.toml"
    link.symlink_to(config)
    assert run(link, "set", "team", "other").returncode == 0
    assert link.is_symlink()
    assert 'team = "other"' in config.read_text()


PASSWORD_URL = "https://alice:hunter2@platform.example/c.yaml"


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_a_password_in_a_url_is_refused_and_never_echoed(
    config: Path, json_flag: list[str]
) -> None:
    result = run(config, "set", "catalog", PASSWORD_URL, *json_flag)
    assert result.returncode == 3
    assert "hunter2" not in result.stdout + result.stderr
    assert "alice:***@platform.example" in result.stdout + result.stderr
    assert "carries a user name or password" in result.stdout + result.stderr
    assert config.read_text() == ORIGINAL


@pytest.mark.parametrize("args", [["show"], ["show", "--json"], ["get", "catalog"]])
def test_a_password_already_in_the_file_is_never_printed(config: Path, args: list[str]) -> None:
    config.write_text(f'catalog = "{PASSWORD_URL}"\n' + ORIGINAL)
    result = run(config, *args)
    assert result.returncode == 3  # the loader refuses it: every command would
    assert "hunter2" not in result.stdout + result.stderr
    assert "alice:***@" in result.stdout + result.stderr


@pytest.mark.parametrize("args", [["show"], ["show", "--json"], ["get", "warp.trace_url"]])
def test_a_password_in_the_trace_url_is_refused_and_never_printed(
    config: Path, args: list[str]
) -> None:
    trace = "https://bob:hunter2@trace.example/cdn-cgi/trace"
    config.write_text(ORIGINAL + f'trace_url = "{trace}"\n')
    result = run(config, *args)
    assert result.returncode == 3  # the same rule as catalog and cloudflare.api_url
    assert "hunter2" not in result.stdout + result.stderr
    assert "bob:***@trace.example" in result.stdout + result.stderr
    assert "carries a user name or password" in result.stdout + result.stderr


PRESIGNED = (
    "https://b.example/c.yaml?X-Amz-Credential=hunter2cred&X-Amz-Signature=hunter2sig"
    "&token=hunter2tok&ref=main"
)
PRESIGNED_SHOWN = (
    "https://b.example/c.yaml?X-Amz-Credential=***&X-Amz-Signature=***&token=***&ref=main"
)


@pytest.mark.parametrize(
    "args",
    [
        ["set", "catalog", PRESIGNED],
        ["set", "catalog", PRESIGNED, "--json"],
        ["set", "warp.trace_url", PRESIGNED],
        ["set", "warp.trace_url", PRESIGNED, "--json"],
    ],
)
def test_a_presigned_url_is_accepted_and_shown_without_its_signature(
    config: Path, args: list[str]
) -> None:
    result = run(config, *args)
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    assert PRESIGNED_SHOWN in result.stdout + result.stderr
    assert PRESIGNED in config.read_text()  # the file keeps the real URL: ztctl fetches it
    key = args[1]
    for more in (["show"], ["show", "--json"], ["get", key], ["get", key, "--json"]):
        shown = run(config, *more)
        assert shown.returncode == 0, shown.stderr
        assert "hunter2" not in shown.stdout + shown.stderr
        assert PRESIGNED_SHOWN in shown.stdout


@pytest.mark.parametrize(
    "command", [["doctor", "--no-server"], ["probe", "lab"], ["config", "show"]]
)
def test_a_hand_written_nan_timeout_is_exit_3_naming_the_fix(
    config: Path, command: list[str]
) -> None:
    config.write_text(ORIGINAL + "[doctor]\ntimeout = nan\n")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(config.parent),
        "ZTCTL_CONFIG": str(config),
        "ZTCTL_STATE_DIR": str(config.parent / "state"),
    }
    result = subprocess.run(
        [*ZTCTL, *command], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 3, result.stderr
    assert f"{config}: doctor.timeout must be a finite number of seconds, got nan" in result.stderr
    assert "give seconds from 0.1 to 600" in result.stderr
    assert "internal error" not in result.stderr
