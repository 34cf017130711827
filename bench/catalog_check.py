"""`ztctl catalog check` of 50 clusters against the lab's Cloudflare API stand-in with 50 ms
added to every API answer.

    .venv/bin/python bench/catalog_check.py [--runs N] [--clusters N] [--latency-ms MS]

Goal (issue 13): under 3 s for 50 clusters. The stand-in (ztctl.lab.cfapi) runs in this
process on loopback, seeded from a generated catalog: one route and one tunnel with three
connectors per cluster. Whole `ztctl catalog check --json` processes are timed (start-up
included); the figures printed are the median and the worst of the runs, and the number of
API calls one run makes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import ztctl_command

from ztctl.lab import state as labstate
from ztctl.lab.cfapi import start_cfapi

TOKEN = "bench-cf-token-5d4c3b2a19f8e7d6c5b4a392"  # noqa: S105 - a benchmark token
CA_DATA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg=="


def write_files(root: Path, clusters: int, api_url: str, account: str) -> dict[str, str]:
    import yaml

    entries = [
        {
            "name": f"prod-{i:02d}",
            "server": f"https://k8s-{i:02d}.example.net:6443",
            "addresses": [f"198.18.{i // 200}.{i % 200 + 1}"],
            "certificateAuthorityData": CA_DATA,
            "credentials": {"exec": {"command": "kubelogin"}},
        }
        for i in range(clusters)
    ]
    catalog = root / "catalog.yaml"
    catalog.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "ztctl/v1",
                "kind": "ClusterCatalog",
                "team": "acme",
                "clusters": entries,
            }
        )
    )
    config = root / "config.toml"
    config.write_text(f'[cloudflare]\naccount_id = "{account}"\napi_url = "{api_url}"\n')
    return {
        "ZTCTL_CONFIG": str(config),
        "ZTCTL_CATALOG": str(catalog),
        "ZTCTL_STATE_DIR": str(root / "state"),
        "ZTCTL_CF_API_TOKEN": TOKEN,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clusters", type=int, default=50)
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()
    state = labstate.LabState()
    state.cloudflare.latency_ms = args.latency_ms
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        api = start_cfapi(
            state=lambda: state,
            catalog=root / "catalog.yaml",
            account_id=state.warp.account_id,
            token=lambda: TOKEN,
        )
        try:
            env = {
                **os.environ,
                **write_files(root, args.clusters, api.url, state.warp.account_id),
            }
            argv = [*ztctl_command(), "catalog", "check", "--json"]
            samples = []
            calls = 0
            for _ in range(args.runs + 1):  # the first run warms the disk cache
                start = time.perf_counter()
                proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
                samples.append(time.perf_counter() - start)
                doc = json.loads(proc.stdout)
                if proc.returncode != 0:
                    bad = [c for c in doc["checks"] if c["status"] not in ("pass", "warn")]
                    for check in bad[:5]:
                        sys.stderr.write(f"{check['id']} {check['cluster']}: {check['summary']}\n")
                    return 1
                calls = doc["apiCalls"]
        finally:
            api.stop()
    runs = samples[1:]
    print(
        f"catalog check, {args.clusters} clusters, {args.latency_ms} ms per API call: "
        f"median {statistics.median(runs):.2f} s, worst {max(runs):.2f} s over {len(runs)} runs, "
        f"{calls} API calls per run"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
