"""Reaping, the watchdog and ending sessions, with real processes standing in for a route."""

from __future__ import annotations

import errno
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tests.core.breakglass.helpers import make_session, ssh_route, wait_for
from ztctl.adapters import routes_bg
from ztctl.core import audit
from ztctl.core.breakglass.lifecycle import close_route, end, reap
from ztctl.core.breakglass.processes import spawn_watchdog, watchdog_alive
from ztctl.core.breakglass.session import STATE_OPENING, VpnState, read_session
from ztctl.core.breakglass.store import AuditFailed, record, write_session
from ztctl.core.breakglass.trusted import CatalogRoutes
from ztctl.core.model import BreakGlass, VpnRoute


def test_reap_closes_an_expired_route_and_audits_it(
    tmp_path: Path, route_process: tuple[subprocess.Popen[bytes], str]
) -> None:
    proc, control = route_process
    make_session(tmp_path, deadline_in=-1, route=ssh_route(proc, control))
    active = make_session(tmp_path, "keep", deadline_in=3600)
    ended = reap(tmp_path)
    assert [e.session.cluster for e in ended] == ["prod-eu"]
    assert proc.wait(timeout=10) is not None  # the route process is gone
    assert read_session(tmp_path, "prod-eu") is None
    assert not (tmp_path / "break-glass" / "prod-eu").exists()
    assert read_session(tmp_path, "keep") is not None
    events = list(audit.read_events(tmp_path, "break-glass.expire"))
    assert len(events) == 1
    assert events[0]["cluster"] == "prod-eu"
    assert events[0]["reason"] == "INC-1 Zero Trust tunnel down"
    assert events[0]["by"] == "ztctl"
    end(tmp_path, [active.cluster], by="alice")


def test_reap_restarts_a_dead_watchdog(tmp_path: Path) -> None:
    make_session(tmp_path, deadline_in=3600)
    reap(tmp_path)
    session = read_session(tmp_path, "prod-eu")
    assert session is not None and session.watchdog_pid is not None
    try:
        assert watchdog_alive(session)
    finally:
        end(tmp_path, ["prod-eu"], by="alice")
    assert wait_for(lambda: not watchdog_alive(session))


def test_terminate_never_signals_a_process_without_the_marker(
    route_process: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, _control = route_process
    assert routes_bg.terminate(proc.pid, "ControlPath=/somewhere/else")
    assert proc.poll() is None  # a recycled pid is left alone
    assert routes_bg.process_matches(proc.pid, None)


def test_watchdog_ends_the_route_at_the_deadline_without_ztctl(
    tmp_path: Path, route_process: tuple[subprocess.Popen[bytes], str]
) -> None:
    proc, control = route_process
    session = make_session(tmp_path, deadline_in=1.0, route=ssh_route(proc, control))
    spawn_watchdog(tmp_path, session, None)
    # Nobody calls ztctl: only the detached watchdog can end it.
    assert proc.wait(timeout=20) is not None
    assert wait_for(lambda: read_session(tmp_path, "prod-eu") is None)
    events = list(audit.read_events(tmp_path, "break-glass.expire"))
    assert [e["by"] for e in events] == ["watchdog"]
    assert events[0]["session"] == session.id


def test_watchdog_exits_when_the_session_ends(tmp_path: Path) -> None:
    session = make_session(tmp_path, deadline_in=3600)
    pid = spawn_watchdog(tmp_path, session, None)
    write_session(replace(session, watchdog_pid=pid))
    assert wait_for(lambda: routes_bg.process_matches(pid, session.watchdog_marker))
    result = end(tmp_path, ["prod-eu"], by="alice")
    assert [e.event for e in result.ended] == ["break-glass.end"]
    assert wait_for(lambda: not routes_bg.process_matches(pid, session.watchdog_marker))
    assert [e["event"] for e in audit.read_events(tmp_path)] == ["break-glass.end"]


def test_end_of_nothing_reports_it(tmp_path: Path) -> None:
    result = end(tmp_path, ["prod-eu"], by="alice")
    assert result.ended == () and result.missing == ("prod-eu",)
    assert list(audit.read_events(tmp_path)) == []


def test_abandoned_opening_session_is_reaped(
    tmp_path: Path, route_process: tuple[subprocess.Popen[bytes], str]
) -> None:
    """ztctl killed while opening: the starter pid is gone, so the route is closed at once."""
    proc, control = route_process
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    session = make_session(tmp_path, route=ssh_route(proc, control), state_name=STATE_OPENING)
    write_session(replace(session, starter_pid=dead.pid))
    ended = reap(tmp_path)
    assert [e.session.id for e in ended] == [session.id]
    assert proc.wait(timeout=10) is not None
    assert [e["why"] for e in audit.read_events(tmp_path, "break-glass.expire")] == [
        "start interrupted"
    ]


@pytest.mark.parametrize(
    ("failure", "shown"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
        (OSError(errno.EIO, "Input/output error"), "Input/output error"),
        (RuntimeError("short write: 12 of 80 bytes"), "RuntimeError: short write"),
    ],
)
def test_any_audit_write_failure_is_an_audit_failed_and_end_still_closes_the_route(
    tmp_path: Path,
    route_process: tuple[subprocess.Popen[bytes], str],
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
    shown: str,
) -> None:
    proc, control = route_process
    session = make_session(tmp_path, route=ssh_route(proc, control))

    def broken(_path: Path, _line: str) -> None:
        raise failure

    monkeypatch.setattr(audit, "append_line_durably", broken)
    with pytest.raises(AuditFailed) as caught:
        record(tmp_path, "break-glass.exec", session, command="kubectl")
    assert caught.value.exit_code == 1
    assert shown in caught.value.message
    assert "cannot write break-glass.exec to the audit log" in caught.value.message

    result = end(tmp_path, ["prod-eu"], by="alice")
    [ended] = result.ended
    assert ended.audit is not None and shown in ended.audit
    assert proc.wait(timeout=10) is not None  # the route is closed all the same
    assert read_session(tmp_path, "prod-eu") is None


def _vpn(interface: str, down: list[str]) -> BreakGlass:
    return BreakGlass(route=VpnRoute(up=("true",), down=tuple(down), interface=interface))


def test_close_route_runs_the_catalogs_vpn_down_or_says_why_it_cannot(tmp_path: Path) -> None:
    marker = tmp_path / "down-ran"
    down = [sys.executable, "-c", f"open({str(marker)!r}, 'w').close()", "--token=t0ps3cret"]
    session = make_session(tmp_path, route=VpnState("vpn oob", "oob"))
    shown: list[str] = []

    ran = close_route(
        session, CatalogRoutes(tmp_path, known={"prod-eu": _vpn("oob", down)}), None, shown.append
    )
    assert ran.problem is None and marker.exists()
    assert ran.command is not None and ran.command.endswith("'--token=***'")
    assert shown == [f"running the catalog's VPN down command for prod-eu: {ran.command}"]
    marker.unlink()

    cases = [
        (CatalogRoutes(tmp_path, known={"prod-eu": None}), "no longer gives prod-eu a VPN route"),
        (
            CatalogRoutes(tmp_path, known={"prod-eu": _vpn("wg1", down)}),
            "now for interface wg1, not oob",
        ),
        (
            CatalogRoutes(tmp_path, {"ZTCTL_CATALOG": str(tmp_path / "gone.yaml")}),
            "the catalog cannot be read (catalog",
        ),
    ]
    for routes, problem in cases:
        teardown = close_route(session, routes, None, shown.append)
        assert teardown.problem is not None and problem in teardown.problem
        assert "close vpn oob yourself" in teardown.problem
        assert teardown.command is None
        assert not marker.exists()  # nothing ran


def test_end_of_a_stray_file_nobody_writes_back_says_so_and_keeps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ztctl.core.breakglass import lifecycle
    from ztctl.core.breakglass.session import StrayFile

    monkeypatch.setattr(lifecycle, "WRITE_BACK_WAIT_S", 0.3)
    session = make_session(tmp_path)
    session.path.write_text("null\n")  # and no watchdog lives to write it back
    result = end(tmp_path, None, by="alice")
    assert result.ended == () and result.missing == ()
    assert result.strays == (
        StrayFile("prod-eu", session.path, "it holds null, not a session object"),
    )
    assert session.path.read_text() == "null\n"  # left for the user, with the fix
    assert list(audit.read_events(tmp_path)) == []
    assert end(tmp_path, ["prod-eu"], by="alice").strays == result.strays


def test_end_all_finds_a_session_whose_file_was_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ztctl.core.breakglass import lifecycle
    from ztctl.core.breakglass.session import StrayFile

    monkeypatch.setattr(lifecycle, "WRITE_BACK_WAIT_S", 0.3)
    session = make_session(tmp_path)
    session.dir.mkdir(parents=True, exist_ok=True)
    session.path.unlink()  # the directory (overlay, logs) is still there
    assert lifecycle.open_names(tmp_path) == ["prod-eu"]
    result = end(tmp_path, None, by="alice")  # nobody writes it back: a route may be open
    assert result.missing == () and result.ended == ()
    why = "it is gone, but the session's directory is still there"
    assert result.strays == (StrayFile("prod-eu", session.path, why),)
    assert session.dir.is_dir()  # the logs of the route are kept
    session.dir.rmdir()
    assert end(tmp_path, ["prod-eu"], by="alice").missing == ("prod-eu",)


def test_start_refuses_over_a_damaged_session_file(tmp_path: Path) -> None:
    from ztctl.core.breakglass.opening import _refuse_open_session
    from ztctl.errors import OperationFailed

    session = make_session(tmp_path)
    session.path.write_text('{"id": "bg-1"')
    with pytest.raises(OperationFailed) as caught:
        _refuse_open_session(tmp_path, "prod-eu")
    assert caught.value.message == (
        f"the break-glass session file {session.path} cannot be read: it is not JSON (cut off "
        "or edited?); a break-glass route of prod-eu may still be open"
    )
    assert caught.value.fix.startswith("run `ztctl break-glass end prod-eu`")


def test_a_start_that_finished_unseen_is_not_taken_for_an_abandoned_one(
    tmp_path: Path, route_process: tuple[subprocess.Popen[bytes], str]
) -> None:
    """The watchdog last saw the session opening; its starter then finished (the
    break-glass.start event), exited, and the file was damaged before the watchdog looked
    again. The route stays open: the audit log says the start finished."""
    from ztctl.core.breakglass.lifecycle import expire_known
    from ztctl.core.breakglass.session import rfc3339

    proc, control = route_process
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    opening = make_session(tmp_path, route=ssh_route(proc, control), state_name=STATE_OPENING)
    known = replace(opening, starter_pid=dead.pid)
    record(tmp_path, "break-glass.start", known, deadline=rfc3339(known.deadline))
    Path(known.path).write_text("null\n")  # damaged after the start

    routes = CatalogRoutes(tmp_path, known={})
    assert expire_known(tmp_path, known, routes) is None  # before: closed, "start interrupted"
    assert proc.poll() is None
    assert list(audit.read_events(tmp_path, "break-glass.expire")) == []

    # without the start event it was abandoned indeed: closed at once
    other = replace(known, id="bg-other")
    ended = expire_known(tmp_path, other, routes)
    assert ended is not None and proc.wait(timeout=10) is not None
    assert [e["why"] for e in audit.read_events(tmp_path, "break-glass.expire")] == [
        "start interrupted"
    ]
