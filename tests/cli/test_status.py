"""`ztctl status` on the lab."""

from __future__ import annotations

import json

from tests.support.access import AccessEnv, access_fixture  # noqa: F401


def test_status_json_when_logged_in(access: AccessEnv) -> None:
    access.put("lab-sso", access.mint())
    result = access.run(["status", "--json"])
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schemaVersion"] == 1 and doc["team"] == "lab"
    assert doc["warp"]["registered"] is True and doc["warp"]["organization"] == "lab"
    assert doc["warp"]["state"] == "Connected" and doc["warp"]["routesPrivate"] is True
    assert doc["identity"] == "ada@lab.example"
    assert doc["tokens"][0]["cluster"] == "lab-sso" and doc["tokens"][0]["valid"] is True
    assert doc["currentContext"] == "lab"
    assert doc["breakGlass"] == []
    assert doc["loginNeeded"] is False and doc["fix"] is None


def test_status_text_shows_local_time_and_how_far_off(access: AccessEnv) -> None:
    import re

    access.put("lab-sso", access.mint())
    result = access.run(["status"], env={"TZ": "Europe/Paris"})
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("Token lab-sso"))
    assert re.search(r"until \d\d:\d\d:\d\d CE[S]?T \(in \d+(h|m)", line) or re.search(
        r"until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d CE[S]?T \(in ", line
    ), line


def test_status_text_when_not_enrolled_and_no_token(access: AccessEnv) -> None:
    access.lab.set_many("warp.registered=false", "warp.connected=false")
    result = access.run(["status"])
    assert result.returncode == 4, result.stderr  # like `gh auth status`: login needed
    assert "not enrolled: run `ztctl login`" in result.stdout
    assert "Token lab-sso: none" in result.stdout
    assert "Login:" in result.stdout and "fix: run `ztctl login`" in result.stdout
    doc = json.loads(access.run(["status", "--json"]).stdout)
    assert doc["loginNeeded"] is True and doc["fix"] == "run `ztctl login`"
    assert "this device is not enrolled in Zero Trust" in doc["loginReasons"]


def test_status_with_the_daemon_down_still_reports(access: AccessEnv) -> None:
    access.lab.set_many("warp.daemon=off")
    doc = json.loads(access.run(["status", "--json"]).stdout)
    assert "daemon is not running" in doc["warp"]["error"]["message"]
    assert doc["team"] == "lab" and doc["currentContext"] == "lab"


def test_status_shows_an_expired_token(access: AccessEnv) -> None:
    import time

    access.put("lab-sso", access.mint(now=time.time() - 7200))
    result = access.run(["status", "--json"])
    assert result.returncode == 4
    doc = json.loads(result.stdout)
    assert doc["tokens"][0]["valid"] is False
    assert "expired" in doc["tokens"][0]["problem"]
    assert doc["identity"] is None
