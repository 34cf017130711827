"""Each break-glass failure leaves with the exit code of the contract."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.core.breakglass.helpers import SERVER, make_cluster
from ztctl.core.breakglass.child import prepare_exec
from ztctl.core.breakglass.opening import StartRequest, start
from ztctl.core.breakglass.session import STATE_OPENING, Session
from ztctl.core.model import BreakGlass, ClientCertificate, Cluster, ProxyRoute
from ztctl.errors import ZtctlError, error_for

# --- exit codes --------------------------------------------------------------------------
#
# The contract: 1 the operation failed, 2 usage, 3 invalid input, 4 authentication needed,
# 5 unreachable. A failure over the route keeps the exit code of what the probe found.


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def start_without_route(tmp_path: Path) -> None:
    start(StartRequest(replace(make_cluster(), break_glass=None), "INC-1 tunnel down", tmp_path))


def start_with_bad_reason(tmp_path: Path) -> None:
    start(StartRequest(make_cluster(), "test", tmp_path))


def start_without_entry(tmp_path: Path) -> None:
    empty = tmp_path / "empty-config"
    empty.write_text("apiVersion: v1\nkind: Config\n")
    request = StartRequest(
        make_cluster(), "INC-1 tunnel down", tmp_path / "state", kubeconfig=str(empty), env={}
    )
    start(request)


def exec_without_session(tmp_path: Path) -> None:
    prepare_exec(tmp_path, "prod-eu", ["kubectl"], env={})


def proxy_route_closed(tmp_path: Path) -> None:
    from ztctl.core.breakglass.opening import _open_route, _planned_route

    cluster = Cluster(
        name="prod-eu",
        server=SERVER,
        addresses=("127.0.0.1",),
        credentials=ClientCertificate(Path("/x/c.crt"), Path("/x/c.key")),
        break_glass=BreakGlass(ProxyRoute(f"socks5://127.0.0.1:{closed_port()}")),
    )
    session = Session(
        "bg-1", "prod-eu", STATE_OPENING, "r", "u", 0.0, 1.0, 60, _planned_route(cluster)
    )
    request = StartRequest(cluster, "r", tmp_path, env={})
    _open_route(session, cluster, None, request, lambda _m: None)  # type: ignore[arg-type]


def over_route(code: int) -> Any:
    def fail(_tmp_path: Path) -> None:
        raise error_for(code, "the API server does not answer over the route", "fix")

    return fail


EXIT_CASES = [
    ("no break-glass route in the catalog", start_without_route, 1, "failed"),
    ("a placeholder reason", start_with_bad_reason, 2, "usage"),
    ("no kubeconfig entry for the cluster", start_without_entry, 1, "failed"),
    ("exec without an open session", exec_without_session, 1, "failed"),
    ("the break-glass proxy refuses connections", proxy_route_closed, 5, "unreachable"),
    ("over the route: bad certificate or kubeconfig", over_route(3), 3, "invalid-input"),
    ("over the route: credentials refused", over_route(4), 4, "auth-needed"),
    ("over the route: the API server does not answer", over_route(5), 5, "unreachable"),
    ("over the route: anything else", over_route(1), 1, "failed"),
    ("over the route: a code outside the contract", over_route(42), 1, "failed"),
]


@pytest.mark.parametrize(
    ("failure", "expected_code", "expected_kind"),
    [case[1:] for case in EXIT_CASES],
    ids=[case[0] for case in EXIT_CASES],
)
def test_each_break_glass_failure_leaves_with_its_exit_code(
    tmp_path: Path, failure: Any, expected_code: int, expected_kind: str
) -> None:
    with pytest.raises(ZtctlError) as caught:
        failure(tmp_path)
    error = caught.value
    assert (error.exit_code, error.kind) == (expected_code, expected_kind)
    assert error.to_dict()["code"] == expected_code
    assert error.message and error.fix
