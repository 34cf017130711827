"""A stand-in for the OpenSSH client, for break-glass tests where no sshd can run.

Installed as ``ssh`` on PATH by the tests. It behaves like ``ssh -N -f -D ADDR:PORT`` as far
as ztctl can see: it refuses to run with host-key checking off, fails like ssh for the hosts
``badkey.test`` (host key verification) and ``denied.test`` (publickey refused), binds the
``-D`` port (failing like ssh when it is taken), serves SOCKS5 there with the lab's bastion
(which connects out from 127.0.0.2, so the lab API server sees the break-glass route), goes
to the background only once the port listens (``-f``), and answers ``-O check`` (``Master
running (pid=N)`` on stderr) and ``-O exit`` through the ``ControlPath`` — here a plain file
holding the background pid. Every invocation appends its argv to ``$FAKE_SSH_LOG``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

FLAGS = set("NfaxTqvCgnsAkKMtVy46")
WITH_VALUE = set("DopliSOLRWJEFbcemw")


def parse(argv: list[str]) -> tuple[dict[str, str], dict[str, str], set[str], str | None]:
    values: dict[str, str] = {}
    options: dict[str, str] = {}
    flags: set[str] = set()
    host = None
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            host = argv[index + 1] if index + 1 < len(argv) else None
            break
        if arg.startswith("-") and len(arg) >= 2:
            letter = arg[1]
            if letter in WITH_VALUE:
                value = arg[2:] or argv[index + 1]
                index += 1 if arg[2:] else 2
                if letter == "o":
                    key, _, val = value.partition("=")
                    options.setdefault(key, val)
                else:
                    values[letter] = value
                continue
            flags.update(arg[1:])
            index += 1
            continue
        host = arg
        break
    return values, options, flags, host


def main() -> int:
    argv = sys.argv[1:]
    log = os.environ.get("FAKE_SSH_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(argv) + "\n")
    values, options, flags, host = parse(argv)
    control = options.get("ControlPath") or values.get("S")
    if "O" in values:
        return control_command(values["O"], control)
    if options.get("StrictHostKeyChecking") != "yes":
        sys.stderr.write("fake ssh: refusing to run with host-key checking off\n")
        return 255
    if host == "badkey.test":
        sys.stderr.write(
            "No ED25519 host key is known for badkey.test and you have requested strict "
            "checking.\r\nHost key verification failed.\r\n"
        )
        return 255
    if host == "denied.test":
        sys.stderr.write("oncall@denied.test: Permission denied (publickey).\r\n")
        return 255
    if host != "bastion.test":
        sys.stderr.write(f"ssh: Could not resolve hostname {host}: Name or service not known\r\n")
        return 255
    address, _, port = values["D"].rpartition(":")
    from ztctl.lab.bastion import Bastion

    try:
        bastion = Bastion(address, int(port))  # binds now; serves after the fork
    except OSError:
        sys.stderr.write(
            f"bind [{address}]:{port}: Address already in use\r\n"
            f"channel_setup_fwd_listener_tcpip: cannot listen to port: {port}\r\n"
            "Could not request local forwarding.\r\n"
        )
        return 255
    if "f" in flags:
        child = os.fork()
        if child > 0:
            write_control(control, child)  # like ssh: the mux socket exists before -f
            os._exit(0)  # the foreground part ends once the port listens
        os.setsid()
    else:
        write_control(control, os.getpid())
    bastion.start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    while True:
        time.sleep(3600)


def write_control(control: str | None, pid: int) -> None:
    if control:
        with open(control, "w", encoding="utf-8") as handle:
            handle.write(str(pid))


def control_command(command: str, control: str | None) -> int:
    try:
        with open(control or "", encoding="utf-8") as handle:
            pid = int(handle.read().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        sys.stderr.write(f"Control socket connect({control}): No such file or directory\r\n")
        return 255
    if command == "check":
        sys.stderr.write(f"Master running (pid={pid})\r\n")
        return 0
    if command == "exit":
        os.kill(pid, signal.SIGTERM)
        os.unlink(control or "")
        sys.stderr.write("Exit request sent.\r\n")
        return 0
    return 255


if __name__ == "__main__":
    sys.exit(main())
