"""`ztctl credential NAME` on a keyring hit — the path that runs inside every kubectl call.

    .venv/bin/python bench/credential.py [--runs N]

Goal (issue 7): within 5× of `python -c pass` (same interpreter). Prints the whole-command
timings, the cost of each way to reach the OS store (what the fast path avoids), and the
modules the hit path imports, heaviest first (`python -X importtime`).

The store is the isolated test keyring (`tests/support/keyring_backend.py`, selected with
PYTHON_KEYRING_BACKEND as a real backend would be) holding an unsigned JWT that expires in
an hour: the hit path decodes claims but never verifies signatures, so no lab is needed.

Where `dbus-daemon` and `gnome-keyring-daemon` are installed, a second table times the same
hit against a real Secret Service: a private D-Bus session bus and gnome-keyring started for
the bench (keyrings in a temporary directory, never the user's own session), nothing
configured, so `ztctl credential` takes its default Linux route (the `jeepney` D-Bus reader).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import ROOT, Timing, report, time_command, ztctl_command

CLUSTER = "bench"
EXEC_INFO = json.dumps(
    {
        "kind": "ExecCredential",
        "apiVersion": "client.authentication.k8s.io/v1",
        "spec": {"interactive": False},
    }
)


def _b64(data: dict[str, object]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def fake_token() -> str:
    now = int(time.time())
    header = {"alg": "RS256", "kid": "0" * 64, "typ": "JWT"}
    claims = {
        "aud": ["a" * 64],
        "email": "bench@example.com",
        "exp": now + 3600,
        "iat": now,
        "nbf": now,
        "iss": "https://bench.cloudflareaccess.com",
        "type": "app",
        "sub": "00000000-0000-0000-0000-000000000000",
    }
    return f"{_b64(header)}.{_b64(claims)}.{'s' * 342}"


def bench_env(tmp: Path) -> dict[str, str]:
    env = {
        "PYTHON_KEYRING_BACKEND": "tests.support.keyring_backend.IsolatedKeyring",
        "ZTCTL_TEST_KEYRING_DIR": str(tmp / "keyring"),
        "ZTCTL_CONFIG": str(tmp / "config.toml"),
        "ZTCTL_STATE_DIR": str(tmp / "state"),
        "KUBERNETES_EXEC_INFO": EXEC_INFO,
        "PYTHONPATH": str(ROOT),
    }
    store = tmp / "keyring"
    store.mkdir(mode=0o700)
    (store / "items.json").write_text(json.dumps({"ztctl": {CLUSTER: fake_token()}}))
    return env


BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path={socket}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/>
<allow eavesdrop="true"/><allow own="*"/></policy></busconfig>
"""
# What could point a process at the user's own store or bus instead of the bench's.
SCRUBBED = ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY", "PYTHON_KEYRING_BACKEND")


@contextlib.contextmanager
def real_secret_service(tmp: Path) -> Iterator[dict[str, str] | str]:
    """The environment of a private bus with gnome-keyring on it, or why there is none."""
    dbus_daemon, gnome_keyring = shutil.which("dbus-daemon"), shutil.which("gnome-keyring-daemon")
    if not (sys.platform.startswith("linux") and dbus_daemon and gnome_keyring):
        yield "dbus-daemon or gnome-keyring-daemon not installed"
        return
    home = tmp / "ss-home"
    (home / "data").mkdir(parents=True)
    (tmp / "bus.conf").write_text(BUS_CONFIG.format(socket=tmp / "bus"), encoding="utf-8")
    env = {
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp / 'bus'}",
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_RUNTIME_DIR": str(tmp),
    }
    full = {k: v for k, v in os.environ.items() if k not in SCRUBBED} | env
    procs: list[subprocess.Popen[bytes]] = []
    try:
        bus = subprocess.Popen(
            [dbus_daemon, f"--config-file={tmp / 'bus.conf'}", "--nofork", "--print-address=1"],
            env=full,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        procs.append(bus)
        if bus.stdout is None or not bus.stdout.readline():
            yield "dbus-daemon did not start"
            return
        keyring_daemon = subprocess.Popen(
            [gnome_keyring, "--foreground", "--unlock", "--components=secrets"],
            env=full,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(keyring_daemon)
        assert keyring_daemon.stdin is not None
        keyring_daemon.stdin.write(b"bench-keyring-password")
        keyring_daemon.stdin.close()
        store = (
            "import sys, time\n"
            "from keyring.backends.SecretService import Keyring\n"
            "for _ in range(100):\n"
            "    try:\n"
            "        Keyring().set_password('ztctl', sys.argv[1], sys.argv[2]); break\n"
            "    except Exception:\n"
            "        time.sleep(0.05)\n"
            "else:\n"
            "    sys.exit(1)\n"
        )
        stored = subprocess.run(
            [sys.executable, "-c", store, CLUSTER, fake_token()], env=full, check=False, timeout=30
        )
        yield env if stored.returncode == 0 else "gnome-keyring did not take the token"
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=5)
            if proc.stdout is not None:
                proc.stdout.close()


def import_cost(label: str, code: str, runs: int, env: dict[str, str]) -> Timing:
    return time_command(label, [sys.executable, "-c", code], runs=runs, env=env)


def top_imports(argv: list[str], env: dict[str, str], limit: int = 12) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
        rows.append((int(self_us), int(cumulative_us), name.strip()))
    rows.sort(reverse=True)
    return [f"{self_us / 1000:6.2f} ms self  {name}" for self_us, _cum, name in rows[:limit]]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    runs = args.runs
    ztctl = ztctl_command()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        env = bench_env(tmp)
        check = subprocess.run(
            [*ztctl, "credential", CLUSTER],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0 or '"token"' not in check.stdout:
            raise SystemExit(f"ztctl credential did not answer from the keyring: {check.stderr}")

        baseline = time_command("python -c pass", [sys.executable, "-c", "pass"], runs=runs)
        timings = [
            baseline,
            time_command("ztctl --version", [*ztctl, "--version"], runs=runs),
            time_command(
                "ztctl credential (keyring hit)",
                [*ztctl, "credential", CLUSTER],
                runs=runs,
                env=env,
            ),
            time_command(
                "ztctl credential through click",
                [*ztctl, "--no-input", "credential", CLUSTER],
                runs=runs,
                env=env,
            ),
        ]
        print(report("ztctl credential, keyring hit", timings, baseline))
        print()
        costs = [
            baseline,
            import_cost(
                "keyring discovery: import keyring; get_keyring()",
                "import keyring; keyring.get_keyring()",
                runs,
                {k: v for k, v in env.items() if k != "PYTHON_KEYRING_BACKEND"},
            ),
            import_cost("import keyring", "import keyring", runs, env),
            import_cost(
                "import keyring.backends.SecretService",
                "import keyring.backends.SecretService",
                runs,
                env,
            ),
            import_cost(
                "fast path Secret Service reader: import jeepney.io.blocking",
                "import jeepney.io.blocking",
                runs,
                env,
            ),
            import_cost(
                "the hit path's own modules: import ztctl.core.credential, adapters.keyring",
                "import ztctl.core.credential, ztctl.adapters.keyring",
                runs,
                env,
            ),
        ]
        print(report("Where the time goes: imports (each a whole process)", costs, baseline))
        print()
        with real_secret_service(tmp) as real:
            if isinstance(real, str):
                print(f"## Real Secret Service: not measured ({real})")
            else:
                # Nothing configured: ztctl's default Linux route, as on a desktop.
                for key in SCRUBBED:
                    os.environ.pop(key, None)
                real_env = {**real, "KUBERNETES_EXEC_INFO": EXEC_INFO, "PYTHONPATH": str(ROOT)}
                real_env["ZTCTL_STATE_DIR"] = str(tmp / "state")
                read = "import keyring; assert keyring.get_password('ztctl', 'bench')"
                rows = [
                    baseline,
                    time_command(
                        "ztctl credential (keyring hit), jeepney D-Bus reader",
                        [*ztctl, "credential", CLUSTER],
                        runs=runs,
                        env=real_env,
                    ),
                    import_cost(
                        "keyring's own read: import keyring; keyring.get_password()",
                        read,
                        runs,
                        real_env,
                    ),
                ]
                title = "ztctl credential against a real Secret Service (gnome-keyring, D-Bus)"
                print(report(title, rows, baseline))
        print()
        print("## Heaviest imports of the hit path (python -X importtime, self time)\n")
        print("```")
        script = ztctl[1:] if ztctl[0] == sys.executable else ztctl
        print("\n".join(top_imports([*script, "credential", CLUSTER], env)))
        print("```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
