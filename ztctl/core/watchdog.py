"""The break-glass watchdog: a detached process that ends a session's route at its deadline.

``python -m ztctl.core.watchdog --state-dir DIR --cluster NAME --session ID`` is started by
``ztctl break-glass start`` in its own session (no terminal, stdio to a log file), before
the route opens. It keeps its own copy of the session: re-read from the file while the
session opens (the route's facts and the deadline are filled in only then), fixed once it is
active (an edited file can bring the deadline forward, never back). At the deadline it
closes the route from that copy, deletes the overlay kubeconfig and records
``break-glass.expire`` (``by: watchdog``); it does so at once when the ztctl that was
opening the route died half-way.

The session file is the user's: when it is deleted, cut off or otherwise damaged, the
watchdog writes its copy back (so ``status`` and ``end`` see the open route) and, whatever
becomes of the file, still closes the route at the deadline. It exits early only when the
session was ended by someone else: its file no longer shows it and the audit log records
its end (``end`` also stops it with SIGTERM). So a route never outlives its TTL, even when
every ztctl was killed or the session file is gone.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from ztctl.core.breakglass.lifecycle import (
    WATCHDOG_POLL_S,
    expire_known,
    follow,
    promoted,
    restore_file,
    session_closed,
)
from ztctl.core.breakglass.processes import starter_alive
from ztctl.core.breakglass.session import STATE_OPENING, Session, read_session_or_stray
from ztctl.core.breakglass.trusted import CatalogRoutes

# While opening, the deadline still moves (to "proven + ttl"): look often. Once active the
# deadline is fixed; the file is still looked at this often, so that a deleted or damaged
# one is written back within seconds and a lost SIGTERM does not keep a watchdog long.
POLL_OPENING_S = 0.5
POLL_ACTIVE_S = WATCHDOG_POLL_S  # `end` waits this long for a write-back


def _say(message: str) -> None:
    print(f"ztctl watchdog: {message}", file=sys.stderr, flush=True)  # to watchdog.log


def watch(state_dir: Path, cluster: str, session_id: str) -> int:
    # The deadline is the session's, cut back by the TTL rules: the catalog's maxTtl
    # (the catalog start used, from ZTCTL_CATALOG) and 7 days. The file is not trusted.
    routes = CatalogRoutes(state_dir)
    known: Session | None = None
    said = None  # the last word on the file, said once
    while True:
        on_disk = read_session_or_stray(state_dir, cluster)
        if isinstance(on_disk, Session) and on_disk.id == session_id:
            known = follow(known, routes.cap(on_disk))
        elif known is None or session_closed(state_dir, session_id):
            return 0  # ended by someone else (or never written): nothing to guard
        elif not isinstance(on_disk, Session):
            known = promoted(known, state_dir)  # it became active before we saw it?
            fate = restore_file(state_dir, known)
            if fate is not None and fate != said:
                _say(f"the session file of {cluster} {fate}")
                said = fate
        assert known is not None
        remaining = known.remaining()
        abandoned = known.state == STATE_OPENING and not starter_alive(known)
        if remaining <= 0 or abandoned:
            ended = expire_known(state_dir, known, routes)
            if ended is not None:
                if ended.problem:
                    _say(f"{ended.problem}")
                if ended.audit:
                    _say(ended.audit)
                return 0
            time.sleep(POLL_OPENING_S)  # the lock was busy, or not due after all: look again
            continue
        poll = POLL_OPENING_S if known.state == STATE_OPENING else POLL_ACTIVE_S
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
