"""`ztctl doctor` on the lab: a healthy single cluster, and 20 clusters of which 5 are
black-holed.

    .venv/bin/python bench/doctor.py [--runs N] [--timeout S]

Goals (issue 6): the healthy single-cluster doctor within 1 s; 20 catalog clusters with 5
black-holed within the per-check timeout plus one second; and a hung warp-cli within the
timeout plus one second.

A lab is started in a temporary directory (and stopped at the end). The 20-cluster catalog
points 15 clusters at the lab's API server and 5 at a loopback socket that listens but
never accepts: the TCP handshake completes in the kernel, and then nothing ever answers —
a black hole as the client sees it. Whole processes are timed (start-up included), as in
every bench here; the figures printed are the median and the worst of the runs.
"""

from __future__ import annotations

import argparse
import base64
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import ztctl_command


def run(argv: list[str], env: dict[str, str], runs: int, warmup: int = 2) -> list[float]:
    samples = []
    for i in range(warmup + runs):
        start = time.perf_counter()
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        elapsed = (time.perf_counter() - start) * 1000
        if proc.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr}")
        if i >= warmup:
            samples.append(elapsed)
    return samples


def catalog_20(lab_dir: Path, server: str, hole_port: int, ca: bytes, info) -> Path:  # type: ignore[no-untyped-def]
    import yaml

    ca_data = base64.b64encode(ca).decode()
    clusters = []
    for i in range(1, 21):
        black = i > 15
        clusters.append(
            {
                "name": f"{'hole' if black else 'ok'}-{i:02d}",
                "server": f"https://localhost:{hole_port}" if black else server,
                "addresses": ["127.0.0.1"],
                "certificateAuthorityData": ca_data,
                "credentials": {
                    "clientCertificate": str(info.paths.client_cert),
                    "clientKey": str(info.paths.client_key),
                },
                "breakGlass": {"proxy": info.proxy_url},
            }
        )
    path = lab_dir / "catalog-20.yaml"
    doc = {"apiVersion": "ztctl/v1", "kind": "ClusterCatalog", "team": "lab", "clusters": clusters}
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=3.0, help="per-check timeout (s)")
    args = parser.parse_args()

    from ztctl.lab import control

    ztctl = ztctl_command()
    with tempfile.TemporaryDirectory(prefix="ztctl-bench-") as tmp:
        lab_dir = Path(tmp) / "lab"
        info = control.up(lab_dir).info
        hole = socket.socket()
        try:
            hole.bind(("127.0.0.1", 0))
            hole.listen(64)  # never accepted: connections sit in the backlog, unanswered
            env = {**os.environ, **info.env()}
            healthy = run([*ztctl, "doctor"], env, args.runs)
            catalog = catalog_20(
                lab_dir, info.server, hole.getsockname()[1], info.paths.ca_cert.read_bytes(), info
            )
            twenty = run(
                [
                    *ztctl,
                    "--catalog",
                    str(catalog),
                    "doctor",
                    "--all",
                    "--timeout",
                    str(args.timeout),
                ],
                env,
                args.runs,
            )
            control.set_values(lab_dir, ["warp.hang=on"])
            hung = run([*ztctl, "doctor", "--timeout", "1"], env, args.runs)
            control.set_values(lab_dir, ["reset"])
            proc = subprocess.run(
                [
                    *ztctl,
                    "--catalog",
                    str(catalog),
                    "doctor",
                    "--all",
                    "--json",
                    "--timeout",
                    str(args.timeout),
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            hole.close()
            control.down(lab_dir)

    import json

    doc = json.loads(proc.stdout)
    failing = sorted({c["cluster"] for c in doc["checks"] if c["status"] == "fail"})
    limit = args.timeout * 1000 + 1000
    print("## doctor (bench/doctor.py)")
    print()
    print("| run | median ms | max ms | goal |")
    print("|---|---|---|---|")
    print(
        f"| healthy, 1 cluster | {statistics.median(healthy):.0f} | {max(healthy):.0f} | "
        f"< 1000 ms: {'met' if max(healthy) < 1000 else 'NOT met'} |"
    )
    print(
        f"| 20 clusters, 5 black-holed, --timeout {args.timeout:g} | "
        f"{statistics.median(twenty):.0f} | {max(twenty):.0f} | < {limit:.0f} ms: "
        f"{'met' if max(twenty) < limit else 'NOT met'} |"
    )
    print(
        f"| hung warp-cli, --timeout 1 | {statistics.median(hung):.0f} | {max(hung):.0f} | "
        f"< 2000 ms: {'met' if max(hung) < 2000 else 'NOT met'} |"
    )
    print()
    print(f"{args.runs} runs each after 2 warm-up runs; failing clusters: {', '.join(failing)}")
    print(f"checks in the 20-cluster run: {len(doc['checks'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
