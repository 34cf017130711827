"""A small harness for whole-command timings: median of repeated runs, as ratios.

Used by every bench/* script so that figures are produced the same way. Wall-clock time of
a complete process (start-up included), stdout and stderr to /dev/null, after warm-up runs.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ztctl_command() -> list[str]:
    """The installed console script next to this Python, else `python -m ztctl`."""
    script = Path(sys.executable).with_name("ztctl")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ztctl"]


@dataclass(frozen=True)
class Timing:
    label: str
    median_ms: float
    min_ms: float
    runs: int


def time_command(
    label: str,
    argv: Sequence[str],
    *,
    runs: int = 20,
    warmup: int = 3,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> Timing:
    full_env = {**os.environ, **(env or {})}
    samples = []
    for i in range(warmup + runs):
        start = time.perf_counter()
        result = subprocess.run(
            list(argv),
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        elapsed = (time.perf_counter() - start) * 1000
        if check and result.returncode != 0:
            raise SystemExit(f"{label}: {' '.join(argv)} exited {result.returncode}")
        if i >= warmup:
            samples.append(elapsed)
    return Timing(label, statistics.median(samples), min(samples), runs)


def require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise SystemExit(f"{binary} is not installed: cannot compare with it")
    return path


def report(title: str, timings: Sequence[Timing], baseline: Timing) -> str:
    lines = [
        f"## {title}",
        "",
        "| command | median ms | min ms | ratio to baseline |",
        "|---|---|---|---|",
    ]
    for t in timings:
        ratio = t.median_ms / baseline.median_ms
        lines.append(f"| {t.label} | {t.median_ms:.1f} | {t.min_ms:.1f} | {ratio:.2f}× |")
    lines.append(f"\nbaseline: {baseline.label}; {baseline.runs} runs each, median.")
    return "\n".join(lines)
