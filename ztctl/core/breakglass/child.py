"""``exec`` and ``shell``: a child process over the session's route, stopped at its deadline.

The child gets ``KUBECONFIG=<overlay>:<the user's own list>`` and ``ZTCTL_BREAK_GLASS``
(the cluster, for shell prompts); each run is audited with the command name only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ztctl.core.breakglass.lifecycle import reap
from ztctl.core.breakglass.overlay import child_kubeconfig
from ztctl.core.breakglass.processes import route_alive
from ztctl.core.breakglass.session import (
    ENV_CLUSTER,
    ENV_EXPIRES,
    STATE_ACTIVE,
    STATE_OPENING,
    Session,
    StrayFile,
    read_session_or_stray,
    rfc3339,
)
from ztctl.core.breakglass.store import AuditFailed, record
from ztctl.core.breakglass.trusted import CatalogRoutes
from ztctl.errors import OperationFailed, Unreachable, UsageError

# A child still running at the deadline gets this long after SIGTERM/SIGHUP.
CHILD_GRACE_S = 5.0


@dataclass(frozen=True)
class ExecPlan:
    session: Session
    argv: tuple[str, ...]
    env: dict[str, str]
    shell: bool


def prepare_exec(
    state_dir: Path,
    cluster: str,
    argv: Sequence[str],
    *,
    kubeconfig: str | None = None,
    env: Mapping[str, str] | None = None,
    as_shell: bool = False,
    routes: CatalogRoutes | None = None,
) -> ExecPlan:
    """Check the session, build the child's environment, record ``break-glass.exec``.

    The session's deadline is capped by the catalog's ``maxTtl`` (``routes``) and 7 days,
    whatever the session file says; the child is stopped at the capped deadline."""
    environ = dict(os.environ if env is None else env)
    routes = routes or CatalogRoutes(state_dir, environ)
    reap(state_dir, environ, routes)
    found = read_session_or_stray(state_dir, cluster)
    if isinstance(found, StrayFile):  # the watchdog writes it back within seconds
        raise OperationFailed(
            f"{found.message}; a break-glass route of {cluster} may still be open",
            f"try again in a few seconds; if it stays so, {found.fix}",
        )
    session = routes.cap(found)
    if session is None or session.state != STATE_ACTIVE or session.expired():
        start_fix = f"start one: `ztctl break-glass start {cluster} --reason '...'`"
        last = _last_event(state_dir, cluster)
        if session is None and last is not None and last.get("event") == "break-glass.expire":
            raise OperationFailed(
                f"the break-glass session for {cluster} expired at {last.get('deadline')} and "
                "its route is closed",
                f"if Zero Trust is still down, {start_fix}",
            )
        if session is not None and session.state == STATE_OPENING:
            raise OperationFailed(
                f"the break-glass route of {cluster} is still being opened", "wait a moment"
            )
        if session is None:
            _check_in_catalog(cluster, routes)
        raise OperationFailed(f"no break-glass session is open for {cluster}", start_fix)
    alive = route_alive(session)
    if alive is False:
        raise Unreachable(
            f"the route of the break-glass session for {cluster} is gone "
            f"({session.route.display} is no longer running)",
            f"run `ztctl break-glass end {cluster}` and start it again",
        )
    if not session.overlay or not Path(session.overlay).is_file():
        raise OperationFailed(
            f"the overlay kubeconfig of the break-glass session for {cluster} is missing",
            f"run `ztctl break-glass end {cluster}` and start it again",
        )
    if not argv:
        raise UsageError("no command to run", f"ztctl break-glass exec {cluster} -- kubectl ...")
    child_env = dict(environ)
    child_env["KUBECONFIG"] = child_kubeconfig(session.overlay, state_dir, kubeconfig, environ)
    child_env[ENV_CLUSTER] = cluster
    child_env[ENV_EXPIRES] = rfc3339(session.deadline)
    try:
        record(
            state_dir,
            "break-glass.exec",
            session,
            command=os.path.basename(argv[0]),  # never the arguments: they may hold secrets
            mode="shell" if as_shell else "exec",
        )
    except AuditFailed as exc:  # fail closed: nothing runs over the route unaudited
        raise AuditFailed(f"{exc.message}; {argv[0]} was not run", exc.fix) from None
    return ExecPlan(session=session, argv=tuple(argv), env=child_env, shell=as_shell)


def _last_event(state_dir: Path, cluster: str) -> dict[str, Any] | None:
    """The last ``break-glass.*`` audit event of ``cluster`` (why a session is gone)."""
    from ztctl.core.audit import read_events

    last = None
    try:
        for item in read_events(state_dir):
            if item.get("cluster") == cluster and str(item.get("event", "")).startswith(
                "break-glass."
            ):
                last = item
    except OSError:  # not a regular file, unreadable: the reason is not known
        return None
    return last


@dataclass(frozen=True)
class ExecOutcome:
    code: int
    expired: bool  # stopped at the session's deadline


def run_child(plan: ExecPlan) -> ExecOutcome:
    """Run the child in the foreground until it exits or the session's deadline passes.

    Like a shell, ztctl ignores Ctrl-C while the child runs (the child gets it). At the
    deadline the child gets SIGTERM (a shell: SIGHUP, which interactive shells obey), then
    SIGKILL after a grace period. The exit code is the child's; killed by signal N: 128+N.
    """
    from ztctl.adapters.children import run_until

    try:
        code, expired = run_until(
            plan.argv, plan.env, plan.session.remaining, hangup=plan.shell, grace=CHILD_GRACE_S
        )
    except FileNotFoundError:
        raise OperationFailed(
            f"command not found: {plan.argv[0]}",
            "check the name, or give its full path",
        ) from None
    except PermissionError:
        raise OperationFailed(
            f"cannot run {plan.argv[0]}: permission denied", "check that it is executable"
        ) from None
    return ExecOutcome(code=code, expired=expired)


def default_shell(env: Mapping[str, str]) -> str:
    return env.get("SHELL") or ("/bin/zsh" if sys.platform == "darwin" else "/bin/sh")


def _check_in_catalog(cluster: str, routes: CatalogRoutes) -> None:
    """:class:`InvalidInput` (exit 3) naming the closest catalog names when ``cluster`` is
    not in the catalog: "start one" would only fail next. A catalog that cannot be read says
    nothing here (``start`` will tell)."""
    from ztctl.core.suggest import did_you_mean
    from ztctl.errors import InvalidInput

    try:
        catalog = routes.catalog()
    except Exception:  # the catalog's own problem is start's to report
        return
    if catalog.get(cluster) is not None:
        return
    names = catalog.names
    raise InvalidInput(
        f"no break-glass session is open for {cluster!r}, and no cluster of that name is in "
        f"the catalog{did_you_mean(cluster, names)}",
        "run `ztctl clusters` to list the catalog's clusters and `ztctl break-glass status` "
        "for the open sessions"
        if names
        else "add it to the catalog",
    )
