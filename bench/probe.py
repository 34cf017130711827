"""`ztctl probe` against curl and kubectl on the lab, in one run.

    .venv/bin/python bench/probe.py [--count 50] [--rounds 3] [--runs 20]

1. Per request on a kept-alive connection: `ztctl probe lab --count N --interval 0` (its
   kept-alive p50, measured by ztctl on the wire) against `curl` fetching the same `/readyz`
   N+1 times on one connection with the same CA, client certificate and address
   (`%{time_total}` of transfers 2..N+1). Goal: ratio ≤ 1.2 after the first request.
2. Fresh connection (DNS + TCP + TLS + GET /readyz), for information: ztctl's fresh p50
   against curl's first transfer.
3. Process start-up: one `ztctl probe lab` (healthy lab) against
   `kubectl get --raw /readyz`, whole processes. Goal: ratio ≤ 2.

A private lab is started in a temporary directory and stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import ROOT, require, time_command, ztctl_command


def curl_times(curl: str, env: dict[str, str], lab: object, count: int) -> list[float]:
    """ms per transfer for count+1 GETs of /readyz on one curl connection."""
    info = lab  # LabInfo
    pki = info.paths.pki  # type: ignore[attr-defined]
    url = f"{info.server}/readyz"  # type: ignore[attr-defined]
    port = info.api_port  # type: ignore[attr-defined]
    args = [
        curl,
        "--silent",
        "--show-error",
        "--fail",
        "--http1.1",
        "--resolve",
        f"localhost:{port}:127.0.0.1",
        "--cacert",
        str(pki / "ca.crt"),
        "--cert",
        str(pki / "client.crt"),
        "--key",
        str(pki / "client.key"),
        "--write-out",
        "%{time_total} %{num_connects}\n",
    ]
    for _ in range(count + 1):
        args += ["--output", "/dev/null", url]
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True, timeout=120)
    rows = [line.split() for line in out.stdout.splitlines() if line.strip()]
    if len(rows) != count + 1:
        raise SystemExit(f"curl printed {len(rows)} timings, expected {count + 1}")
    reconnects = sum(int(r[1]) for r in rows[1:])
    if reconnects:
        raise SystemExit(f"curl opened {reconnects} extra connections: not a keep-alive run")
    return [float(r[0]) * 1000.0 for r in rows]


def ztctl_samples(ztctl: list[str], env: dict[str, str], count: int) -> dict[str, object]:
    out = subprocess.run(
        [
            *ztctl,
            "probe",
            "lab",
            "--route",
            "zero-trust",
            "--count",
            str(count),
            "--interval",
            "0",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    samples: dict[str, object] = json.loads(out.stdout)["samples"]
    return samples


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    curl = require("curl")
    kubectl = require("kubectl")
    ztctl = ztctl_command()
    # Users run from byte-compiled modules; PYTHONDONTWRITEBYTECODE (set in some CI images)
    # would otherwise make every measured process recompile whatever changed since the install.
    import compileall

    compileall.compile_dir(str(ROOT / "ztctl"), quiet=1)

    from ztctl.lab import control

    with tempfile.TemporaryDirectory(prefix="ztctl-bench-") as tmp:
        info = control.up(Path(tmp) / "lab").info
        try:
            import os

            env = info.env(dict(os.environ))
            keep_ratios, rows = [], []
            for round_no in range(1, args.rounds + 1):
                samples = ztctl_samples(ztctl, env, args.count)
                times = curl_times(curl, env, info, args.count)
                curl_p50 = statistics.median(times[1:])
                ours = float(samples["p50Ms"])  # type: ignore[arg-type]
                fresh = float(samples["fresh"]["p50Ms"])  # type: ignore[index]
                keep_ratios.append(ours / curl_p50)
                rows.append(
                    f"| {round_no} | {ours:.2f} | {curl_p50:.2f} | {ours / curl_p50:.2f}× "
                    f"| {fresh:.2f} | {times[0]:.2f} |"
                )
            print(f"## Per request (`--count {args.count}`), lab /readyz\n")
            print(
                "| round | ztctl kept-alive p50 ms | curl reused p50 ms | ratio "
                "| ztctl fresh p50 ms | curl first transfer ms |"
            )
            print("|---|---|---|---|---|---|")
            print("\n".join(rows))
            print(f"\nmedian ratio (goal ≤ 1.2×): {statistics.median(keep_ratios):.2f}×\n")

            baseline = time_command(
                "kubectl get --raw /readyz",
                [kubectl, "get", "--raw", "/readyz"],
                runs=args.runs,
                env=env,
            )
            ours_startup = time_command(
                "ztctl probe lab", [*ztctl, "probe", "lab"], runs=args.runs, env=env
            )
            print("## Process start-up, one probe, healthy lab\n")
            print("| command | median ms | min ms | ratio |")
            print("|---|---|---|---|")
            for t in (baseline, ours_startup):
                print(
                    f"| {t.label} | {t.median_ms:.1f} | {t.min_ms:.1f} "
                    f"| {t.median_ms / baseline.median_ms:.2f}× |"
                )
            print(f"\n{args.runs} runs each after warm-up (goal ≤ 2×).")
        finally:
            control.down(Path(tmp) / "lab")
    return 0


if __name__ == "__main__":
    sys.exit(main())
