"""`ztctl break-glass` end to end on the lab: the outage, the route, kubectl, the audit log."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ztctl.adapters import routes_bg

ZTCTL = [sys.executable, "-m", "ztctl"]
REASON = "INC-4711 Zero Trust tunnel down, restarting cloudflared"
FAKE_SSH = Path(__file__).parents[1] / "core" / "fake_ssh.py"
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")


@dataclass
class Env:
    """A lab with a private state directory and a private copy of its kubeconfig."""

    lab: Any
    env: dict[str, str]
    state: Path
    kubeconfig: Path

    def ztctl(
        self, *args: str, timeout: float = 60, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*ZTCTL, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **kwargs,
        )

    def start(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.ztctl("break-glass", "start", "lab", "--timeout", "1", *args)

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kubectl", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        path = self.state / "audit.jsonl"
        if not path.exists():
            return []
        items = [json.loads(line) for line in path.read_text().splitlines()]
        return [i for i in items if event is None or i["event"] == event]

    def session_file(self) -> dict[str, Any] | None:
        path = self.state / "break-glass" / "lab.json"
        return json.loads(path.read_text()) if path.exists() else None

    def use_catalog(self, break_glass: dict[str, Any], *, trusted: bool = True) -> None:
        """A copy of the lab catalog whose cluster ``lab`` has this breakGlass; its VPN
        commands approved (``ZTCTL_TRUST``) unless not ``trusted``."""
        from ztctl.core import trust

        self.env.pop(trust.TRUST_ENV, None)
        vpn = break_glass.get("vpn")
        if vpn and trusted:
            commands = [
                trust.CatalogCommand("lab", trust.VPN_UP, tuple(vpn["up"])),
                trust.CatalogCommand("lab", trust.VPN_DOWN, tuple(vpn["down"])),
            ]
            self.env[trust.TRUST_ENV] = " ".join(c.fingerprint for c in commands)
        document = yaml.safe_load(self.lab.paths.catalog.read_text())
        for cluster in document["clusters"]:
            ca = cluster.get("certificateAuthority")
            if ca and not os.path.isabs(ca):
                cluster["certificateAuthority"] = str(self.lab.paths.catalog.parent / ca)
            if cluster["name"] == "lab":
                cluster["breakGlass"] = break_glass
        path = self.state.parent / "catalog.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        self.env["ZTCTL_CATALOG"] = str(path)


@pytest.fixture
def bg(lab: Any, tmp_path: Path) -> Iterator[Env]:
    kubeconfig = tmp_path / "kubeconfig"
    shutil.copyfile(lab.kubeconfig, kubeconfig)
    kubeconfig.chmod(0o600)
    state = tmp_path / "state"
    env = {**lab.env, "ZTCTL_STATE_DIR": str(state), "KUBECONFIG": str(kubeconfig)}
    env.pop("ZTCTL_CATALOG", None)
    env.pop("ZTCTL_NO_INPUT", None)
    result = Env(lab, env, state, kubeconfig)
    try:
        yield result
    finally:
        result.ztctl("break-glass", "end", "--all")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


# --- the outage ------------------------------------------------------------------------


@needs_kubectl
def test_outage_break_glass_start_exec_end(bg: Env) -> None:
    before = sha256(bg.kubeconfig)
    bg.lab.set(zt_path="blackhole")
    direct = bg.kubectl("get", "--raw", "/readyz", "--request-timeout=1s")
    assert direct.returncode != 0  # the Zero Trust path is down

    started = bg.start("--reason", REASON)
    assert started.returncode == 0, started.stderr
    assert "Break-glass route open for lab" in started.stdout
    assert "break-glass exec lab" in started.stdout

    ready = bg.ztctl("break-glass", "exec", "lab", "--", "kubectl", "get", "--raw", "/readyz")
    assert ready.returncode == 0, ready.stderr
    assert ready.stdout.strip() == "ok"
    whoami = bg.ztctl("break-glass", "exec", "lab", "--", "kubectl", "auth", "whoami", "-o", "json")
    assert whoami.returncode == 0, whoami.stderr
    extra = json.loads(whoami.stdout)["status"]["userInfo"]["extra"]
    assert extra["ztctl.lab/route"] == ["break-glass"]  # it came through the bastion

    assert sha256(bg.kubeconfig) == before  # the user's kubeconfig is byte-identical
    still_down = bg.kubectl("get", "--raw", "/readyz", "--request-timeout=1s")
    assert still_down.returncode != 0  # outside exec nothing changed

    ended = bg.ztctl("break-glass", "end", "lab")
    assert ended.returncode == 0, ended.stderr
    assert "Ended the break-glass session for lab" in ended.stdout

    events = bg.events()
    assert [e["event"] for e in events] == [
        "break-glass.route-open",  # the attempt, before anything opens
        "break-glass.start",
        "break-glass.exec",
        "break-glass.exec",
        "break-glass.end",
    ]
    assert {e["reason"] for e in events} == {REASON}
    assert {e["cluster"] for e in events} == {"lab"}
    assert len({e["session"] for e in events}) == 1
    start = events[1]
    assert start["route"] == f"proxy {bg.lab.proxy_url}"
    assert start["ttlSeconds"] == 3600
    assert start["ztPath"] == "timeout"
    assert start["forced"] is False
    assert start["user"]
    assert [e["command"] for e in events[2:4]] == ["kubectl", "kubectl"]
    audit_text = (bg.state / "audit.jsonl").read_text()
    assert "/readyz" not in audit_text and "whoami" not in audit_text  # never the arguments

    after = bg.ztctl("break-glass", "exec", "lab", "--", "kubectl", "get", "--raw", "/readyz")
    assert after.returncode == 1
    assert "no break-glass session is open for lab" in after.stderr
    assert sha256(bg.kubeconfig) == before


def test_start_is_refused_while_zero_trust_is_healthy_unless_forced(bg: Env) -> None:
    refused = bg.start("--reason", REASON)
    assert refused.returncode == 1
    assert "Zero Trust path to lab is healthy" in refused.stderr
    assert "--force" in refused.stderr
    assert bg.session_file() is None
    assert bg.events() == []

    forced = bg.start("--reason", REASON, "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    document = json.loads(forced.stdout)
    assert document["schemaVersion"] == 1
    assert document["session"]["cluster"] == "lab"
    assert document["session"]["forced"] is True
    assert document["zeroTrust"]["ok"] is True
    assert document["verified"]["ok"] is True
    assert document["verified"]["via"] == bg.lab.proxy_url
    [start] = bg.events("break-glass.start")
    assert start["forced"] is True and start["ztPath"] == "ok"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Missing option '--reason'"),
        (("--reason", ""), "needs a reason"),
        (("--reason", "test"), "does not say what is broken"),
        (("--reason", "asdf"), "does not say what is broken"),
        (
            ("--reason", REASON, "--ttl", "2h"),
            "longer than the break-glass limit of lab (maxTtl 1h)",
        ),
        (("--reason", REASON, "--ttl", "soon"), "invalid --ttl"),
    ],
)
def test_reason_less_or_over_long_requests_are_refused(
    bg: Env, args: tuple[str, ...], message: str
) -> None:
    result = bg.start(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert bg.session_file() is None
    assert bg.events() == []


def test_refusal_is_json_under_json(bg: Env) -> None:
    result = bg.start("--reason", "x", "--json")
    assert result.returncode == 2
    error = json.loads(result.stdout)["error"]
    assert error["code"] == 2 and error["kind"] == "usage"
    assert "--reason" in error["fix"]


@needs_kubectl
def test_session_past_its_ttl_is_refused_and_its_route_closed(bg: Env) -> None:
    bg.lab.set(zt_path="blackhole")
    started = bg.start("--reason", REASON, "--ttl", "2s")
    assert started.returncode == 0, started.stderr
    overlay = Path(bg.session_file()["overlay"])  # type: ignore[index]
    assert overlay.exists()
    assert wait_for(lambda: bg.session_file() is None)  # the watchdog ends it
    assert not overlay.exists()
    refused = bg.ztctl("break-glass", "exec", "lab", "--", "kubectl", "get", "--raw", "/readyz")
    assert refused.returncode == 1
    assert "expired" in refused.stderr
    [expire] = bg.events("break-glass.expire")
    assert expire["reason"] == REASON
    assert expire["by"] in ("watchdog", "ztctl")
    status = json.loads(bg.ztctl("break-glass", "status", "--json").stdout)
    assert status["sessions"] == []


def test_second_start_for_the_same_cluster_is_refused(bg: Env) -> None:
    assert bg.start("--reason", REASON, "--force").returncode == 0
    again = bg.start("--reason", REASON, "--force")
    assert again.returncode == 1
    assert "already open" in again.stderr
    assert len(bg.events("break-glass.start")) == 1


def test_status_and_end_json(bg: Env) -> None:
    empty = json.loads(bg.ztctl("break-glass", "status", "--json").stdout)
    assert empty == {"schemaVersion": 1, "sessions": [], "expired": [], "strays": []}
    assert bg.start("--reason", REASON, "--force", "--ttl", "30m").returncode == 0
    status = bg.ztctl("break-glass", "status", "--json")
    [row] = json.loads(status.stdout)["sessions"]
    assert row["cluster"] == "lab"
    assert row["state"] == "active"
    assert row["reason"] == REASON
    assert row["route"] == f"proxy {bg.lab.proxy_url}"
    assert 0 < row["remainingSeconds"] <= 1800
    assert row["watchdogAlive"] is True
    text = bg.ztctl("break-glass", "status")
    assert "lab" in text.stdout and REASON in text.stdout
    ended = json.loads(bg.ztctl("break-glass", "end", "--all", "--json").stdout)
    assert [e["cluster"] for e in ended["ended"]] == ["lab"]
    nothing = bg.ztctl("break-glass", "end", "lab")
    assert nothing.returncode == 0
    assert "No break-glass session was open for lab" in nothing.stdout


# --- exec and shell --------------------------------------------------------------------


def test_exec_passes_exit_code_and_sets_the_environment(bg: Env) -> None:
    assert bg.start("--reason", REASON, "--force").returncode == 0
    overlay = bg.session_file()["overlay"]  # type: ignore[index]
    result = bg.ztctl(
        "break-glass",
        "exec",
        "lab",
        "--",
        "sh",
        "-c",
        'echo "$ZTCTL_BREAK_GLASS|$KUBECONFIG"; exit 3',
    )
    assert result.returncode == 3
    name, kubeconfig = result.stdout.strip().split("|")
    assert name == "lab"
    assert kubeconfig.split(os.pathsep) == [overlay, str(bg.kubeconfig)]
    [event] = bg.events("break-glass.exec")
    assert event["command"] == "sh" and event["mode"] == "exec"


@needs_kubectl
def test_shell_uses_the_route(bg: Env) -> None:
    bg.lab.set(zt_path="blackhole")
    assert bg.start("--reason", REASON).returncode == 0
    bg.env["SHELL"] = "/bin/sh"
    result = bg.ztctl(
        "break-glass",
        "shell",
        "lab",
        input='kubectl get --raw /readyz; echo\necho "in $ZTCTL_BREAK_GLASS"\nexit 4\n',
    )
    assert result.returncode == 4, result.stderr
    assert result.stdout.split() == ["ok", "in", "lab"]
    [event] = bg.events("break-glass.exec")
    assert event["mode"] == "shell" and event["command"] == "sh"


# --- ssh and vpn routes ----------------------------------------------------------------


def install_fake_ssh(bg: Env) -> None:
    bin_dir = bg.state.parent / "fakebin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "ssh"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_SSH}" "$@"\n')
    script.chmod(0o755)
    bg.env["PATH"] = f"{bin_dir}{os.pathsep}{bg.env['PATH']}"
    bg.env["FAKE_SSH_LOG"] = str(bg.state.parent / "ssh-calls.jsonl")
    bg.use_catalog({"maxTtl": "1h", "ssh": {"host": "bastion.test", "user": "oncall"}})


@needs_kubectl
def test_ssh_route_opens_a_socks_tunnel_and_end_closes_it(bg: Env) -> None:
    install_fake_ssh(bg)
    bg.lab.set(zt_path="blackhole")
    started = bg.start("--reason", REASON)
    assert started.returncode == 0, started.stderr
    session = bg.session_file()
    assert session is not None
    route = session["route"]
    assert route["kind"] == "ssh"
    assert route["proxyUrl"].startswith("socks5://127.0.0.1:")
    assert routes_bg.process_matches(route["pid"], route["marker"])
    if Path("/proc/self/cmdline").exists():  # tunnel and watchdog: what the scan below sees
        assert len(route_processes(bg)) == 2
    whoami = bg.ztctl("break-glass", "exec", "lab", "--", "kubectl", "auth", "whoami", "-o", "json")
    assert whoami.returncode == 0, whoami.stderr
    extra = json.loads(whoami.stdout)["status"]["userInfo"]["extra"]
    assert extra["ztctl.lab/route"] == ["break-glass"]
    assert bg.ztctl("break-glass", "end", "lab").returncode == 0
    assert wait_for(lambda: not routes_bg.process_matches(route["pid"], route["marker"]))
    if Path("/proc/self/cmdline").exists():
        assert wait_for(lambda: route_processes(bg) == [])
    [end] = bg.events("break-glass.end")
    assert end["route"] == "ssh oncall@bastion.test:22"


def test_sigkilled_ztctl_leaves_no_route_past_the_ttl(bg: Env) -> None:
    """The ssh tunnel outlives every ztctl process; the watchdog still ends it in time."""
    install_fake_ssh(bg)
    bg.lab.set(zt_path="blackhole")
    assert bg.start("--reason", REASON, "--ttl", "3s").returncode == 0
    route = bg.session_file()["route"]  # type: ignore[index]
    port = int(route["proxyUrl"].rsplit(":", 1)[1])
    proc = subprocess.Popen(
        [*ZTCTL, "break-glass", "exec", "lab", "--", "sleep", "60"],
        env=bg.env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(lambda: bool(bg.events("break-glass.exec")))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        # No ztctl runs now. At the deadline the watchdog closes the tunnel.
        assert wait_for(lambda: not routes_bg.process_matches(route["pid"], route["marker"]))
        assert wait_for(lambda: not routes_bg.port_answers("127.0.0.1", port, timeout=0.5))
        # The session file goes last, once the event is recorded.
        assert wait_for(lambda: bg.session_file() is None)
        [expire] = bg.events("break-glass.expire")
        assert expire["by"] == "watchdog"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the orphaned `sleep`


VPN_UP = """
import subprocess, sys
proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", "ztctl-test-vpn"],
                        start_new_session=True, stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
open(sys.argv[1], "w").write(str(proc.pid))
"""
VPN_DOWN = """
import os, signal, sys
os.kill(int(open(sys.argv[1]).read()), signal.SIGTERM)
os.unlink(sys.argv[1])
"""


def vpn_daemon(pidfile: Path) -> int | None:
    return int(pidfile.read_text()) if pidfile.exists() else None


def test_vpn_route_runs_up_checks_the_interface_and_runs_down(bg: Env) -> None:
    pidfile = bg.state.parent / "vpn.pid"
    up = [sys.executable, "-c", VPN_UP, str(pidfile)]
    down = [sys.executable, "-c", VPN_DOWN, str(pidfile)]
    bg.use_catalog({"maxTtl": "1h", "vpn": {"up": up, "down": down, "interface": "lo"}})
    started = bg.start("--reason", REASON, "--force")  # the lab's cluster is on loopback
    assert started.returncode == 0, started.stderr
    pid = vpn_daemon(pidfile)
    assert routes_bg.process_matches(pid, "ztctl-test-vpn")
    overlay = json.loads(Path(bg.session_file()["overlay"]).read_text())  # type: ignore[index]
    assert "proxy-url" not in overlay["clusters"][0]["cluster"]  # the OS routes it
    assert bg.ztctl("break-glass", "end", "lab").returncode == 0
    assert wait_for(lambda: not routes_bg.process_matches(pid, "ztctl-test-vpn"))
    assert not pidfile.exists()


def test_vpn_whose_route_leaves_elsewhere_is_closed_again(bg: Env) -> None:
    pidfile = bg.state.parent / "vpn.pid"
    up = [sys.executable, "-c", VPN_UP, str(pidfile)]
    down = [sys.executable, "-c", VPN_DOWN, str(pidfile)]
    bg.use_catalog({"maxTtl": "1h", "vpn": {"up": up, "down": down, "interface": "oob0"}})
    result = bg.start("--reason", REASON, "--force")
    assert result.returncode == 5
    assert "does not go through oob0" in result.stderr
    assert "127.0.0.1 leaves by lo" in result.stderr
    assert not pidfile.exists()  # down ran
    assert bg.session_file() is None
    assert bg.events("break-glass.start") == []


def route_processes(bg: Env) -> list[int]:
    """Live processes of this test's sessions: the watchdog (its --state-dir) and the ssh
    tunnel (its ControlPath, which may live in /tmp when the state path is long)."""
    markers = [str(bg.state)]
    log = Path(bg.env.get("FAKE_SSH_LOG", "/nonexistent"))
    if log.exists():
        for line in log.read_text().splitlines():
            markers += [a for a in json.loads(line) if a.startswith("ControlPath=")]
    return sorted({pid for marker in markers for pid in processes_mentioning(marker)})


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains ``text`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if text in command and state != "Z":
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs Linux /proc")
def test_failed_proof_over_the_route_closes_it_again(bg: Env) -> None:
    install_fake_ssh(bg)
    bg.lab.set(zt_path="blackhole", client_cert="expired")
    result = bg.start("--reason", REASON)
    assert result.returncode in (4, 5), result.stderr
    assert "over the break-glass route (ssh oncall@bastion.test:22)" in result.stderr
    # Neither the tunnel nor the watchdog is left running; nothing is recorded as started.
    assert wait_for(lambda: route_processes(bg) == [])
    assert bg.session_file() is None
    assert bg.events("break-glass.start") == []


def test_an_api_server_that_answers_but_is_not_ready_is_a_warning(bg: Env) -> None:
    bg.lab.set(zt_path="blackhole", api="notready")
    result = bg.start("--reason", REASON)
    assert result.returncode == 0, result.stderr
    assert "warning: over the break-glass route:" in result.stderr
    assert "not ready" in result.stderr
    assert len(bg.events("break-glass.start")) == 1


# --- failing closed on the audit log ---------------------------------------------------


def break_audit_log(state: Path) -> None:
    """Make ``audit.jsonl`` unwritable even for root: a directory where the file should be."""
    audit = state / "audit.jsonl"
    if audit.exists():
        audit.rename(state / "audit.jsonl.saved")
    audit.mkdir(parents=True)


def saved_events(bg: Env) -> list[dict[str, Any]]:
    path = bg.state / "audit.jsonl.saved"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs Linux /proc")
def test_start_with_an_unwritable_audit_log_opens_nothing(bg: Env) -> None:
    break_audit_log(bg.state)
    result = bg.start("--reason", REASON, "--force")
    assert result.returncode == 1, result.stderr
    assert "to the audit log" in result.stderr
    assert "Is a directory" in result.stderr
    assert "free disk space" in result.stderr  # the fix
    assert "Traceback" not in result.stderr
    assert bg.session_file() is None  # no active session without its start event
    assert not (bg.state / "break-glass" / "lab").exists()  # no overlay either
    assert wait_for(lambda: route_processes(bg) == [])  # the watchdog is gone too
    status = bg.ztctl("break-glass", "status", "--json")
    assert json.loads(status.stdout)["sessions"] == []


VPN_UP_BREAKS_AUDIT = (
    VPN_UP
    + """
import os
audit = os.path.join(sys.argv[2], "audit.jsonl")
if os.path.exists(audit):
    os.rename(audit, audit + ".saved")
os.mkdir(audit)
"""
)


def test_start_whose_start_event_cannot_be_written_closes_the_route_again(bg: Env) -> None:
    """The disk fails after the route is up: the VPN's down runs, no session is left."""
    pidfile = bg.state.parent / "vpn.pid"
    up = [sys.executable, "-c", VPN_UP_BREAKS_AUDIT, str(pidfile), str(bg.state)]
    down = [sys.executable, "-c", VPN_DOWN, str(pidfile)]
    bg.use_catalog({"maxTtl": "1h", "vpn": {"up": up, "down": down, "interface": "lo"}})
    result = bg.start("--reason", REASON, "--force")
    assert result.returncode == 1, result.stderr
    assert "cannot write break-glass.start to the audit log" in result.stderr
    assert "was closed again and no session is open" in result.stderr
    assert "Traceback" not in result.stderr
    assert wait_for(lambda: not pidfile.exists())  # down ran: the VPN is closed
    assert bg.session_file() is None
    assert all(e["event"] != "break-glass.start" for e in saved_events(bg))


def test_exec_with_an_unwritable_audit_log_runs_nothing(bg: Env) -> None:
    assert bg.start("--reason", REASON, "--force").returncode == 0
    break_audit_log(bg.state)
    marker = bg.state.parent / "ran"
    result = bg.ztctl("break-glass", "exec", "lab", "--", "touch", str(marker))
    assert result.returncode == 1, result.stderr
    assert "cannot write break-glass.exec to the audit log" in result.stderr
    assert "touch was not run" in result.stderr
    assert not marker.exists()
    shell = bg.ztctl("break-glass", "shell", "lab", input=f"touch {marker}\n")
    assert shell.returncode == 1
    assert not marker.exists()


def test_end_with_an_unwritable_audit_log_still_closes_the_route(bg: Env) -> None:
    pidfile = bg.state.parent / "vpn.pid"
    up = [sys.executable, "-c", VPN_UP, str(pidfile)]
    down = [sys.executable, "-c", VPN_DOWN, str(pidfile)]
    bg.use_catalog({"maxTtl": "1h", "vpn": {"up": up, "down": down, "interface": "lo"}})
    assert bg.start("--reason", REASON, "--force").returncode == 0
    pid = vpn_daemon(pidfile)
    break_audit_log(bg.state)
    ended = bg.ztctl("break-glass", "end", "lab", "--json")
    assert ended.returncode == 1, ended.stderr  # the exit code says the audit failed ...
    assert "cannot write break-glass.end to the audit log" in ended.stderr
    [row] = json.loads(ended.stdout)["ended"]
    assert "Is a directory" in row["auditError"]
    assert row["problem"] is None
    assert wait_for(lambda: not routes_bg.process_matches(pid, "ztctl-test-vpn"))  # ... down ran
    assert not pidfile.exists()
    assert bg.session_file() is None


def test_huge_ttl_under_a_huge_max_ttl_is_refused_at_start(bg: Env) -> None:
    bg.use_catalog({"maxTtl": "999999999999d", "proxy": bg.lab.proxy_url})
    result = bg.start("--reason", REASON, "--force", "--ttl", "3000000d")
    assert result.returncode == 3, result.stderr
    # The catalog check refuses it when the catalog loads; the TTL rule again at use.
    assert "7d" in result.stderr and "maxTtl" in result.stderr
    assert "Traceback" not in result.stderr
    assert bg.session_file() is None
    assert bg.events() == []
    for args in (("status",), ("end", "lab"), ("exec", "lab", "--", "true")):
        after = bg.ztctl("break-glass", *args)
        assert "Traceback" not in after.stderr
        assert after.returncode in (0, 1), after.stderr


# --- VPN commands: announced, audited, taken from the catalog ---------------------------

SECRET = "hunter2-s3cret"


def vpn_catalog(bg: Env, interface: str = "lo", max_ttl: str = "1h") -> tuple[Path, list[str]]:
    """A lab VPN whose up/down carry secrets the way a careless catalog might."""
    pidfile = bg.state.parent / "vpn.pid"
    up = [
        sys.executable,
        "-c",
        VPN_UP,
        str(pidfile),
        f"--token={SECRET}",
        f"https://oncall:{SECRET}@vpn.acme.test/",
    ]
    down = [sys.executable, "-c", VPN_DOWN, str(pidfile), "--password", SECRET]
    bg.use_catalog({"maxTtl": max_ttl, "vpn": {"up": up, "down": down, "interface": interface}})
    return pidfile, up


def test_vpn_up_is_announced_and_a_failed_check_is_audited_with_its_down(bg: Env) -> None:
    pidfile, up = vpn_catalog(bg, interface="oob0")  # up succeeds, the route check fails
    bg.env["ZTCTL_NO_INPUT"] = "1"  # as in the report: no prompt, still announced
    result = bg.start("--reason", REASON, "--force")
    assert result.returncode == 5, result.stderr
    assert not pidfile.exists()  # down ran
    # Both commands were shown before they ran, shell-quoted, the secrets redacted.
    shown_up = "'--token=***' 'https://oncall:***@vpn.acme.test/'"
    assert "running the catalog's VPN up command for lab: " in result.stderr
    assert shown_up in result.stderr
    assert "running the catalog's VPN down command for lab: " in result.stderr
    assert "--password '***'" in result.stderr
    assert SECRET not in result.stderr + result.stdout
    # The attempt and its failure are in the audit log, with what tearing it down did.
    events = bg.events()
    assert [e["event"] for e in events] == ["break-glass.route-open", "break-glass.route-failed"]
    opened, failed = events
    assert opened["route"] == "vpn oob0" and opened["reason"] == REASON
    assert opened["command"][:4] == [*up[:3], str(pidfile)]
    assert opened["command"][4:] == ["--token=***", "https://oncall:***@vpn.acme.test/"]
    assert "does not go through oob0" in failed["error"]
    assert failed["downCommand"].endswith("--password '***'")
    assert "teardownProblem" not in failed
    assert failed["session"] == opened["session"]
    assert SECRET not in (bg.state / "audit.jsonl").read_text()
    assert bg.session_file() is None


def test_a_failing_vpn_up_is_audited_too(bg: Env) -> None:
    pidfile = bg.state.parent / "vpn.pid"
    up = [sys.executable, "-c", "import sys; print('no tunnel for you'); sys.exit(7)"]
    down = [sys.executable, "-c", VPN_DOWN, str(pidfile)]
    bg.use_catalog({"maxTtl": "1h", "vpn": {"up": up, "down": down, "interface": "lo"}})
    result = bg.start("--reason", REASON, "--force")
    assert result.returncode == 5
    [failed] = bg.events("break-glass.route-failed")
    assert "failed (exit 7): no tunnel for you" in failed["error"]
    assert bg.events("break-glass.start") == []


def edit_session(bg: Env, **changes: Any) -> None:
    path = bg.state / "break-glass" / "lab.json"
    document = json.loads(path.read_text())
    for key, value in changes.items():
        if key == "route":
            document["route"].update(value)
        else:
            document[key] = value
    path.write_text(json.dumps(document))


def test_end_runs_the_catalogs_down_not_the_session_files(bg: Env) -> None:
    pidfile, _up = vpn_catalog(bg)
    assert bg.start("--reason", REASON, "--force").returncode == 0
    pid = vpn_daemon(pidfile)
    assert bg.session_file()["route"]["down"] == []  # type: ignore[index]  # not stored
    pwned = bg.state.parent / "pwned"
    ten_years = time.time() + 10 * 365 * 86400
    edit_session(bg, deadline=ten_years, route={"down": ["touch", str(pwned)]})
    [row] = json.loads(bg.ztctl("break-glass", "status", "--json").stdout)["sessions"]
    assert row["remainingSeconds"] <= 3600  # the deadline is capped by the TTL
    assert row["deadline"] < "2100"
    ended = bg.ztctl("break-glass", "end", "lab")
    assert ended.returncode == 0, ended.stderr
    assert "running the catalog's VPN down command for lab" in ended.stderr
    assert not pwned.exists()
    assert wait_for(lambda: not routes_bg.process_matches(pid, "ztctl-test-vpn"))
    [end_event] = bg.events("break-glass.end")
    assert end_event["downCommand"].endswith("--password '***'")


def test_end_without_the_route_in_the_catalog_still_ends_the_session(bg: Env) -> None:
    pidfile, _up = vpn_catalog(bg)
    assert bg.start("--reason", REASON, "--force").returncode == 0
    pid = vpn_daemon(pidfile)
    try:
        bg.use_catalog({"maxTtl": "1h", "proxy": bg.lab.proxy_url})  # the VPN is gone
        ended = bg.ztctl("break-glass", "end", "lab")
        assert ended.returncode == 1
        assert "the catalog no longer gives lab a VPN route" in ended.stderr
        assert "close vpn lo yourself" in ended.stderr
        assert bg.session_file() is None  # the session is ended all the same
        [end_event] = bg.events("break-glass.end")
        assert "no longer gives lab a VPN route" in end_event["teardownProblem"]
        assert routes_bg.process_matches(pid, "ztctl-test-vpn")  # nothing ran
    finally:
        if pid:
            routes_bg.terminate(pid, "ztctl-test-vpn", grace=1.0)


def test_watchdog_and_exec_honour_the_capped_deadline(bg: Env) -> None:
    """An edited deadline and TTL: the catalog's maxTtl still ends the session in time."""
    bg.use_catalog({"maxTtl": "4s", "proxy": bg.lab.proxy_url})
    assert bg.start("--reason", REASON, "--force", "--ttl", "4s").returncode == 0
    started = bg.session_file()["started"]  # type: ignore[index]
    far = time.time() + 10 * 365 * 86400
    edit_session(bg, deadline=far, ttlSeconds=10 * 365 * 86400)
    began = time.monotonic()
    run = bg.ztctl("break-glass", "exec", "lab", "--", "sleep", "60", timeout=40)
    assert run.returncode == 128 + signal.SIGTERM, run.stderr  # stopped at the real deadline
    assert time.monotonic() - began < 15
    assert wait_for(lambda: bg.session_file() is None)  # the watchdog ended it
    [expire] = bg.events("break-glass.expire")
    assert expire["by"] in ("watchdog", "ztctl")
    assert expire["deadline"] <= expire_rfc3339(started + 4)


def expire_rfc3339(ts: float) -> str:
    from ztctl.core.breakglass.session import rfc3339

    return rfc3339(ts)


def test_a_proxy_password_is_never_printed(bg: Env) -> None:
    with_password = bg.lab.proxy_url.replace("socks5://", f"socks5://oncall:{SECRET}@")
    assert with_password != bg.lab.proxy_url
    bg.use_catalog({"maxTtl": "1h", "proxy": with_password})
    outputs = [bg.start("--reason", REASON, "--force"), bg.start("--reason", REASON, "--force")]
    assert outputs[0].returncode == 0, outputs[0].stderr
    outputs += [
        bg.ztctl("break-glass", "status"),
        bg.ztctl("break-glass", "status", "--json"),
        bg.ztctl("break-glass", "exec", "lab", "--", "true"),
        bg.ztctl("break-glass", "end", "lab", "--json"),
    ]
    for out in outputs:
        assert SECRET not in out.stdout + out.stderr
    assert "proxy socks5://127.0.0.1:" in outputs[2].stdout
    assert SECRET not in (bg.state / "audit.jsonl").read_text()


def unprivileged() -> list[str]:
    """As root, `unshare -U` drops the permission override, so mode 0400 means read-only."""
    if os.geteuid() != 0:
        return []
    if shutil.which("unshare") is None:
        pytest.skip("running as root and `unshare` is not installed")
    probe = subprocess.run(["unshare", "-U", "true"], capture_output=True, timeout=10, check=False)
    if probe.returncode != 0:
        pytest.skip("running as root and `unshare -U` is not permitted here")
    return ["unshare", "-U"]


def test_start_and_exec_with_a_read_only_audit_log_fail_closed(bg: Env) -> None:
    prefix = unprivileged()
    assert bg.start("--reason", REASON, "--force").returncode == 0  # a session to exec in
    audit = bg.state / "audit.jsonl"
    before = audit.read_bytes()
    audit.chmod(0o400)
    marker = bg.state.parent / "ran"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*prefix, *ZTCTL, "break-glass", *args],
            env=bg.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    refused = run("exec", "lab", "--", "touch", str(marker))
    assert refused.returncode == 1, refused.stderr
    assert "Permission denied" in refused.stderr and "touch was not run" in refused.stderr
    assert not marker.exists()
    ended = run("end", "lab")
    assert ended.returncode == 1, ended.stderr
    assert "cannot write break-glass.end to the audit log" in ended.stderr
    assert bg.session_file() is None  # ended all the same
    again = run("start", "lab", "--timeout", "1", "--reason", REASON, "--force")
    assert again.returncode == 1, again.stderr
    assert "was not opened" in again.stderr
    assert bg.session_file() is None
    assert audit.read_bytes() == before


def test_an_unapproved_vpn_command_is_not_run_without_a_terminal(bg: Env) -> None:
    pidfile = bg.state.parent / "vpn.pid"
    up = [sys.executable, "-c", VPN_UP, str(pidfile)]
    down = [sys.executable, "-c", VPN_DOWN, str(pidfile)]
    vpn = {"maxTtl": "1h", "vpn": {"up": up, "down": down, "interface": "lo"}}
    bg.use_catalog(vpn, trusted=False)
    result = bg.start("--reason", REASON, "--force")
    assert result.returncode == 4, result.stderr
    assert "not approved" in result.stderr and "ZTCTL_TRUST" in result.stderr
    assert not pidfile.exists()  # up never ran
    assert bg.session_file() is None
    bad_reason = bg.start("--reason", "asdf", "--force")
    assert bad_reason.returncode == 2  # a bad request is refused before trust is asked
    bg.use_catalog(vpn)  # approved: it runs
    assert bg.start("--reason", REASON, "--force").returncode == 0
    assert pidfile.exists()


def test_exec_of_a_cluster_not_in_the_catalog_says_so_and_suggests(bg: Env) -> None:
    proc = bg.ztctl("break-glass", "exec", "labb", "--", "true")
    assert proc.returncode == 3, proc.stderr
    assert "no cluster of that name is in the catalog (did you mean 'lab'?)" in proc.stderr
    assert "break-glass start labb" not in proc.stderr  # it would only fail next
    known = bg.ztctl("break-glass", "exec", "lab", "--", "true")
    assert known.returncode == 1 and "ztctl break-glass start lab" in known.stderr


def test_a_zero_ttl_suggests_a_ttl_that_is_accepted(bg: Env) -> None:
    proc = bg.start("--reason", REASON, "--ttl", "0")
    assert proc.returncode == 2
    assert "0s" not in proc.stderr and "write e.g. 30m or 1h" in proc.stderr


# --- the TTL holds whatever becomes of the session file --------------------------------


def _damage(path: Path, how: str) -> None:
    if how == "deleted":
        path.unlink()
    elif how == "truncated":
        with path.open("r+b") as handle:
            handle.truncate(50)
    elif how == "null":
        path.write_text("null\n")
    elif how == "directory":  # nothing can be written back over it
        path.unlink()
        path.mkdir()
        (path / "x").write_text("in the way\n")


def _session_id_on_disk(bg: Env) -> str | None:
    """The id in the session file, or None while it is missing or not a session."""
    try:
        document = json.loads((bg.state / "break-glass" / "lab.json").read_text())
    except (OSError, ValueError):
        return None
    return document.get("id") if isinstance(document, dict) else None


@pytest.mark.parametrize("how", ["deleted", "truncated", "null"])
def test_a_damaged_session_file_is_written_back_and_the_route_closed_at_the_deadline(
    bg: Env, how: str
) -> None:
    pidfile, _up = vpn_catalog(bg)
    # 15 s: room on a loaded machine for the write-back (~2 s) and status before the deadline
    started = bg.start("--reason", REASON, "--force", "--ttl", "15s", "--json")
    assert started.returncode == 0, started.stderr
    opened = json.loads(started.stdout)["session"]
    deadline = opened["deadline"]
    pid = vpn_daemon(pidfile)
    path = bg.state / "break-glass" / "lab.json"
    _damage(path, how)
    # The watchdog writes its copy back: status and end see the open route again.
    assert wait_for(lambda: _session_id_on_disk(bg) == opened["id"], timeout=10)
    [row] = json.loads(bg.ztctl("break-glass", "status", "--json").stdout)["sessions"]
    assert row["deadline"] == deadline and row["routeKind"] == "vpn"
    assert routes_bg.process_matches(pid, "ztctl-test-vpn")  # not closed early
    # At the deadline, with no ztctl running, the VPN's down runs.
    assert wait_for(lambda: not routes_bg.process_matches(pid, "ztctl-test-vpn"), timeout=30)
    assert wait_for(lambda: not pidfile.exists())  # by the catalog's down command
    assert wait_for(lambda: bg.events("break-glass.expire") != [])
    [expire] = bg.events("break-glass.expire")
    assert expire["by"] == "watchdog" and expire["deadline"] == deadline
    assert wait_for(lambda: not path.exists())


def test_a_session_file_that_cannot_be_written_back_still_ends_at_the_deadline(bg: Env) -> None:
    pidfile, _up = vpn_catalog(bg)
    started = bg.start("--reason", REASON, "--force", "--ttl", "6s", "--json")
    assert started.returncode == 0, started.stderr
    session_id = json.loads(started.stdout)["session"]["id"]
    pid = vpn_daemon(pidfile)
    path = bg.state / "break-glass" / "lab.json"
    _damage(path, "directory")
    # Meanwhile status lists the stray file and says what to do.
    for args in (("status", "--json"), ("break-glass", "status", "--json")):
        shown = bg.ztctl(*args)
        assert shown.returncode in (0, 4), shown.stderr
        document = json.loads(shown.stdout)
        strays = document.get("breakGlassStrays") or document.get("strays")
        assert [s["cluster"] for s in strays] == ["lab"]
        assert "it is a directory, not a regular file" in strays[0]["message"]
        assert "ztctl break-glass end lab" in strays[0]["fix"]
    # Only the watchdog's own copy of the session knows the route now: it closes it.
    assert wait_for(lambda: not routes_bg.process_matches(pid, "ztctl-test-vpn"), timeout=30)
    assert wait_for(lambda: not pidfile.exists())
    assert wait_for(lambda: bg.events("break-glass.expire") != [])
    [expire] = bg.events("break-glass.expire")
    assert expire["by"] == "watchdog" and expire["session"] == session_id
    assert expire["sessionFile"] == "damaged: it is a directory, not a regular file"
    assert "downCommand" in expire and "teardownProblem" not in expire
    shutil.rmtree(path)


STRAY_FILES = [
    ("null", "null\n", "it holds null, not a session object"),
    ("list", "[1, 2]", "it holds a list, not a session object"),
    ("number", "3.5", "it holds a number, not a session object"),
    ("wrong types", '{"id": 1, "cluster": "lab"}', "its field id is a number, not text"),
    (
        "wrong route",
        '{"id": "bg-1", "cluster": "lab", "started": 1, "deadline": 2, "route": [1]}',
        "its route is a list, not an object",
    ),
    ("cut off", '{"cluster": "lab", "deadline": 17964', "it is not JSON (cut off or edited?)"),
    ("fifo", None, "it is a FIFO (named pipe), not a regular file"),
]


@pytest.mark.parametrize(("name", "content", "why"), STRAY_FILES, ids=[s[0] for s in STRAY_FILES])
def test_status_lists_a_stray_session_file_instead_of_crashing(
    tmp_path: Path, name: str, content: str | None, why: str
) -> None:
    state = tmp_path / "state"
    (state / "break-glass").mkdir(parents=True)
    path = state / "break-glass" / "lab.json"
    if content is None:
        os.mkfifo(path)
    else:
        path.write_text(content)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "ZTCTL_STATE_DIR": str(state),
        "ZTCTL_CONFIG": str(tmp_path / "none.toml"),
        "ZTCTL_WARP_CLI": str(tmp_path / "no-warp-cli"),
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
        "NO_COLOR": "1",
    }
    message = f"the break-glass session file {path} cannot be read: {why}"
    fix = "run `ztctl break-glass end lab`: it closes the route if ztctl can tell which one"
    for args in (["status"], ["break-glass", "status"]):
        for json_flag in ([], ["--json"]):
            run = subprocess.run(
                [*ZTCTL, *args, *json_flag], env=env, capture_output=True, text=True, timeout=60
            )
            assert "internal error" not in run.stderr, (args, run.stderr)
            assert run.returncode in (0, 4), (args, run.stderr)
            if json_flag:
                document = json.loads(run.stdout)
                [stray] = document["breakGlassStrays" if args == ["status"] else "strays"]
                assert (stray["cluster"], stray["message"]) == ("lab", message)
                assert stray["fix"].startswith(fix)
            else:
                assert message in run.stdout and fix in run.stdout, (args, run.stdout)
                assert "no active session" not in run.stdout
                assert "No break-glass session is open." not in run.stdout
    assert path.exists()  # only listed: `end` decides what to do with it


@pytest.mark.parametrize(("how", "args"), [("deleted", ["lab"]), ("truncated", ["--all"])])
def test_end_closes_the_route_of_a_damaged_session_file(bg: Env, how: str, args: list[str]) -> None:
    pidfile, _up = vpn_catalog(bg)
    started = bg.start("--reason", REASON, "--force", "--ttl", "10m", "--json")
    assert started.returncode == 0, started.stderr
    session_id = json.loads(started.stdout)["session"]["id"]
    pid = vpn_daemon(pidfile)
    _damage(bg.state / "break-glass" / "lab.json", how)
    ended = bg.ztctl("break-glass", "end", *args)  # at once: it waits for the write-back
    assert ended.returncode == 0, ended.stderr
    assert "Ended the break-glass session for lab (vpn lo)." in ended.stdout
    assert wait_for(lambda: not routes_bg.process_matches(pid, "ztctl-test-vpn"))
    assert not pidfile.exists()  # the catalog's down ran
    [end_event] = bg.events("break-glass.end")
    assert end_event["session"] == session_id
    assert bg.events("break-glass.expire") == []
    assert not (bg.state / "break-glass" / "lab.json").exists()


def test_use_cluster_inside_a_break_glass_session_is_refused_and_writes_nothing(bg: Env) -> None:
    assert bg.start("--reason", REASON, "--force").returncode == 0
    overlay = Path(bg.session_file()["overlay"])  # type: ignore[index]
    before = (sha256(bg.kubeconfig), sha256(overlay))
    use_cluster = [*ZTCTL, "use-cluster", "lab", "--no-probe"]
    inside = bg.ztctl("break-glass", "exec", "lab", "--", *use_cluster)
    assert inside.returncode == 2, inside.stderr
    assert inside.stderr.splitlines() == [
        "error: this runs inside the break-glass session for lab: its kubeconfig list starts "
        f"with the session's temporary overlay {overlay}, so use-cluster would write there and "
        "the change would vanish when the session ends",
        "fix: run `ztctl use-cluster` outside the break-glass session (leave the break-glass "
        "shell, or use another terminal); inside it, pick a context with "
        "`kubectl --context NAME`",
    ]
    assert (sha256(bg.kubeconfig), sha256(overlay)) == before
    # Naming the real kubeconfig is a clear choice: it is written, the overlay is not.
    named = bg.ztctl(
        "break-glass", "exec", "lab", "--",
        *ZTCTL, "--kubeconfig", str(bg.kubeconfig), "use-cluster", "lab", "--no-probe",
    )  # fmt: skip
    assert named.returncode == 0, named.stderr
    assert sha256(overlay) == before[1]
    # Outside the session, use-cluster works as always.
    assert bg.ztctl("use-cluster", "lab", "--no-probe").returncode == 0


def test_end_of_a_damaged_file_nobody_writes_back_says_what_to_do(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "break-glass" / "lab").mkdir(parents=True)
    path = state / "break-glass" / "lab.json"
    path.write_text("null\n")  # and no watchdog: it was killed too
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "ZTCTL_STATE_DIR": str(state)}
    for args in (["lab"], ["--all"], []):
        run = subprocess.run(
            [*ZTCTL, "break-glass", "end", *args], env=env, capture_output=True, text=True
        )
        assert run.returncode == 1, run.stderr
        assert run.stderr == (
            f"warning: the break-glass session file {path} cannot be read: it holds null, not a "
            "session object, and no watchdog wrote it back: ztctl cannot tell which route it "
            "opened; close the route of lab yourself (a VPN: the catalog's down command), then "
            f"delete {path} and the directory {state / 'break-glass' / 'lab'}\n"
        )
        assert "No break-glass session" not in run.stdout
    assert path.read_text() == "null\n"
