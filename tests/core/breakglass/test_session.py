"""Session files, and the cheap questions other commands ask about them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.breakglass.helpers import SERVER, make_cluster, make_session
from ztctl.core.breakglass.session import (
    STATE_OPENING,
    ProxyState,
    RouteState,
    Session,
    SshState,
    UnknownState,
    VpnState,
    active_session,
    has_route,
    hint,
    list_sessions,
    read_session,
    route_from_dict,
    session_proxy,
)
from ztctl.core.model import ClientCertificate, Cluster


def test_session_file_round_trips_and_is_private(tmp_path: Path) -> None:
    route = SshState(
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
    route = SshState(
        "ssh bastion.test:22", proxy_url="socks5://127.0.0.1:4000", host="bastion.test"
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


# --- the stored route ------------------------------------------------------------------

EMPTY_ROUTE = {
    "proxyUrl": None,
    "pid": None,
    "marker": None,
    "controlPath": None,
    "host": None,
    "down": [],
    "interface": None,
}
ROUTE_CASES = [
    (
        ProxyState("proxy socks5://127.0.0.1:1080", "socks5://127.0.0.1:1080"),
        {"kind": "proxy", "display": "proxy socks5://127.0.0.1:1080"},
        {"proxyUrl": "socks5://127.0.0.1:1080"},
    ),
    (
        SshState("ssh a@b:22", "socks5://127.0.0.1:4000", 7, "ControlPath=/c", "/c", "b"),
        {"kind": "ssh", "display": "ssh a@b:22"},
        {
            "proxyUrl": "socks5://127.0.0.1:4000",
            "pid": 7,
            "marker": "ControlPath=/c",
            "controlPath": "/c",
            "host": "b",
        },
    ),
    (
        VpnState("vpn oob", "oob"),
        {"kind": "vpn", "display": "vpn oob"},
        {"interface": "oob"},
    ),
    (UnknownState("", "", None), {"kind": "", "display": ""}, {}),
]


@pytest.mark.parametrize(("route", "head", "fields"), ROUTE_CASES)
def test_stored_route_keeps_its_shape_for_every_kind(
    route: RouteState, head: dict[str, object], fields: dict[str, object]
) -> None:
    stored = route.to_dict()
    assert stored == {**head, **EMPTY_ROUTE, **fields}
    assert list(stored) == ["kind", "display", *EMPTY_ROUTE]
    assert route_from_dict(json.loads(json.dumps(stored))) == route


def test_only_an_ssh_route_has_a_session_proxy_and_a_process(tmp_path: Path) -> None:
    from ztctl.core.breakglass.processes import route_alive

    for route, _head, _fields in ROUTE_CASES:
        session = make_session(tmp_path, route=route)
        is_ssh = isinstance(route, SshState)
        assert session_proxy(session) == ("socks5://127.0.0.1:4000" if is_ssh else None)
        assert (route_alive(session) is None) is not is_ssh


def test_a_route_without_kind_reads_as_unknown() -> None:
    assert route_from_dict({}) == UnknownState("", "")
    assert route_from_dict({"kind": "carrier-pigeon", "display": "x", "pid": 3}) == UnknownState(
        "carrier-pigeon", "x"
    )


def test_a_stored_vpn_down_command_is_not_read_back() -> None:
    """What closes a VPN is the catalog's down command, never one from the session file."""
    edited = {"kind": "vpn", "display": "vpn oob", "down": ["sh", "-c", "id > /tmp/x"]}
    route = route_from_dict({**edited, "interface": "oob"})
    assert route == VpnState("vpn oob", "oob")
    assert route.to_dict()["down"] == []


# --- how far a session file is trusted -------------------------------------------------

DAY = 86400
NOW = 1_800_000_000.0
TRUST_CASES = [
    # state, started, deadline, ttlSeconds -> (started, deadline) as read
    ("active", NOW - 60, NOW + 3540, 3600, (NOW - 60, NOW + 3540)),  # as written
    ("active", NOW - 60, NOW + 10 * 365 * DAY, 3600, (NOW - 60, NOW + 3540)),  # +10 years
    ("active", NOW, NOW + 30 * DAY, 30 * DAY, (NOW, NOW + 7 * DAY)),  # a TTL over 7 days
    ("active", NOW, NOW + 30 * DAY, 10**30, (NOW, NOW + 7 * DAY)),
    ("active", NOW, NOW + 3600, 0, (NOW, NOW)),  # no TTL: expired
    ("opening", NOW, NOW + 3600 + 300, 3600, (NOW, NOW + 3900)),  # + the opening allowance
    ("opening", NOW, NOW + 10 * DAY, 3600, (NOW, NOW + 3900)),
    ("active", NOW + 10 * 365 * DAY, NOW + 10 * 365 * DAY, 3600, (NOW, NOW)),  # future start
    ("active", float("inf"), float("inf"), 3600, (NOW, NOW)),
    ("active", float("nan"), NOW + 60, 3600, (NOW, NOW)),
    ("active", NOW, float("inf"), 3600, (NOW, NOW)),
    ("active", NOW, 1e300, 3600, (NOW, NOW + 3600)),
    ("active", -5.0, NOW, 3600, (NOW, NOW)),
]


@pytest.mark.parametrize(("state", "started", "deadline", "ttl", "read"), TRUST_CASES)
def test_an_edited_session_file_cannot_extend_the_deadline(
    tmp_path: Path,
    state: str,
    started: float,
    deadline: float,
    ttl: object,
    read: tuple[float, float],
) -> None:
    data = {
        "id": "bg-1",
        "cluster": "prod-eu",
        "state": state,
        "started": started,
        "deadline": deadline,
        "ttlSeconds": ttl,
        "route": {"kind": "proxy", "display": "proxy x"},
    }
    session = Session.from_dict(json.loads(json.dumps(data)), tmp_path / "s.json", now=NOW)
    assert (session.started, session.deadline) == read
    assert session.ttl_s <= 7 * DAY
    view = session.view(now=NOW)  # shown by status: must not crash on any of these
    assert view["deadline"].endswith("Z")


def test_capped_by_the_catalog_max_ttl() -> None:
    session = Session.from_dict(
        {
            "id": "bg-1",
            "cluster": "c",
            "state": "active",
            "started": NOW,
            "deadline": NOW + 4 * 3600,
            "ttlSeconds": 4 * 3600,
        },
        Path("s.json"),
        now=NOW,
    )
    assert session.capped(3600).deadline == NOW + 3600  # the catalog now says 1h
    assert session.capped(8 * 3600) is session  # a longer maxTtl never extends it
    assert session.capped(10**12).deadline == NOW + 4 * 3600


@pytest.mark.parametrize("kind", ["padded", "fifo"])
def test_a_session_file_that_is_huge_or_not_a_file_is_never_read(tmp_path: Path, kind: str) -> None:
    # A readable session padded past 64 KiB is refused unread, and a FIFO does not block.
    session = make_session(tmp_path)
    path = Path(session.path)
    if kind == "padded":
        path.write_text(path.read_text() + " " * (64 * 1024))
    else:
        path.unlink()
        os.mkfifo(path)
    assert read_session(tmp_path, "prod-eu") is None
    assert active_session(tmp_path, "prod-eu") is None


def test_a_session_file_just_under_the_cap_is_read(tmp_path: Path) -> None:
    session = make_session(tmp_path)
    path = Path(session.path)
    text = path.read_text()
    path.write_text(text + " " * (64 * 1024 - len(text.encode())))
    assert read_session(tmp_path, "prod-eu") == session


# --- stray files: a session file that is not a session ---------------------------------


def _valid(tmp_path: Path) -> dict[str, object]:
    return json.loads(make_session(tmp_path).path.read_text())


def _with(tmp_path: Path, **changes: object) -> str:
    document = _valid(tmp_path)
    document.update(changes)
    return json.dumps(document)


# (what the file holds, why it is a stray)
STRAY_CONTENTS = [
    ("null", lambda p: "null\n", "it holds null, not a session object"),
    ("list", lambda p: "[1, 2]", "it holds a list, not a session object"),
    ("number", lambda p: "42", "it holds a number, not a session object"),
    ("string", lambda p: '"lab"', "it holds a string, not a session object"),
    ("empty", lambda p: "", "it is empty"),
    ("cut off", lambda p: _with(p)[:50], "it is not JSON (cut off or edited?)"),
    ("binary", lambda p: b"\xff\xfe\x00garbage", "it is not UTF-8 text"),
    ("no id", lambda p: _with(p, id=None), "its field id is missing"),
    ("id a list", lambda p: _with(p, id=["x"]), "its field id is a list, not text"),
    (
        "started text",
        lambda p: _with(p, started="soon"),
        "its field started is a string, not a number",
    ),
    (
        "deadline missing",
        lambda p: json.dumps({k: v for k, v in _valid(p).items() if k != "deadline"}),
        "its field deadline is missing",
    ),
    (
        "deadline true",
        lambda p: _with(p, deadline=True),
        "its field deadline is true, not a number",
    ),
    ("route a list", lambda p: _with(p, route=[1]), "its route is a list, not an object"),
    ("route a string", lambda p: _with(p, route="vpn"), "its route is a string, not an object"),
    (
        "marker a dict",
        lambda p: _with(p, route={"kind": "ssh", "marker": {}}),
        "its field route.marker is an object, not text",
    ),
    ("overlay a number", lambda p: _with(p, overlay=7), "its field overlay is a number, not text"),
    ("entries a number", lambda p: _with(p, entries=3), "its field entries is not a list of names"),
    (
        "entries of numbers",
        lambda p: _with(p, entries=[1]),
        "its field entries is not a list of names",
    ),
    (
        "another cluster",
        lambda p: _with(p, cluster="other"),
        "it names cluster 'other', not 'prod-eu'",
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "why"), STRAY_CONTENTS, ids=[c[0] for c in STRAY_CONTENTS]
)
def test_a_session_file_that_is_not_a_session_is_a_stray_file(
    tmp_path: Path, name: str, content: object, why: str
) -> None:
    from ztctl.core.breakglass.session import StrayFile, list_strays, read_session_or_stray

    path = tmp_path / "break-glass" / "prod-eu.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content(tmp_path)  # type: ignore[operator]
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data)
    found = read_session_or_stray(tmp_path, "prod-eu")
    assert found == StrayFile("prod-eu", path, why), name
    assert read_session(tmp_path, "prod-eu") is None
    assert list_sessions(tmp_path) == []
    assert list_strays(tmp_path) == [found]
    assert found.message == f"the break-glass session file {path} cannot be read: {why}"
    assert found.fix.startswith("run `ztctl break-glass end prod-eu`: it closes the route")


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        ("padded", "it is larger than 64 KiB"),
        ("fifo", "it is a FIFO (named pipe), not a regular file"),
        ("directory", "it is a directory, not a regular file"),
    ],
)
def test_a_huge_or_special_session_file_is_a_stray_read_unblocked(
    tmp_path: Path, kind: str, why: str
) -> None:
    from ztctl.core.breakglass.session import list_strays

    session = make_session(tmp_path)
    path = Path(session.path)
    if kind == "padded":
        path.write_text(path.read_text() + " " * (64 * 1024))
    elif kind == "fifo":
        path.unlink()
        os.mkfifo(path)
    else:
        path.unlink()
        path.mkdir()
    assert [(s.cluster, s.why) for s in list_strays(tmp_path)] == [("prod-eu", why)]


def test_a_session_directory_whose_file_is_gone_is_a_stray(tmp_path: Path) -> None:
    from ztctl.core.breakglass.session import list_strays

    session = make_session(tmp_path)
    session.dir.mkdir()
    assert list_strays(tmp_path) == []  # file and directory: a session, not a stray
    Path(session.path).unlink()
    [stray] = list_strays(tmp_path)
    assert (stray.cluster, stray.path) == ("prod-eu", Path(session.path))
    assert stray.message == (
        f"the break-glass session file {session.path} cannot be read: it is gone, but the "
        "session's directory is still there"
    )
    assert stray.fix == (
        "run `ztctl break-glass end prod-eu`: it closes the route if ztctl can tell which one "
        "it was (its watchdog still knows it); otherwise close the route of prod-eu yourself "
        f"(a VPN: run the catalog's breakGlass.vpn.down command) and remove the directory "
        f"{session.dir}"
    )
