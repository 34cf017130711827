"""The console-script entry point, kept import-free for the fastest paths.

`ztctl --version` is answered here without importing click (it is what scripts and
shell prompts call most often); everything else goes to :func:`ztctl.cli.main.main`.
"""

from __future__ import annotations

import sys

# Printed instead of running any command on Windows (see docs/compatibility.md): ztctl's
# process groups, file locks, route and posture readers are POSIX-only today, and a
# half-working ztctl would give wrong answers. Exit code 1: the operation failed.
WINDOWS_REFUSAL = (
    "error: ztctl does not run on Windows yet: its warp-cli timeouts, kubeconfig locks, "
    "route and posture checks are written and tested for macOS and Linux only\n"
    "fix: use ztctl on macOS or Linux; on Windows, use `warp-cli status` and kubectl "
    "directly (docs/compatibility.md lists what is covered)\n"
)


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from ztctl import __version__

        sys.stdout.write(f"ztctl {__version__}\n")
        return
    if sys.platform == "win32":
        sys.stderr.write(WINDOWS_REFUSAL)
        sys.exit(1)
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "credential" and not args[1].startswith("-"):
        # kubectl's exec plugin, run for every kubectl call: no click on this path.
        from ztctl.cli.commands.credential import run_plugin

        sys.exit(run_plugin(args[1]))
    from ztctl.cli.main import main as run

    run()


def kubectl_complete() -> None:
    """``kubectl_complete-ztctl``: what kubectl (1.26 and later) runs for ``kubectl ztctl <Tab>``.

    kubectl passes the words after ``ztctl``, the last one being the word under completion,
    and reads cobra's format back: one ``value<TAB>description`` per line, then ``:directive``
    (4: no file completion).
    """
    from click.shell_completion import ShellComplete

    from ztctl.cli.main import cli

    args = sys.argv[1:]
    incomplete = args[-1] if args else ""
    try:
        completer = ShellComplete(cli, {}, "kubectl ztctl", "_ZTCTL_COMPLETE")
        items = completer.get_completions(args[:-1], incomplete)
    except Exception:  # completion stays silent on any problem
        items = []
    lines = [
        f"{item.value}\t{item.help}" if item.help else str(item.value)
        for item in items
        if item.type == "plain"
    ]
    files = any(item.type in ("file", "dir") for item in items)
    sys.stdout.write("".join(line + "\n" for line in lines) + (":0\n" if files else ":4\n"))
