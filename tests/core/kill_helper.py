"""Run ``ztctl`` instrumented, for tests of crashes and concurrency.

Usage: python kill_helper.py before|after|record|lockwait TARGET MARKER -- ZTCTL-ARGS...

``before``: pause when the new content is in the fsynced temporary file, not yet renamed
over TARGET; ``after``: pause when TARGET was replaced, the directory not yet fsynced. The
helper writes MARKER, then sleeps until it is killed.
``record``: no pause; each kubeconfig write is also saved as MARKER/<pid>-<n>.before and
.after (the content ztctl read under the lock, and what it wrote).
``lockwait``: no pause; MARKER appears once ztctl found TARGET's lock taken (it then waits).
"""

from __future__ import annotations

import os
import sys
import time


def main() -> None:
    when, target, marker = sys.argv[1:4]
    args = sys.argv[sys.argv.index("--") + 1 :]
    if when == "record":
        _record(marker)
        from ztctl.cli.main import main as ztctl_main

        ztctl_main(args)
        return
    if when == "lockwait":
        _note_lock_waits(target + ".lock", marker)
        from ztctl.cli.main import main as ztctl_main

        ztctl_main(args)
        return
    real_replace = os.replace

    def pausing_replace(src: str, dst: str) -> None:
        if os.path.realpath(dst) == os.path.realpath(target):
            if when == "after":
                real_replace(src, dst)
            with open(marker, "w") as handle:
                handle.write(str(src))
            time.sleep(60)
            raise SystemExit("not killed")
        real_replace(src, dst)

    os.replace = pausing_replace  # type: ignore[assignment]
    from ztctl.cli.main import main as ztctl_main

    ztctl_main(args)


def _note_lock_waits(lock: str, marker: str) -> None:
    real_open = os.open

    def noting_open(path: str, flags: int, mode: int = 0o777, **kwargs: object) -> int:
        try:
            return real_open(path, flags, mode, **kwargs)  # type: ignore[arg-type]
        except FileExistsError:
            if os.path.realpath(path) == os.path.realpath(lock) and not os.path.exists(marker):
                with open(marker, "w") as handle:
                    handle.write("waiting")
            raise

    os.open = noting_open  # type: ignore[assignment]


def _record(directory: str) -> None:
    from pathlib import Path

    from ztctl.core import use_cluster

    real_write = use_cluster.write_file
    count = 0

    def recording_write(path: Path, content: bytes, previous: bytes | None) -> object:
        nonlocal count
        count += 1
        stem = Path(directory) / f"{os.getpid()}-{count}"
        stem.with_suffix(".before").write_bytes(previous or b"")
        stem.with_suffix(".after").write_bytes(content)
        return real_write(path, content, previous)

    use_cluster.write_file = recording_write  # type: ignore[assignment]


if __name__ == "__main__":
    main()
