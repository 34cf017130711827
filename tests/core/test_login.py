"""`ztctl login` / `logout` core on the lab's stand-in warp-cli (every era) and cloudflared."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.access import AccessEnv, access_fixture, set_warp  # noqa: F401
from ztctl.adapters.warp import WarpError, WarpErrorKind
from ztctl.core import audit
from ztctl.core.catalog import load_catalog
from ztctl.core.config import load_config
from ztctl.core.login import LoginRequest, login, logout, remembered_tokens
from ztctl.errors import EXIT_AUTH_NEEDED, EXIT_FAILED, AuthNeeded

ERAS = ("2023", "2024", "2025", "2026")


def request(acc: AccessEnv, **overrides: object) -> LoginRequest:
    env = acc.env
    config = load_config(acc.lab.paths.config, env)
    catalog = load_catalog(str(acc.lab.paths.catalog), acc.state_dir, env)
    values: dict[str, object] = {
        "config": config,
        "catalog": catalog,
        "state_dir": acc.state_dir,
        "interactive": True,
        "env": env,
        "poll_interval": 0.05,
        "enrol_timeout": 10.0,
        "connect_timeout": 10.0,
    }
    values.update(overrides)
    return LoginRequest(**values)  # type: ignore[arg-type]


def statuses(result: object) -> dict[str, str]:
    return {
        (s.name if s.cluster is None else f"{s.name}:{s.cluster}"): s.status
        for s in result.steps  # type: ignore[attr-defined]
    }


@pytest.mark.parametrize("era", ERAS)
def test_unenrolled_device_is_enrolled_connected_and_gets_a_token(
    access: AccessEnv, era: str
) -> None:
    access.lab.set_many(f"warp.era={era}", "warp.registered=false", "warp.connected=false")
    events: list[tuple[str, str]] = []
    result = login(request(access), on_event=lambda kind, text: events.append((kind, text)))

    assert statuses(result) == {
        "warp-cli": "ok",
        "registration": "changed",
        "connection": "changed",
        "mode": "ok",
        "token:lab-sso": "changed",
    }
    state = access.lab.state().warp
    assert (state.registered, state.team, state.connected) == (True, "lab", True)
    assert result.ok and result.changed
    assert result.identity == "ada@lab.example"
    # The person was shown where to log in.
    assert any(k == "action" and "https://lab.cloudflareaccess.com/warp" in t for k, t in events)
    token = access.items()["lab-sso"]
    assert token.count(".") == 2
    assert remembered_tokens(access.state_dir) == ["lab-sso"]


def test_second_login_changes_nothing(access: AccessEnv) -> None:
    first = login(request(access))
    kept = access.items()
    index = (access.state_dir / "tokens.json").stat().st_mtime_ns
    second = login(request(access))
    assert first.changed
    assert not second.changed and second.ok
    assert set(statuses(second).values()) == {"ok"}
    assert access.items() == kept
    assert (access.state_dir / "tokens.json").stat().st_mtime_ns == index
    events = list(audit.read_events(access.state_dir, "login"))
    assert [e["changed"] for e in events][-1] == []


def test_token_never_lands_in_a_file_outside_the_keyring(access: AccessEnv) -> None:
    login(request(access))
    token = access.items()["lab-sso"]
    places = [access.state_dir, access.lab.paths.config, access.lab.paths.kubeconfig]
    for place in places:
        files = [place] if place.is_file() else [p for p in place.rglob("*") if p.is_file()]
        for path in files:
            assert token not in path.read_text(encoding="utf-8", errors="replace"), path


def test_wrong_team_is_explained_not_changed(access: AccessEnv) -> None:
    access.lab.set_many("warp.team=other")
    with pytest.raises(AuthNeeded) as caught:
        login(request(access))
    assert "'other'" in caught.value.message and "'lab'" in caught.value.message
    assert "registration delete" in caught.value.fix
    assert caught.value.exit_code == EXIT_AUTH_NEEDED
    assert access.lab.state().warp.team == "other"


def test_explicit_team_overrides_config_and_catalog(access: AccessEnv) -> None:
    with pytest.raises(AuthNeeded) as caught:
        login(request(access, team="elsewhere"))
    assert "'elsewhere'" in caught.value.message


@pytest.mark.parametrize(("era", "command"), [("2023", "set-mode warp"), ("2026", "mode warp")])
def test_proxy_mode_is_explained_with_the_eras_command(
    access: AccessEnv, era: str, command: str
) -> None:
    access.lab.set_many(f"warp.era={era}", "warp.mode=proxy")
    result = login(request(access))
    mode = next(s for s in result.steps if s.name == "mode")
    assert mode.status == "fail"
    assert "proxy" in mode.summary and "private networks" in mode.summary
    assert f"`warp-cli {command}`" in mode.fix
    assert not result.ok
    # It still did the rest: the token is there.
    assert "lab-sso" in access.items()
    assert access.lab.state().warp.mode == "proxy"  # explained, not changed behind your back


def test_daemon_down_names_the_fix(access: AccessEnv) -> None:
    access.lab.set_many("warp.daemon=off")
    with pytest.raises(WarpError) as caught:
        login(request(access))
    assert caught.value.reason is WarpErrorKind.NO_DAEMON
    assert caught.value.exit_code == EXIT_FAILED
    assert "warp-svc" in caught.value.fix


def test_no_input_prints_the_enrolment_url_and_changes_nothing(access: AccessEnv) -> None:
    access.lab.set_many("warp.registered=false", "warp.connected=false")
    with pytest.raises(AuthNeeded) as caught:
        login(request(access, interactive=False))
    assert "https://lab.cloudflareaccess.com/warp" in caught.value.message
    state = access.lab.state().warp
    assert not state.registered and state.pending_team is None


def test_no_input_without_a_token_names_the_app_and_opens_nothing(
    access: AccessEnv, tmp_path: Path
) -> None:
    from tests.support.access import invocations, recording_cloudflared

    access.extra["ZTCTL_CLOUDFLARED"] = str(recording_cloudflared(access.lab, tmp_path))
    with pytest.raises(AuthNeeded) as caught:
        login(request(access, interactive=False))
    assert access.lab.server in caught.value.message
    calls = invocations(tmp_path)
    assert calls and all("access token" in c for c in calls)
    assert "lab-sso" not in access.items()


def test_no_input_takes_a_token_cloudflared_already_has(access: AccessEnv) -> None:
    cached = access.mint()
    from ztctl.lab.cloudflared import app_token_path

    path = app_token_path(access.lab.dir, access.lab.server)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(cached)
    result = login(request(access, interactive=False))
    assert access.items()["lab-sso"] == cached
    assert result.tokens[0].source == "cloudflared"


def test_enrolment_that_nobody_finishes_times_out(access: AccessEnv) -> None:
    access.lab.set_many("warp.registered=false", "warp.connected=false")
    set_warp(access.lab, enroll="manual")
    with pytest.raises(AuthNeeded) as caught:
        login(request(access, enrol_timeout=0.3))
    assert "did not finish" in caught.value.message
    assert "registration token" in caught.value.fix


def test_expired_kept_token_is_replaced(access: AccessEnv) -> None:
    import time

    access.put("lab-sso", access.mint(now=time.time() - 7200))
    result = login(request(access))
    token = next(t for t in result.tokens if t.cluster == "lab-sso")
    assert token.changed and token.expires_at and token.expires_at > time.time()


def test_logout_removes_tokens_and_disconnects_on_request(access: AccessEnv) -> None:
    req = request(access)
    login(req)
    assert "lab-sso" in access.items()
    result = logout(
        access.state_dir, req.catalog, disconnect=True, config=req.config, env=access.env
    )
    assert result.removed == ("lab-sso",) and result.disconnected is True
    assert "lab-sso" not in access.items()
    assert not access.lab.state().warp.connected
    again = logout(access.state_dir, req.catalog)
    assert again.removed == () and not again.changed
    events = [e["event"] for e in audit.read_events(access.state_dir)]
    assert events[-3:] == ["login", "logout", "logout"]


def test_the_team_comes_from_warps_mdm_file_when_nothing_else_names_it(
    tmp_path, monkeypatch
) -> None:
    """A laptop MDM-enrolled but not yet registered: the MDM file's organization is the team."""
    import sys

    from ztctl.adapters import mdm
    from ztctl.core.login import discover_team

    mdm_file = tmp_path / "mdm.xml"
    # The shape of the official Linux example (a bare <dict> with organization).
    mdm_file.write_text("<dict>\n  <key>organization</key>\n  <string>acme</string>\n</dict>\n")
    this_os = next(prefix for prefix in mdm.MDM_PATHS if sys.platform.startswith(prefix))
    monkeypatch.setitem(mdm.MDM_PATHS, this_os, (str(mdm_file),))

    class Unregistered:
        def registration(self) -> None:
            return None

    assert discover_team(Unregistered(), {}) == ("acme", "mdm")  # type: ignore[arg-type]
    mdm_file.unlink()
    assert discover_team(Unregistered(), {}) is None  # type: ignore[arg-type]


def test_the_token_index_is_read_bounded(tmp_path: Path) -> None:
    from ztctl.core.login import TOKEN_INDEX

    index = tmp_path / TOKEN_INDEX
    index.write_text(json.dumps({"clusters": ["a", "b"]}))
    assert remembered_tokens(tmp_path) == ["a", "b"]
    index.write_text(json.dumps({"clusters": ["a"]}) + " " * (1024 * 1024))  # over 1 MiB
    assert remembered_tokens(tmp_path) == []
    index.unlink()
    os.mkfifo(index)  # refused, not waited on
    assert remembered_tokens(tmp_path) == []
