"""Start-up: `ztctl --version`, `--help` and `clusters` against `kubectl version --client`.

    .venv/bin/python bench/startup.py [--runs N]

Goals (issue 2): `ztctl --version` no slower than `kubectl version --client`; `ztctl clusters`
within 1.5× of it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import ROOT, report, require, time_command, ztctl_command


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    kubectl = require("kubectl")
    # This environment may set PYTHONDONTWRITEBYTECODE: compile once, as an install would.
    import compileall

    compileall.compile_dir(str(ROOT / "ztctl"), quiet=1)
    ztctl = ztctl_command()
    catalog = str(ROOT / "docs" / "examples" / "catalog.yaml")
    # How people run it: the catalog named in the config file, not on the command line.
    import tempfile

    config = Path(tempfile.mkdtemp(prefix="ztctl-bench-")) / "config.toml"
    config.write_text(f'team = "acme"\ncatalog = "{catalog}"\n', encoding="utf-8")
    baseline = time_command(
        "kubectl version --client", [kubectl, "version", "--client"], runs=args.runs
    )
    timings = [
        baseline,
        time_command("ztctl --version", [*ztctl, "--version"], runs=args.runs),
        time_command("ztctl --help", [*ztctl, "--help"], runs=args.runs),
        time_command("ztctl clusters", [*ztctl, "--catalog", catalog, "clusters"], runs=args.runs),
        time_command(
            "ztctl clusters --json",
            [*ztctl, "--catalog", catalog, "clusters", "--json"],
            runs=args.runs,
        ),
        time_command(
            "ztctl clusters (catalog from config.toml)",
            [*ztctl, "clusters"],
            runs=args.runs,
            env={"ZTCTL_CONFIG": str(config)},
        ),
        time_command("python3 -c pass", [sys.executable, "-c", "pass"], runs=args.runs),
    ]
    print(report("Start-up", timings, baseline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
