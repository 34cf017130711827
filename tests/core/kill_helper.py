"""Run ``ztctl`` with a pause around the rename of one file, so a test can SIGKILL it there.

Usage: python kill_helper.py before|after TARGET MARKER -- ZTCTL-ARGS...

``before``: the new content is in the fsynced temporary file, not yet renamed over TARGET.
``after``: TARGET was replaced, the directory not yet fsynced. The helper touches MARKER,
then sleeps until it is killed.
"""

from __future__ import annotations

import os
import sys
import time


def main() -> None:
    when, target, marker = sys.argv[1:4]
    args = sys.argv[sys.argv.index("--") + 1 :]
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


if __name__ == "__main__":
    main()
