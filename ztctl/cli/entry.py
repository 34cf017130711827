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
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "credential" and not args[1].startswith("-"):
        # kubectl's exec plugin, run for every kubectl call: no click on this path.
        from ztctl.cli.commands.credential import run_plugin

        sys.exit(run_plugin(args[1]))
    from ztctl.cli.main import main as run

    run()
