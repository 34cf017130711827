"""`ztctl credential CLUSTER`: the kubectl exec credential plugin.

kubectl runs this for every call, so it must start fast: :func:`run_plugin` needs no click
and is what the console-script entry calls for ``ztctl credential NAME``; the click command
(built on first access of ``command``, for help, completion and global options) calls the
same function. stdout carries exactly one ExecCredential document; every message goes to
stderr, where kubectl shows it to the user.
"""

from __future__ import annotations

import os
import sys
from typing import Any

HELP = """Print the ExecCredential for CLUSTER (kubectl exec credential plugin)

kubectl runs this through the exec entry that `ztctl use-cluster` writes for clusters with
Access-token credentials. It answers with the token kept in the OS keyring, refreshes it
through `cloudflared access token` when it expired, and opens a browser login only when
kubectl runs interactively, one at a time. Otherwise it exits 4: run `ztctl login`."""


def _say(message: str) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()


def run_plugin(name: str, *, no_input: bool = False, verbose: int = 0) -> int:
    """Write the credential (stdout) or the error (stderr); return the exit code."""
    from ztctl.core.credential import get_credential

    try:
        credential = get_credential(name, os.environ, no_input=no_input, notify=_say)
    except KeyboardInterrupt:
        _say("ztctl credential: interrupted")
        return 130
    except Exception as error:
        from ztctl.errors import ZtctlError

        if not isinstance(error, ZtctlError):
            if verbose > 1:
                raise
            _say(
                f"ztctl credential: error: unexpected {type(error).__name__}: {error}\n"
                f"ztctl credential: run `ztctl -vv credential {name}` for the traceback"
            )
            return 1
        _say(f"ztctl credential: error: {error.message}")
        for detail in error.details:
            _say(f"  {detail}")
        if error.fix:
            _say(f"ztctl credential: fix: {error.fix}")
        return error.exit_code
    sys.stdout.write(credential.document + "\n")
    sys.stdout.flush()
    return 0


def _build() -> Any:
    import click

    from ztctl.cli.complete import cluster_names
    from ztctl.cli.output import pass_app

    @click.command("credential", help=HELP, short_help="Print the ExecCredential for CLUSTER")
    @click.argument("cluster", shell_complete=cluster_names)
    @pass_app
    def credential(app: Any, cluster: str) -> None:
        code = run_plugin(cluster, no_input=app.no_input, verbose=app.verbose)
        if code:
            raise click.exceptions.Exit(code)

    return credential


_built: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    if name == "command":
        if "command" not in _built:
            _built["command"] = _build()
        return _built["command"]
    raise AttributeError(name)
