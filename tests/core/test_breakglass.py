"""Break-glass sessions without a lab: reasons, TTLs, entries, the overlay, the session files,
reaping and the watchdog (with real processes standing in for a route)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from ztctl.adapters import routes_bg
from ztctl.core import audit
from ztctl.core.breakglass.child import ExecPlan, run_child
from ztctl.core.breakglass.lifecycle import end, find_entry, reap
from ztctl.core.breakglass.overlay import child_kubeconfig, overlay_document, write_overlay
from ztctl.core.breakglass.policy import resolve_ttl, validate_reason
from ztctl.core.breakglass.processes import route_alive, spawn_watchdog, watchdog_alive
from ztctl.core.breakglass.session import (
    STATE_ACTIVE,
    STATE_OPENING,
    RouteState,
    Session,
    active_session,
    has_route,
    hint,
    list_sessions,
    read_session,
    session_file,
    session_proxy,
)
from ztctl.core.breakglass.store import write_session
from ztctl.core.errors import OperationFailed, UsageError
from ztctl.core.kubeconfig.model import load_kubeconfig
from ztctl.core.model import BreakGlass, ClientCertificate, Cluster, ProxyRoute

SERVER = "https://k8s.prod-eu.acme.test:6443"


def make_cluster(name: str = "prod-eu", route: object = None, max_ttl: int = 4 * 3600) -> Cluster:
    return Cluster(
        name=name,
        server=SERVER,
        addresses=("127.0.0.1",),
        credentials=ClientCertificate(Path("/x/c.crt"), Path("/x/c.key")),
        certificate_authority_data="Y2E=",
        break_glass=BreakGlass(
            route=route or ProxyRoute("socks5://127.0.0.1:1080"),  # type: ignore[arg-type]
            max_ttl_s=max_ttl,
        ),
    )


# --- reasons ---------------------------------------------------------------------------

GOOD_REASONS = [
    "INC-4711 Zero Trust tunnel down",
    "WARP outage in eu",
    "zt is down, need to restart cloudflared",
    "cloudflared pods crashlooping in prod-eu, INC-12",
    "Störung: Tunnel antwortet nicht",
]
BAD_REASONS = [
    "",
    "   ",
    "x",
    "test",
    "asdf",
    "n/a",
    "TODO",
    "test test test",
    "asdfasdf qwerty",
    "asdfghjkl qwertyuiop",
    "emergency access",
    "break glass needed",
    "incident",
    "aaaa bbbb",
    "fix prod",
    "...........",
    "INC-4711",
]


@pytest.mark.parametrize("reason", GOOD_REASONS)
def test_meaningful_reasons_pass_normalised(reason: str) -> None:
    assert validate_reason(f"  {reason}\n ") == " ".join(reason.split())


@pytest.mark.parametrize("reason", BAD_REASONS)
def test_empty_short_or_placeholder_reasons_are_refused_with_an_example(reason: str) -> None:
    with pytest.raises(UsageError) as caught:
        validate_reason(reason)
    assert caught.value.exit_code == 2
    assert "--reason" in caught.value.fix


def test_reason_with_control_characters_or_too_long_is_refused() -> None:
    with pytest.raises(UsageError, match="control characters"):
        validate_reason("INC-4711 tunnel down\x1b[2J")
    with pytest.raises(UsageError, match="characters long"):
        validate_reason("tunnel down " * 60)


def test_none_reason_is_refused() -> None:
    with pytest.raises(UsageError, match="needs a reason"):
        validate_reason(None)


# --- TTL -------------------------------------------------------------------------------


def test_default_ttl_is_one_hour_or_max_ttl_when_shorter() -> None:
    assert resolve_ttl(None, 4 * 3600, "c") == 3600
    assert resolve_ttl(None, 900, "c") == 900
    assert resolve_ttl("", 900, "c") == 900


def test_ttl_up_to_max_ttl_is_granted_in_seconds() -> None:
    assert resolve_ttl("2s", 3600, "c") == 2
    assert resolve_ttl("1h30m", 2 * 3600, "c") == 5400
    assert resolve_ttl("4h", 4 * 3600, "c") == 4 * 3600


def test_over_long_ttl_is_refused_naming_the_limit() -> None:
    with pytest.raises(UsageError) as caught:
        resolve_ttl("8h", 4 * 3600, "prod-eu")
    assert "maxTtl 4h" in caught.value.message
    assert "prod-eu" in caught.value.message
    assert "4h or less" in caught.value.fix


@pytest.mark.parametrize("text", ["forever", "10", "-5m", "0s", "1x"])
def test_malformed_ttl_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="invalid --ttl"):
        resolve_ttl(text, 3600, "c")


# --- the kubeconfig entry and the overlay ------------------------------------------------


def write_kubeconfig(path: Path, document: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def user_kubeconfig(tmp_path: Path) -> Path:
    """``use-cluster``-style entries, a relative CA, another tool's alias, and an unrelated one."""
    (tmp_path / "kube" / "ca.crt").parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "kube" / "ca.crt").write_text("not really a CA\n")
    return write_kubeconfig(
        tmp_path / "kube" / "config",
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "prod-eu",
                    "cluster": {
                        "server": SERVER,
                        "certificate-authority": "ca.crt",
                        "tls-server-name": "k8s.prod-eu.acme.test",
                    },
                },
                {"name": "alias", "cluster": {"server": "https://127.0.0.1:6443"}},
                {"name": "other", "cluster": {"server": "https://other.test:6443"}},
            ],
            "users": [
                {"name": "prod-eu", "user": {"client-certificate": "c.crt", "client-key": "c.key"}},
                {"name": "other", "user": {"token": "t"}},
            ],
            "contexts": [
                {"name": "prod-eu", "context": {"cluster": "prod-eu", "user": "prod-eu"}},
                {"name": "other", "context": {"cluster": "other", "user": "other"}},
            ],
            "current-context": "other",
        },
    )


def test_entry_is_found_by_the_context_named_like_the_cluster(tmp_path: Path) -> None:
    path = user_kubeconfig(tmp_path)
    entry = find_entry(make_cluster(), load_kubeconfig(str(path), {}))
    assert entry.context == "prod-eu"
    assert entry.cluster.name == "prod-eu"
    assert entry.user.name == "prod-eu"
    # Every entry for the same API server is routed; the unrelated one is not.
    assert [e.name for e in entry.shadowed] == ["prod-eu", "alias"]


def test_entry_is_found_by_server_when_named_otherwise(tmp_path: Path) -> None:
    path = write_kubeconfig(
        tmp_path / "config",
        {
            "clusters": [{"name": "arn:eks:prod", "cluster": {"server": SERVER}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "work", "context": {"cluster": "arn:eks:prod", "user": "u"}}],
        },
    )
    entry = find_entry(make_cluster(), load_kubeconfig(str(path), {}))
    assert (entry.context, entry.cluster.name, entry.user.name) == ("work", "arn:eks:prod", "u")


def test_missing_entry_says_to_run_use_cluster(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", {"clusters": [], "users": [], "contexts": []})
    with pytest.raises(OperationFailed) as caught:
        find_entry(make_cluster(), load_kubeconfig(str(path), {}))
    assert "use-cluster prod-eu" in caught.value.fix


def test_entry_without_user_is_refused(tmp_path: Path) -> None:
    path = write_kubeconfig(
        tmp_path / "config",
        {"clusters": [{"name": "prod-eu", "cluster": {"server": SERVER}}]},
    )
    with pytest.raises(OperationFailed, match="no user"):
        find_entry(make_cluster(), load_kubeconfig(str(path), {}))


def test_overlay_copies_whole_entries_with_proxy_url_and_absolute_paths(tmp_path: Path) -> None:
    path = user_kubeconfig(tmp_path)
    entry = find_entry(make_cluster(), load_kubeconfig(str(path), {}))
    doc = overlay_document(entry, "socks5://127.0.0.1:9", "bg-1", "prod-eu")
    assert doc["users"] == [] and doc["contexts"] == []
    assert "current-context" not in doc
    clusters = {c["name"]: c["cluster"] for c in doc["clusters"]}
    assert set(clusters) == {"prod-eu", "alias"}
    prod = clusters["prod-eu"]
    assert prod["server"] == SERVER
    assert prod["tls-server-name"] == "k8s.prod-eu.acme.test"
    assert prod["certificate-authority"] == str(tmp_path / "kube" / "ca.crt")
    assert prod["proxy-url"] == "socks5://127.0.0.1:9"
    assert prod["extensions"] == [
        {"name": "ztctl-break-glass", "extension": {"session": "bg-1", "cluster": "prod-eu"}}
    ]
    # The user's own entry is untouched in memory too.
    assert "proxy-url" not in entry.cluster.body


def test_overlay_without_proxy_keeps_the_entry_as_it_is(tmp_path: Path) -> None:
    path = user_kubeconfig(tmp_path)
    entry = find_entry(make_cluster(), load_kubeconfig(str(path), {}))
    doc = overlay_document(entry, None, "bg-1", "prod-eu")
    assert all("proxy-url" not in c["cluster"] for c in doc["clusters"])


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_sees_the_overlay_entry_first_and_the_users_context(tmp_path: Path) -> None:
    """The oracle: kubectl merges overlay + the user's file exactly as intended."""
    path = user_kubeconfig(tmp_path)
    before = path.read_bytes()
    entry = find_entry(make_cluster(), load_kubeconfig(str(path), {}))
    overlay = tmp_path / "state" / "overlay"
    write_overlay(overlay, overlay_document(entry, "socks5://127.0.0.1:9", "bg-1", "prod-eu"))
    assert stat.S_IMODE(overlay.stat().st_mode) == 0o600
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "KUBECONFIG": f"{overlay}{os.pathsep}{path}",
    }

    def view(*args: str) -> dict[str, object]:
        out = subprocess.run(
            ["kubectl", "config", "view", "--raw", "-o", "json", *args],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return json.loads(out.stdout)  # type: ignore[no-any-return]

    merged = view()
    assert merged["current-context"] == "other"  # still the user's
    minified = view("--minify", "--context", "prod-eu")
    cluster = minified["clusters"][0]["cluster"]  # type: ignore[index]
    assert cluster["proxy-url"] == "socks5://127.0.0.1:9"
    assert cluster["tls-server-name"] == "k8s.prod-eu.acme.test"
    assert cluster["certificate-authority"] == str(tmp_path / "kube" / "ca.crt")
    user = minified["users"][0]["user"]  # type: ignore[index]
    assert user["client-certificate"] == "c.crt"  # the user's own entry (view does not resolve)
    other = view("--minify", "--context", "other")["clusters"][0]["cluster"]  # type: ignore[index]
    assert "proxy-url" not in other
    assert path.read_bytes() == before


def test_child_kubeconfig_puts_the_overlay_before_the_users_list(tmp_path: Path) -> None:
    state = tmp_path / "state"
    overlay = str(state / "break-glass" / "prod-eu" / "kubeconfig")
    a, b = tmp_path / "a", tmp_path / "b"
    env = {"KUBECONFIG": f"{a}{os.pathsep}{b}{os.pathsep}{a}", "HOME": str(tmp_path)}
    assert child_kubeconfig(overlay, state, None, env).split(os.pathsep) == [
        overlay,
        str(a),
        str(b),
    ]
    # --kubeconfig wins over KUBECONFIG, as in kubectl.
    assert child_kubeconfig(overlay, state, str(b), env).split(os.pathsep) == [
        overlay,
        str(b),
    ]
    # Nothing set: ~/.kube/config.
    home = {"HOME": str(tmp_path)}
    assert child_kubeconfig(overlay, state, None, home).split(os.pathsep) == [
        overlay,
        str(tmp_path / ".kube" / "config"),
    ]


def test_child_kubeconfig_drops_overlays_when_nested(tmp_path: Path) -> None:
    state = tmp_path / "state"
    overlay = str(state / "break-glass" / "prod-eu" / "kubeconfig")
    older = str(state / "break-glass" / "other" / "kubeconfig")
    env = {"KUBECONFIG": os.pathsep.join([older, overlay, str(tmp_path / "config")])}
    assert child_kubeconfig(overlay, state, None, env).split(os.pathsep) == [
        overlay,
        str(tmp_path / "config"),
    ]


# --- session files ---------------------------------------------------------------------


def make_session(
    state: Path,
    cluster: str = "prod-eu",
    *,
    deadline_in: float = 3600,
    route: RouteState | None = None,
    state_name: str = STATE_ACTIVE,
) -> Session:
    now = time.time()
    session = Session(
        id=f"bg-test{int(now * 1000) % 100000}",
        cluster=cluster,
        state=state_name,
        reason="INC-1 Zero Trust tunnel down",
        user="alice",
        started=now,
        deadline=now + deadline_in,
        ttl_s=int(deadline_in),
        route=route or RouteState("proxy", "proxy socks5://127.0.0.1:1080"),
        path=session_file(state, cluster),
    )
    write_session(session)
    return session


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


# --- a route process, reaping and the watchdog ------------------------------------------


@pytest.fixture
def route_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A real process standing in for an ssh tunnel: its command line carries the marker."""
    control = str(tmp_path / "ssh.ctl")
    marker = f"ControlPath={control}"
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", marker],
        start_new_session=True,
    )
    try:
        yield proc, control
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def ssh_route(proc: subprocess.Popen[bytes], control: str) -> RouteState:
    return RouteState(
        "ssh",
        "ssh bastion.test:22",
        proxy_url="socks5://127.0.0.1:4000",
        pid=proc.pid,
        marker=f"ControlPath={control}",
        control_path=control,
        host="bastion.test",
    )


def wait_for(condition: object, timeout: float = 15.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return bool(condition())  # type: ignore[operator]


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
