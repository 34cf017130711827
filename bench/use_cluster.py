"""`ztctl use-cluster` against `kubectl config use-context`, on the same generated kubeconfigs.

    .venv/bin/python bench/use_cluster.py [--sizes 50,5000] [--runs N] [--kubectl PATH]

Each size N is a kubeconfig with N contexts, each with its own cluster (with a 1.6 KB
certificate-authority-data, as cloud CLIs write them) and user (an exec plugin), plus
ztctl's own entries for the catalog cluster `prod`. Before every run the file is restored
from a pristine copy (not timed); each run is a whole process, start-up included, stdout
and stderr to /dev/null; the figure is the median.

- kubectl: `kubectl --kubeconfig F config use-context prod` (loads F, rewrites it whole).
- ztctl switch: `ztctl use-cluster prod --no-probe` when the entries are already there,
  the same change kubectl makes (current-context).
- ztctl merge: the same command on the file without ztctl's entries (adds three entries and
  switches), still one process.

Goals (issue 4): ztctl within 1.5x of kubectl at 50 entries, faster than kubectl at 5,000.
`--breakdown` also times the phases of one in-process run of each size.
"""

from __future__ import annotations

import argparse
import base64
import functools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import ztctl_command

CA = base64.b64encode(
    b"-----BEGIN CERTIFICATE-----\n" + b"MIIB" * 300 + b"\n-----END CERTIFICATE-----\n"
).decode()
CATALOG = """\
apiVersion: ztctl/v1
kind: ClusterCatalog
team: acme
clusters:
  - name: prod
    server: https://k8s.prod.acme.net:6443
    addresses: [203.0.113.10]
    certificateAuthorityData: {ca}
    namespace: default
    credentials: {{clientCertificate: /keys/prod.crt, clientKey: /keys/prod.key}}
"""
ZTCTL_ENTRIES = """\
- cluster:
    certificate-authority-data: {ca}
    extensions:
    - extension:
        cluster: prod
        team: acme
      name: ztctl
    server: https://k8s.prod.acme.net:6443
  name: prod
"""


def kubeconfig(entries: int, with_ztctl: bool) -> str:
    """kubectl's own layout (sorted keys and names), as if kubectl had written it."""
    names = sorted(f"c{i:05d}" for i in range(entries))
    out = ["apiVersion: v1", "clusters:"]
    for name in names:
        i = int(name[1:])
        out += [
            "- cluster:",
            f"    certificate-authority-data: {CA}",
            f"    server: https://10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}:443",
            f"  name: {name}",
        ]
    if with_ztctl:
        out.append(ZTCTL_ENTRIES.format(ca=CA).rstrip("\n"))
    out.append("contexts:")
    for name in names:
        out += ["- context:", f"    cluster: {name}", f"    user: {name}", f"  name: {name}"]
    if with_ztctl:
        out += [
            "- context:",
            "    cluster: prod",
            "    extensions:",
            "    - extension:",
            "        cluster: prod",
            "        team: acme",
            "      name: ztctl",
            "    namespace: default",
            "    user: prod",
            "  name: prod",
        ]
    out += ["current-context: c00000", "kind: Config", "preferences: {}", "users:"]
    for name in names:
        out += [
            f"- name: {name}",
            "  user:",
            "    exec:",
            "      apiVersion: client.authentication.k8s.io/v1",
            "      args:",
            "      - eks",
            "      - get-token",
            "      - --cluster-name",
            f"      - {name}",
            "      command: aws",
            "      env: null",
            "      interactiveMode: IfAvailable",
            "      provideClusterInfo: false",
        ]
    if with_ztctl:
        out += [
            "- name: prod",
            "  user:",
            "    client-certificate: /keys/prod.crt",
            "    client-key: /keys/prod.key",
            "    extensions:",
            "    - extension:",
            "        cluster: prod",
            "        team: acme",
            "      name: ztctl",
        ]
    return "\n".join(out) + "\n"


def timed(
    argv: list[str], env: dict[str, str], reset: Callable[[], None], runs: int, warmup: int = 1
) -> float:
    samples = []
    for index in range(warmup + runs):
        reset()
        start = time.perf_counter()
        proc = subprocess.run(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
        )
        elapsed = (time.perf_counter() - start) * 1000
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr[-400:]!r}")
        if index >= warmup:
            samples.append(elapsed)
    return statistics.median(samples)


def breakdown(path: Path, env: dict[str, str]) -> dict[str, float]:
    """Phases of one in-process merge (the imports are already paid here)."""
    from ztctl.core.catalog import load_catalog
    from ztctl.core.kubeconfig.yamlio import gc_paused

    catalog = load_catalog(env["ZTCTL_CATALOG"], Path(env["ZTCTL_STATE_DIR"]), env)
    cluster = catalog.clusters[0]
    with gc_paused():  # as in the command
        return _phases(path, catalog, cluster)


def _phases(path: Path, catalog: Any, cluster: Any) -> dict[str, float]:
    from ztctl.adapters.fs import atomic_write
    from ztctl.core.kubeconfig.files import precedence, read_file
    from ztctl.core.kubeconfig.model import merge_files
    from ztctl.core.use_cluster import plan_merge

    out: dict[str, float] = {}
    t0 = time.perf_counter()
    prec = precedence(str(path), {})
    files = tuple(read_file(p) for p in prec.paths)
    t1 = time.perf_counter()
    kc = merge_files(prec, files)
    plan = plan_merge(kc, cluster, team=catalog.team)
    t2 = time.perf_counter()
    built = [e.build() for e in plan.editors.values()]
    t3 = time.perf_counter()
    for item in built:
        if item is not None:
            atomic_write(path, item.content)
    t4 = time.perf_counter()
    out["read + parse + validate"] = (t1 - t0) * 1000
    out["merge view + plan"] = (t2 - t1) * 1000
    out["splice + verify"] = (t3 - t2) * 1000
    out["write (fsync, rename)"] = (t4 - t3) * 1000
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="50,5000")
    parser.add_argument("--runs", type=int, default=0, help="default: 21 at <=500, else 7")
    parser.add_argument("--kubectl", default=os.environ.get("KUBECTL", "kubectl"))
    parser.add_argument("--breakdown", action="store_true")
    args = parser.parse_args()
    kubectl = shutil.which(args.kubectl)
    if kubectl is None:
        raise SystemExit(f"{args.kubectl} is not installed: cannot compare with it")
    version = subprocess.run(
        [kubectl, "version", "--client"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    ztctl = ztctl_command()
    print(f"kubectl: {kubectl} ({version[0] if version else '?'})")
    print(f"ztctl:   {' '.join(ztctl)}\n")
    print("| entries | file | kubectl use-context | ztctl switch | ratio | ztctl merge | ratio |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "catalog.yaml").write_text(CATALOG.format(ca=CA))
        target = root / "config"
        env = {
            **os.environ,
            "HOME": str(root),
            "ZTCTL_CATALOG": str(root / "catalog.yaml"),
            "ZTCTL_CONFIG": str(root / "absent.toml"),
            "ZTCTL_STATE_DIR": str(root / "state"),
            "KUBECONFIG": str(target),
        }
        phases = {}
        for size in (int(s) for s in args.sizes.split(",")):
            runs = args.runs or (21 if size <= 500 else 7)
            with_ztctl = kubeconfig(size, True).encode()
            without = kubeconfig(size, False).encode()

            def reset(content: bytes = with_ztctl) -> None:
                target.write_bytes(content)
                target.with_name("config.ztctl.bak").unlink(missing_ok=True)

            k_ms = timed(
                [kubectl, "--kubeconfig", str(target), "config", "use-context", "prod"],
                env,
                reset,
                runs,
            )
            s_ms = timed([*ztctl, "use-cluster", "prod", "--no-probe"], env, reset, runs)
            m_ms = timed(
                [*ztctl, "use-cluster", "prod", "--no-probe"],
                env,
                functools.partial(reset, without),
                runs,
            )
            size_mb = len(with_ztctl) / 1e6
            print(
                f"| {size} | {size_mb:.1f} MB | {k_ms:.0f} ms | {s_ms:.0f} ms | "
                f"{s_ms / k_ms:.2f}× | {m_ms:.0f} ms | {m_ms / k_ms:.2f}× |"
            )
            if args.breakdown:
                reset(without)
                phases[size] = breakdown(target, env)
        print(f"\nmedian of {args.runs or '21 (7 at 5,000)'} runs per cell, one warm-up run")
        for size, parts in phases.items():
            print(f"\nin-process phases of a merge at {size} entries:")
            for name, ms in parts.items():
                print(f"  {name:<26} {ms:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
