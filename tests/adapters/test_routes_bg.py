"""Opening and closing break-glass routes: proxy checks, ``ssh -D`` (a stand-in ssh, and a
real sshd where one is installed), VPN commands."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ztctl.adapters import routes_bg, socks

FAKE_SSH = Path(__file__).parents[1] / "core" / "fake_ssh.py"


@pytest.fixture
def fake_ssh(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment whose ``ssh`` is the stand-in; yields the env (FAKE_SSH_LOG set)."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    script = bin_dir / "ssh"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_SSH}" "$@"\n')
    script.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "FAKE_SSH_LOG": str(tmp_path / "ssh-calls.jsonl"),
    }
    yield env


def ssh_calls(env: dict[str, str]) -> list[list[str]]:
    path = Path(env["FAKE_SSH_LOG"])
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def socks_connect(proxy_url: str, host: str, port: int) -> tuple[str, int]:
    spec = socks.parse_proxy_url(proxy_url)
    with socket.create_connection((spec.host, spec.port), timeout=5) as sock:
        sock.settimeout(5)
        return socks.socks5_connect(sock, host, port)


def port_closes(port: int, timeout: float = 10.0) -> bool:
    """Whether 127.0.0.1:port stops accepting connections (polled, bounded)."""
    end = time.monotonic() + timeout
    while routes_bg.port_answers("127.0.0.1", port, timeout=0.5):
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


# --- proxy -----------------------------------------------------------------------------


def test_check_proxy_accepts_the_lab_bastion(lab) -> None:  # type: ignore[no-untyped-def]
    routes_bg.check_proxy(lab.proxy_url, timeout=2)


def test_check_proxy_names_a_closed_port() -> None:
    port = routes_bg.free_loopback_port()
    with pytest.raises(routes_bg.RouteError) as caught:
        routes_bg.check_proxy(f"socks5://127.0.0.1:{port}", timeout=1)
    assert "does not accept connections" in caught.value.message
    assert f"127.0.0.1:{port}" in caught.value.message
    assert caught.value.fix


def test_check_proxy_refuses_something_that_is_not_socks() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(16)
            conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        with pytest.raises(routes_bg.RouteError, match="SOCKS5 greeting"):
            routes_bg.check_proxy(f"socks5://127.0.0.1:{port}", timeout=2)
    finally:
        thread.join(5)
        server.close()


def test_check_proxy_refuses_a_bad_url() -> None:
    with pytest.raises(routes_bg.RouteError, match="unsupported scheme"):
        routes_bg.check_proxy("ftp://127.0.0.1:21")


# --- ssh -------------------------------------------------------------------------------


def test_ssh_command_keeps_host_key_checking_on_and_fails_on_forward_failure() -> None:
    command = routes_bg.ssh_command(
        "bastion.oob.test",
        port=2222,
        local_port=40000,
        control_path="/s/ctl",
        user="oncall",
        identity_file=Path("/keys/oob"),
        batch=True,
    )
    assert command[:5] == ["ssh", "-N", "-f", "-D", "127.0.0.1:40000"]
    options = [command[i + 1] for i, arg in enumerate(command) if arg == "-o"]
    assert "StrictHostKeyChecking=yes" in options
    assert "ExitOnForwardFailure=yes" in options
    assert "BatchMode=yes" in options
    assert "ControlPath=/s/ctl" in options
    assert "ForwardAgent=no" in options
    assert "IdentitiesOnly=yes" in options
    assert command[-2:] == ["--", "bastion.oob.test"]  # a host can never be read as an option
    assert command[command.index("-p") + 1] == "2222"
    assert command[command.index("-l") + 1] == "oncall"
    assert command[command.index("-i") + 1] == "/keys/oob"
    interactive = routes_bg.ssh_command("h", port=22, local_port=1, control_path="/c")
    assert "BatchMode=no" in interactive


def test_control_path_falls_back_to_a_short_path(tmp_path: Path) -> None:
    assert routes_bg.control_path_for(Path("/s"), "bg-123") == "/s/ssh.ctl"
    deep = Path("/" + "d" * 120)
    short = routes_bg.control_path_for(deep, "bg-0123456789ab")
    assert len(short) <= 90 and short.endswith("ztctl-bg-0123456789ab.ctl")


def test_open_ssh_serves_socks_until_closed(
    tmp_path: Path,
    fake_ssh: dict[str, str],
    lab,  # type: ignore[no-untyped-def]
) -> None:
    control = str(tmp_path / "ssh.ctl")
    tunnel = routes_bg.open_ssh(
        "bastion.test",
        user="oncall",
        control_path=control,
        log_file=tmp_path / "ssh.log",
        interactive=False,
        env=fake_ssh,
    )
    try:
        assert tunnel.proxy_url == f"socks5://127.0.0.1:{tunnel.port}"
        assert routes_bg.process_matches(tunnel.pid, tunnel.marker)
        # Through the tunnel to the lab API server, arriving from the bastion's address.
        bound, _ = socks_connect(tunnel.proxy_url, "127.0.0.1", lab.api_port)
        assert bound == "127.0.0.2"
        first = ssh_calls(fake_ssh)[0]
        assert "BatchMode=yes" in first  # no terminal: never wait for a prompt
    finally:
        gone = routes_bg.close_ssh(tunnel.pid, control, "bastion.test", env=fake_ssh)
    assert gone
    assert not routes_bg.process_matches(tunnel.pid, tunnel.marker)
    assert port_closes(tunnel.port)
    assert ["-o", f"ControlPath={control}", "-O", "exit", "--", "bastion.test"] in ssh_calls(
        fake_ssh
    )


def test_unknown_host_key_is_a_refusal_with_the_fix(
    tmp_path: Path, fake_ssh: dict[str, str]
) -> None:
    with pytest.raises(routes_bg.RouteError) as caught:
        routes_bg.open_ssh(
            "badkey.test",
            control_path=str(tmp_path / "c"),
            log_file=tmp_path / "ssh.log",
            interactive=False,
            env=fake_ssh,
        )
    assert "Host key verification failed" in caught.value.message
    assert "known_hosts" in caught.value.fix
    assert "never skips" in caught.value.fix
    assert "`ssh-keyscan badkey.test`" in caught.value.fix  # port 22: no -p


def test_refused_key_says_to_load_it_into_the_agent(
    tmp_path: Path, fake_ssh: dict[str, str]
) -> None:
    with pytest.raises(routes_bg.RouteError) as caught:
        routes_bg.open_ssh(
            "denied.test",
            control_path=str(tmp_path / "c"),
            log_file=tmp_path / "ssh.log",
            interactive=False,
            env=fake_ssh,
        )
    assert "Permission denied" in caught.value.message
    assert "ssh-add" in caught.value.fix


def test_missing_ssh_binary_is_named(tmp_path: Path) -> None:
    with pytest.raises(routes_bg.RouteError, match="not installed"):
        routes_bg.open_ssh(
            "bastion.test",
            control_path=str(tmp_path / "c"),
            log_file=tmp_path / "ssh.log",
            interactive=False,
            ssh=str(tmp_path / "no-ssh-here"),
        )


SSHD = shutil.which("sshd") or next(
    (p for p in ("/usr/sbin/sshd", "/usr/local/sbin/sshd") if os.access(p, os.X_OK)), None
)


@pytest.mark.skipif(
    SSHD is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None,
    reason="a real sshd, ssh and ssh-keygen are needed (not installed here)",
)
def test_real_ssh_tunnel_to_a_local_sshd(
    tmp_path: Path,
    lab,  # type: ignore[no-untyped-def]
) -> None:
    """The real OpenSSH client against a local sshd: host key known, key auth, -D works."""
    assert SSHD is not None
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    for name in ("host", "user"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)], check=True
        )
    (keys / "authorized_keys").write_text((keys / "user.pub").read_text())
    (keys / "authorized_keys").chmod(0o600)
    port = routes_bg.free_loopback_port()
    sshd_config = tmp_path / "sshd_config"
    sshd_config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {keys / 'host'}",
                f"AuthorizedKeysFile {keys / 'authorized_keys'}",
                f"PidFile {tmp_path / 'sshd.pid'}",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "AllowTcpForwarding yes",
                "",
            ]
        )
    )
    sshd_log = tmp_path / "sshd.log"
    with open(sshd_log, "wb") as log:
        sshd = subprocess.Popen([SSHD, "-D", "-e", "-f", str(sshd_config)], stderr=log)
    try:
        if not routes_bg.wait_port("127.0.0.1", port, 10):
            problem = sshd_log.read_text(errors="replace").strip()
            if sshd.poll() is not None and "privilege separation directory" in problem:
                pytest.skip(f"sshd cannot start here: {problem}")
            raise AssertionError(f"sshd did not listen on {port}: {problem}")
        host_pub = (keys / "host.pub").read_text().split()
        known = tmp_path / "known_hosts"
        known.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
        # ssh reads ~/.ssh from the passwd entry, not $HOME: a wrapper adds -F with the test's
        # known_hosts (command-line -o options, host-key checking included, still win).
        client_config = tmp_path / "ssh_config"
        client_config.write_text(
            f"UserKnownHostsFile {known}\nGlobalKnownHostsFile /dev/null\n"
            f"IdentityFile {keys / 'user'}\n"
        )
        wrapper = tmp_path / "ssh"
        wrapper.write_text(f'#!/bin/sh\nexec "{shutil.which("ssh")}" -F "{client_config}" "$@"\n')
        wrapper.chmod(0o755)
        control = routes_bg.control_path_for(tmp_path, "bg-realsshd01")
        tunnel = routes_bg.open_ssh(
            "127.0.0.1",
            port=port,
            user=os.environ.get("USER") or "root",
            control_path=control,
            log_file=tmp_path / "ssh.log",
            interactive=False,
            ssh=str(wrapper),
        )
        try:
            assert tunnel.pid is not None
            socks_connect(tunnel.proxy_url, "127.0.0.1", lab.api_port)
        finally:
            assert routes_bg.close_ssh(tunnel.pid, control, "127.0.0.1", ssh=str(wrapper))
        # An unknown host key is refused, never accepted on first use; the fix names the
        # bastion's real port (ssh-keyscan -p, and known_hosts' [host]:port form).
        known.write_text("")
        with pytest.raises(routes_bg.RouteError, match="Host key verification failed") as caught:
            routes_bg.open_ssh(
                "127.0.0.1",
                port=port,
                control_path=control,
                log_file=tmp_path / "ssh2.log",
                interactive=False,
                ssh=str(wrapper),
            )
        assert f"`ssh-keyscan -p {port} 127.0.0.1`" in caught.value.fix
        assert f"[127.0.0.1]:{port}" in caught.value.fix
    finally:
        sshd.terminate()
        sshd.wait(10)


# --- vpn -------------------------------------------------------------------------------


def test_vpn_command_failure_names_the_command_and_output(tmp_path: Path) -> None:
    with pytest.raises(routes_bg.RouteError) as caught:
        routes_bg.run_vpn_command(
            [sys.executable, "-c", "import sys; print('no such tunnel oob'); sys.exit(3)"],
            log_file=tmp_path / "vpn.log",
            interactive=False,
        )
    assert "failed (exit 3)" in caught.value.message
    assert "no such tunnel oob" in caught.value.message


def test_vpn_command_not_installed(tmp_path: Path) -> None:
    with pytest.raises(routes_bg.RouteError, match="not installed"):
        routes_bg.run_vpn_command(
            [str(tmp_path / "wg-quick"), "up", "oob"],
            log_file=tmp_path / "vpn.log",
            interactive=False,
        )


def test_vpn_command_that_succeeds(tmp_path: Path) -> None:
    marker = tmp_path / "up"
    routes_bg.run_vpn_command(
        [sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"],
        log_file=tmp_path / "vpn.log",
        interactive=False,
    )
    assert marker.exists()


REDACTION_CASES = [
    (["wg-quick", "up", "oob"], "wg-quick up oob"),
    (["openconnect", "--password", "pw1", "vpn.acme"], "openconnect --password '***' vpn.acme"),
    (["tool", "--api-key", "k", "-p", "22"], "tool --api-key '***' -p 22"),
    (["tool", "--token=abc", "--user=bob"], "tool '--token=***' --user=bob"),
    (["tool", "client_secret=abc", "PSK=xyz"], "tool 'client_secret=***' 'PSK=***'"),
    (["curl", "https://bob:pw2@vpn.acme/x"], "curl 'https://bob:***@vpn.acme/x'"),
    (["curl", "https://bob@vpn.acme/x"], "curl https://bob@vpn.acme/x"),  # no password
    (
        ["sh", "-c", "PASSWORD=pw3; connect --auth-key=k2 https://u:pw4@h/ && id"],
        "sh -c 'PASSWORD=***; connect --auth-key=*** https://u:***@h/ && id'",
    ),
    (["ip", "link", "set", "monkey=1", "keyboard"], "ip link set monkey=1 keyboard"),
    (["echo", "it's a test"], "echo 'it'\"'\"'s a test'"),  # shell-quoted as run
]


@pytest.mark.parametrize(("argv", "shown"), REDACTION_CASES)
def test_vpn_commands_are_shown_shell_quoted_with_secrets_redacted(
    argv: list[str], shown: str
) -> None:
    assert routes_bg.shown_command(argv) == shown
    assert len(routes_bg.redact_argv(argv)) == len(argv)


def test_vpn_command_failure_does_not_print_its_secrets(tmp_path: Path) -> None:
    secret = "s3cret-pw"
    with pytest.raises(routes_bg.RouteError) as caught:
        routes_bg.run_vpn_command(
            ["sh", "-c", "exit 3", f"--password={secret}"],
            log_file=tmp_path / "vpn.log",
            interactive=False,
        )
    assert secret not in caught.value.message + caught.value.fix
    assert "'--password=***'" in caught.value.message


def test_a_route_log_is_read_from_its_tail_only(tmp_path: Path) -> None:
    log = tmp_path / "ssh.log"
    with log.open("w") as handle:
        handle.write("debug1: chatty line\n" * 200_000)  # ~4 MiB of ssh -v
        handle.write("\nbind [127.0.0.1]:4000: Address already in use\n")
        handle.write("channel_setup_fwd_listener_tcpip: cannot listen to port: 4000\n")
        handle.write("Could not request local forwarding.\n")
    assert routes_bg._tail(log) == (
        "bind [127.0.0.1]:4000: Address already in use | "
        "channel_setup_fwd_listener_tcpip: cannot listen to port: 4000 | "
        "Could not request local forwarding."
    )
    assert routes_bg._tail(tmp_path / "absent.log") == ""
    short = tmp_path / "short.log"
    short.write_text("only line\n")
    assert routes_bg._tail(short) == "only line"
