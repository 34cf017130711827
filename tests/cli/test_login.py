"""`ztctl login` / `logout` end to end: subprocesses on the lab, the isolated keyring."""

from __future__ import annotations

import json

import pytest

from tests.support.access import AccessEnv, access_fixture  # noqa: F401


def test_no_tty_implies_no_input_and_prints_the_url(access: AccessEnv) -> None:
    access.lab.set_many("warp.registered=false", "warp.connected=false")
    result = access.run(["login"], input="")
    assert result.returncode == 4
    assert "https://lab.cloudflareaccess.com/warp" in result.stderr
    assert "fix:" in result.stderr
    assert not access.lab.state().warp.registered


def test_no_input_error_as_json(access: AccessEnv) -> None:
    access.lab.set_many("warp.registered=false")
    result = access.run(["--no-input", "login", "--json"], input="")
    assert result.returncode == 4
    error = json.loads(result.stdout)["error"]
    assert error["code"] == 4 and "cloudflareaccess.com/warp" in error["message"]


def test_login_twice_says_nothing_changed(access: AccessEnv) -> None:
    from ztctl.lab.cloudflared import app_token_path

    path = app_token_path(access.lab.dir, access.lab.server)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(access.mint())
    access.lab.set_many("warp.connected=false")
    first = access.run(["login"], input="")
    assert first.returncode == 0, first.stderr
    assert "Logged in to team 'lab' as ada@lab.example." in first.stdout
    second = access.run(["login"], input="")
    assert second.returncode == 0, second.stderr
    assert "nothing changed" in second.stdout
    as_json = json.loads(access.run(["login", "--json"], input="").stdout)
    assert as_json["changed"] is False and as_json["ok"] is True
    assert as_json["identity"] == "ada@lab.example"


@pytest.mark.parametrize("era", ["2023", "2026"])
def test_wrong_mode_exits_1_with_the_fix(access: AccessEnv, era: str) -> None:
    access.put("lab-sso", access.mint())
    access.lab.set_many(f"warp.era={era}", "warp.mode=proxy")
    result = access.run(["login"], input="")
    assert result.returncode == 1
    assert "FAIL" in result.stdout and "mode warp" in result.stdout


def test_a_token_that_needs_a_person_does_not_hide_a_wrong_mode(access: AccessEnv) -> None:
    # No token anywhere and no TTY: exit 4 for the token, but the proxy-mode problem found
    # before it is still reported, with its fix.
    access.lab.set_many("warp.mode=proxy")
    result = access.run(["--no-input", "login"], input="")
    assert result.returncode == 4, result.stderr
    assert "also: WARP is in" in result.stderr
    assert "warp-cli mode warp" in result.stderr
    as_json = json.loads(access.run(["--no-input", "login", "--json"], input="").stdout)
    assert any("warp-cli mode warp" in d for d in as_json["error"]["details"])


def test_daemon_down(access: AccessEnv) -> None:
    access.lab.set_many("warp.daemon=off")
    result = access.run(["login"], input="")
    assert result.returncode == 1
    assert "daemon is not running" in result.stderr


def test_keyring_without_backend_is_exit_4_never_a_file(access: AccessEnv) -> None:
    from ztctl.lab.cloudflared import app_token_path

    path = app_token_path(access.lab.dir, access.lab.server)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    token = access.mint()
    path.write_text(token)
    access.fault("no-backend")
    result = access.run(["login"], input="")
    assert result.returncode == 4
    assert "no usable OS keyring" in result.stderr and "plain files" in result.stderr
    for file in access.state_dir.rglob("*"):
        if file.is_file():
            assert token not in file.read_text(errors="replace")


def test_too_large_item_is_explained(access: AccessEnv) -> None:
    from ztctl.lab.cloudflared import app_token_path

    path = app_token_path(access.lab.dir, access.lab.server)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(access.mint())
    access.fault("max-size 100")
    result = access.run(["login"], input="")
    assert result.returncode == 4
    assert "larger than the keyring backend" in result.stderr


def test_logout_removes_tokens_and_is_audited(access: AccessEnv) -> None:
    access.put("lab-sso", access.mint())
    result = access.run(["logout", "--disconnect", "--json"])
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["removed"] == ["lab-sso"] and doc["disconnected"] is True
    assert "lab-sso" not in access.items()
    assert not access.lab.state().warp.connected
    again = access.run(["logout"])
    assert "No ztctl tokens" in again.stdout
    events = [
        json.loads(line)["event"]
        for line in (access.state_dir / "audit.jsonl").read_text().splitlines()
    ]
    assert events == ["logout", "logout"]


def _bare_config(access: AccessEnv, tmp_path) -> tuple[object, str]:
    """The lab's config without team and catalog: a fresh laptop that has only the tools."""
    import shutil

    from ztctl.core.config_edit import unset_value

    config = tmp_path / "fresh.toml"
    shutil.copy(access.lab.env["ZTCTL_CONFIG"], config)
    unset_value(config, "team")
    unset_value(config, "catalog")
    access.extra["ZTCTL_CONFIG"] = str(config)
    return config, str(access.lab.dir / "catalog.yaml")


def _logged_in_before(access: AccessEnv) -> None:
    from ztctl.lab.cloudflared import app_token_path

    path = app_token_path(access.lab.dir, access.lab.server)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(access.mint())


def test_login_saves_team_and_catalog_once_it_succeeds(access: AccessEnv, tmp_path) -> None:
    from ztctl.core.config import load_config

    config, catalog = _bare_config(access, tmp_path)
    _logged_in_before(access)
    before = config.read_text()
    assert "# Written by `ztctl lab up`" in before
    result = access.run(["login", "--team", "lab", "--catalog", catalog, "--json"], input="")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["saved"] == {"path": str(config), "keys": ["team", "catalog"]}
    saved = load_config(config)
    assert (saved.team, saved.catalog) == ("lab", catalog)
    assert "# Written by `ztctl lab up`" in config.read_text()  # comments kept
    # The second login (a second terminal, tomorrow) needs no options and saves nothing.
    again = access.run(["login", "--json"], input="")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["saved"] is None


def test_login_saves_nothing_when_it_fails(access: AccessEnv, tmp_path) -> None:
    config, catalog = _bare_config(access, tmp_path)
    before = config.read_text()
    access.lab.set_many("warp.registered=false")
    result = access.run(["login", "--team", "lab", "--catalog", catalog], input="")
    assert result.returncode == 4
    assert config.read_text() == before


def test_login_takes_the_team_from_warps_registration(access: AccessEnv, tmp_path) -> None:
    from ztctl.core.config import load_config

    config, _catalog = _bare_config(access, tmp_path)
    # No team, no catalog: a laptop whose WARP the company's MDM already enrolled.
    result = access.run(["login", "--json"], input="")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["team"] == "lab" and document["teamSource"] == "warp"
    assert document["saved"]["keys"] == ["team"]
    assert load_config(config).team == "lab"


def test_a_catalog_from_the_environment_is_not_saved(access: AccessEnv, tmp_path) -> None:
    from ztctl.core.config import load_config

    config, catalog = _bare_config(access, tmp_path)
    _logged_in_before(access)
    access.extra["ZTCTL_CATALOG"] = catalog
    result = access.run(["login", "--json"], input="")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["teamSource"] == "catalog" and document["saved"] is None
    assert load_config(config).catalog is None


def test_login_with_no_team_anywhere_says_how_to_give_one(access: AccessEnv, tmp_path) -> None:
    _config, _catalog = _bare_config(access, tmp_path)
    access.lab.set_many("warp.registered=false")
    result = access.run(["login"], input="")
    assert result.returncode == 3
    assert "no Zero Trust team is configured" in result.stderr
    assert "--team TEAM" in result.stderr


def test_login_refuses_a_bad_team_name_before_doing_anything(access: AccessEnv, tmp_path) -> None:
    config, _ = _bare_config(access, tmp_path)
    before = config.read_text()
    access.lab.set_many("warp.connected=false")
    result = access.run(["login", "--team", "https://acme.cloudflareaccess.com"], input="")
    assert result.returncode == 3
    assert "not a Zero Trust team name" in result.stderr
    assert not access.lab.state().warp.connected
    assert config.read_text() == before


def test_headless_login_still_connects_warp_and_names_the_fix(access: AccessEnv) -> None:
    """No OS keyring (a container, WSL, a server): WARP is enrolled and connected anyway;
    only the Access-token cluster reports the keyring, with a fix the machine can run."""
    from ztctl.lab.cloudflared import app_token_path

    path = app_token_path(access.lab.dir, access.lab.server)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(access.mint())
    access.lab.set_many("warp.connected=false")
    access.fault("no-backend")
    result = access.run(["login"], input="")
    assert result.returncode == 4
    assert "no usable OS keyring" in result.stderr
    assert "dbus-run-session" in result.stderr and "gnome-keyring-daemon --unlock" in result.stderr
    assert "keyring --list-backends" not in result.stderr  # not a command the install provides
    assert access.lab.state().warp.connected


def test_logout_without_a_keyring_and_nothing_to_remove_exits_0(access: AccessEnv) -> None:
    access.fault("no-backend")
    result = access.run(["logout", "--json"])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["removed"] == []
