"""Running the child over the route: exit codes, the deadline, a missing command."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.core.breakglass.helpers import make_session, ssh_route
from ztctl.core.breakglass.child import ExecPlan, run_child
from ztctl.core.breakglass.processes import route_alive
from ztctl.core.breakglass.session import Session
from ztctl.errors import OperationFailed

# --- running the child -----------------------------------------------------------------


def plan_for(session: Session, argv: list[str], shell: bool = False) -> ExecPlan:
    return ExecPlan(session=session, argv=tuple(argv), env=dict(os.environ), shell=shell)


def test_child_exit_code_is_passed_through(tmp_path: Path) -> None:
    session = make_session(tmp_path)
    assert run_child(plan_for(session, ["sh", "-c", "exit 7"])).code == 7
    assert run_child(plan_for(session, ["sh", "-c", "kill -TERM $$"])).code == 128 + 15


def test_child_is_stopped_at_the_deadline(tmp_path: Path) -> None:
    session = make_session(tmp_path, deadline_in=0.5)
    outcome = run_child(plan_for(session, ["sleep", "60"]))
    assert outcome.expired
    assert outcome.code == 128 + 15


def test_missing_command_is_an_error(tmp_path: Path) -> None:
    session = make_session(tmp_path)
    with pytest.raises(OperationFailed, match="command not found"):
        run_child(plan_for(session, ["ztctl-no-such-command-here"]))


def test_ssh_session_routes_pid_and_route_alive(
    tmp_path: Path, route_process: tuple[subprocess.Popen[bytes], str]
) -> None:
    proc, control = route_process
    session = make_session(tmp_path, route=ssh_route(proc, control))
    assert route_alive(session) is True
    proc.kill()
    proc.wait()
    assert route_alive(session) is False
    assert route_alive(make_session(tmp_path, "p")) is None


def test_exec_over_a_damaged_session_file_says_so(tmp_path: Path) -> None:
    from ztctl.core.breakglass.child import prepare_exec
    from ztctl.core.breakglass.trusted import CatalogRoutes

    session = make_session(tmp_path)
    session.path.write_text("[1, 2]")
    with pytest.raises(OperationFailed) as caught:
        prepare_exec(tmp_path, "prod-eu", ["kubectl"], routes=CatalogRoutes(tmp_path, known={}))
    assert caught.value.message == (
        f"the break-glass session file {session.path} cannot be read: it holds a list, not a "
        "session object; a break-glass route of prod-eu may still be open"
    )
    assert caught.value.fix.startswith("try again in a few seconds; if it stays so, run `ztctl")
