"""The console-script entry point, kept import-free for the fastest paths.

`ztctl --version` is answered here without importing click (it is what scripts and
shell prompts call most often); everything else goes to :func:`ztctl.cli.main.main`.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from ztctl import __version__

        sys.stdout.write(f"ztctl {__version__}\n")
        return
    from ztctl.cli.main import main as run

    run()
