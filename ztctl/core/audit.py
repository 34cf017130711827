"""The audit log (contract §3): ``<state>/audit.jsonl``, one JSON object per line.

Append-only, flushed and fsynced per event, in a 0700 directory, the file 0600. Each
event has ``ts`` (RFC 3339, UTC), ``event``, ``user`` (the OS user, unless the caller
passes another ``user``) and the caller's fields. Never pass a secret.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ztctl.adapters.fs import append_line_durably, ensure_private_dir

AUDIT_FILE = "audit.jsonl"


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record(state_dir: Path, event: str, **fields: Any) -> dict[str, Any]:
    """Append one event durably and return it."""
    entry: dict[str, Any] = {"ts": now_rfc3339(), "event": event, "user": os_user()}
    entry.update(fields)
    entry["ts"], entry["event"] = entry["ts"], event
    ensure_private_dir(state_dir)
    append_line_durably(state_dir / AUDIT_FILE, json.dumps(entry, ensure_ascii=False, default=str))
    return entry


def read_events(state_dir: Path, event: str | None = None) -> Iterator[dict[str, Any]]:
    """The recorded events, oldest first (a torn last line, if any, is skipped)."""
    path = state_dir / AUDIT_FILE
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        return
    with handle:
        for line in handle:
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict) and (event is None or item.get("event") == event):
                yield item
