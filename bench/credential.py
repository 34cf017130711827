"""`ztctl credential NAME` on a keyring hit — the path that runs inside every kubectl call.

    .venv/bin/python bench/credential.py [--runs N]

Goal (issue 7): within 5× of `python -c pass` (same interpreter). Prints the whole-command
timings, the cost of each way to reach the OS store (what the fast path avoids), and the
modules the hit path imports, heaviest first (`python -X importtime`).

The store is the isolated test keyring (`tests/support/keyring_backend.py`, selected with
PYTHON_KEYRING_BACKEND as a real backend would be) holding an unsigned JWT that expires in
an hour: the hit path decodes claims but never verifies signatures, so no lab is needed.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
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
        print("## Heaviest imports of the hit path (python -X importtime, self time)\n")
        print("```")
        script = ztctl[1:] if ztctl[0] == sys.executable else ztctl
        print("\n".join(top_imports([*script, "credential", CLUSTER], env)))
        print("```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
