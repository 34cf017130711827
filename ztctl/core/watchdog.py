"""The break-glass watchdog: a detached process that ends a session's route at its deadline.

``python -m ztctl.core.watchdog --state-dir DIR --cluster NAME --session ID`` is started by
``ztctl break-glass start`` in its own session (no terminal, stdio to a log file), before
the route opens. It sleeps until the deadline in the session file — re-reading it, since
the deadline is fixed only once the route is proven — and then closes the route, deletes
the overlay kubeconfig and records ``break-glass.expire`` (``by: watchdog``); it does so
at once when the ztctl that was opening the route died half-way. It exits as
soon as the session file is gone or names another session (``end`` also stops it with
SIGTERM). So a route never outlives its TTL, even when every ztctl was killed.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from ztctl.core.breakglass.lifecycle import expire
from ztctl.core.breakglass.processes import starter_alive
from ztctl.core.breakglass.session import STATE_OPENING, read_session
from ztctl.core.breakglass.trusted import CatalogRoutes

# While opening, the deadline still moves (to "proven + ttl"): look often. Once active it
# is fixed; the longer sleep only bounds how long a watchdog lingers after a lost SIGTERM.
POLL_OPENING_S = 0.5
POLL_ACTIVE_S = 30.0


def watch(state_dir: Path, cluster: str, session_id: str) -> int:
    # The deadline is the session file's, cut back by the TTL rules: the catalog's maxTtl
    # (the catalog start used, from ZTCTL_CATALOG) and 7 days. The file is not trusted.
    routes = CatalogRoutes(state_dir)
    while True:
        session = routes.cap(read_session(state_dir, cluster))
        if session is None or session.id != session_id:
            return 0  # ended (or replaced): nothing to guard
        remaining = session.remaining()
        abandoned = session.state == STATE_OPENING and not starter_alive(session)
        if remaining <= 0 or abandoned:
            ended = expire(state_dir, cluster, session_id, by="watchdog", routes=routes)
            if ended is not None and ended.audit:  # to watchdog.log; the route is closed
                print(f"ztctl watchdog: {ended.audit}", file=sys.stderr, flush=True)
            if read_session(state_dir, cluster) is None:
                return 0
            time.sleep(POLL_OPENING_S)  # the lock was busy: try again
            continue
        poll = POLL_OPENING_S if session.state == STATE_OPENING else POLL_ACTIVE_S
        time.sleep(min(remaining, poll))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ztctl-break-glass-watchdog")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--session", required=True)
    args = parser.parse_args(argv)
    # No terminal to hang up, but a parent shell's job control must not stop us either.
    for name in ("SIGHUP", "SIGINT", "SIGTSTP", "SIGTTIN", "SIGTTOU"):
        sig = getattr(signal, name, None)
        if sig is not None:
            signal.signal(sig, signal.SIG_IGN)
    return watch(Path(args.state_dir), args.cluster, args.session)


if __name__ == "__main__":
    raise SystemExit(main())
