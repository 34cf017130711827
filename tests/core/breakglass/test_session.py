"""Session files, and the cheap questions other commands ask about them."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from tests.core.breakglass.helpers import SERVER, make_cluster, make_session
from ztctl.core.breakglass.session import (
    STATE_OPENING,
    RouteState,
    active_session,
    has_route,
    hint,
    list_sessions,
    read_session,
    session_proxy,
)
from ztctl.core.model import ClientCertificate, Cluster


def test_session_file_round_trips_and_is_private(tmp_path: Path) -> None:
    route = RouteState(
        "ssh",
        "ssh oncall@bastion.test:22",
        proxy_url="socks5://127.0.0.1:4000",
        pid=123,
        marker="ControlPath=/c",
        control_path="/c",
        host="bastion.test",
    )
    session = make_session(tmp_path, route=route)
    assert stat.S_IMODE(session.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(session.path.parent.stat().st_mode) == 0o700
    assert read_session(tmp_path, "prod-eu") == session
    assert [s.id for s in list_sessions(tmp_path)] == [session.id]


def test_unreadable_session_file_is_ignored(tmp_path: Path) -> None:
    directory = tmp_path / "break-glass"
    directory.mkdir()
    (directory / "broken.json").write_text("{not json")
    assert list_sessions(tmp_path) == []


def test_active_session_and_hint_for_other_commands(tmp_path: Path) -> None:
    cluster = make_cluster()
    assert has_route(cluster)
    assert active_session(tmp_path, "prod-eu") is None
    text = hint(tmp_path, cluster)
    assert text is not None and "break-glass start prod-eu" in text
    session = make_session(tmp_path)
    assert active_session(tmp_path, "prod-eu") == session
    text = hint(tmp_path, cluster)
    assert text is not None and "break-glass exec prod-eu" in text
    # A catalog proxy is dialled with the catalog's own URL: no session proxy.
    assert session_proxy(session) is None
    no_route = Cluster(
        name="x",
        server=SERVER,
        addresses=(),
        credentials=ClientCertificate(Path("c"), Path("k")),
    )
    assert not has_route(no_route)
    assert hint(tmp_path, no_route) is None


def test_expired_or_opening_session_is_not_active(tmp_path: Path) -> None:
    make_session(tmp_path, deadline_in=-1)
    assert active_session(tmp_path, "prod-eu") is None
    make_session(tmp_path, "b", state_name=STATE_OPENING)
    assert active_session(tmp_path, "b") is None


def test_ssh_session_proxy_is_the_local_socks_port(tmp_path: Path) -> None:
    route = RouteState(
        "ssh", "ssh bastion.test:22", proxy_url="socks5://127.0.0.1:4000", host="bastion.test"
    )
    session = make_session(tmp_path, route=route)
    assert session_proxy(session) == "socks5://127.0.0.1:4000"


# --- reading sessions stays cheap ----------------------------------------------------------


def test_reading_sessions_imports_only_the_standard_library() -> None:
    """probe, status and use-cluster read sessions on every run: session.py must not pull in
    the rest of break-glass (or anything outside the standard library)."""

    code = (
        "import json, sys; before = set(sys.modules); import ztctl.core.breakglass.session; "
        "print(json.dumps(sorted(m for m in set(sys.modules) - before if m[0] != '_')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = json.loads(out)
    ours = [m for m in loaded if m.split(".")[0] == "ztctl"]
    assert ours == ["ztctl", "ztctl.core", "ztctl.core.breakglass", "ztctl.core.breakglass.session"]
    stdlib = set(sys.stdlib_module_names)
    assert [m for m in loaded if m.split(".")[0] not in stdlib | {"ztctl"}] == []
