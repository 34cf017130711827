"""The audit log's rules as tables (docs/configuration.md): pure, no lab.

- every event: ``ts`` (RFC 3339, UTC, milliseconds, ``Z``) first, ``event``, ``user`` (the
  OS user unless the caller names one), then the caller's fields; a caller cannot change
  ``ts`` or ``event``;
- one JSON line per event, appended (``O_APPEND``: two writers interleave whole lines),
  fsynced, the file 0600 and its directory 0700 whatever the umask;
- a write that does not reach the disk whole (a short write, ENOSPC) raises
  ``AuditWriteFailed`` with the whole message and fix, and leaves no torn line;
- readers skip a torn line, recover an event glued onto one, and filter by event.
"""

from __future__ import annotations

import errno
import getpass
import json
import locale
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from ztctl.adapters import fs
from ztctl.core import audit

FIXED = datetime(2026, 3, 4, 5, 6, 7, 891234)


class _FixedClock(datetime):
    """``datetime.now(tz)``: a fixed instant, in ``tz`` when given (naive without)."""

    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return FIXED.replace(tzinfo=tz)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "datetime", _FixedClock)
    monkeypatch.setattr(getpass, "getuser", lambda: "alice")


def lines(state: Path) -> list[str]:
    return (state / audit.AUDIT_FILE).read_text(encoding="utf-8").split("\n")


# -- the event's fields --------------------------------------------------------------------

TS = "2026-03-04T05:06:07.891Z"

# (caller's fields, the line written)
EVENTS: list[tuple[dict[str, Any], str]] = [
    ({}, f'{{"ts": "{TS}", "event": "login", "user": "alice"}}'),
    (
        {"cluster": "prod", "ok": True, "n": 3, "files": ["a", "b"]},
        f'{{"ts": "{TS}", "event": "login", "user": "alice", "cluster": "prod", "ok": true, '
        '"n": 3, "files": ["a", "b"]}',
    ),
    # break-glass names the session's user
    ({"user": "bob"}, f'{{"ts": "{TS}", "event": "login", "user": "bob"}}'),
    # a caller cannot back-date an event
    ({"ts": "1999-01-01T00:00:00Z"}, f'{{"ts": "{TS}", "event": "login", "user": "alice"}}'),
    # non-ASCII stays readable; a line break in a value stays inside the one line
    (
        {"reason": "café\nincident\u2028x"},
        f'{{"ts": "{TS}", "event": "login", "user": "alice", "reason": "café\\nincident\u2028x"}}',
    ),
    # values JSON has no type for are written as text
    (
        {"path": Path("/etc/x"), "none": None},
        f'{{"ts": "{TS}", "event": "login", "user": "alice", "path": "/etc/x", "none": null}}',
    ),
]


@pytest.mark.usefixtures("clock")
@pytest.mark.parametrize(("fields", "line"), EVENTS)
def test_the_line_of_an_event(tmp_path: Path, fields: dict[str, Any], line: str) -> None:
    entry = audit.record(tmp_path, "login", **fields)
    assert lines(tmp_path) == [line, ""]
    # the event returned is the one written (a Path as the caller gave it)
    assert {k: str(v) if isinstance(v, Path) else v for k, v in entry.items()} == json.loads(line)
    assert list(entry) == list(json.loads(line))
    assert list(audit.read_events(tmp_path)) == [json.loads(line)]


def test_the_timestamp_is_now_in_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "datetime", _FixedClock)
    assert audit.now_rfc3339() == TS
    monkeypatch.undo()
    before = datetime.now(timezone.utc)
    ts = audit.now_rfc3339()
    after = datetime.now(timezone.utc)
    assert len(ts) == len(TS) and ts.endswith("Z")
    parsed = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= parsed <= after


def _raise(exc: BaseException) -> Callable[[], str]:
    def getuser() -> str:
        raise exc

    return getuser


# (what getpass.getuser does, whether os.getuid exists, the user recorded)
USERS: list[tuple[Callable[[], str], bool, str]] = [
    (lambda: "alice", True, "alice"),
    (_raise(KeyError("no passwd entry")), True, str(os.getuid())),
    (_raise(OSError("no LOGNAME")), True, str(os.getuid())),
    (_raise(OSError("no LOGNAME")), False, "unknown"),  # Windows without a user name
]


@pytest.mark.parametrize(("getuser", "has_getuid", "user"), USERS)
def test_the_os_user(
    monkeypatch: pytest.MonkeyPatch, getuser: Callable[[], str], has_getuid: bool, user: str
) -> None:
    monkeypatch.setattr(getpass, "getuser", getuser)
    if not has_getuid:
        monkeypatch.delattr(os, "getuid")
    assert audit.os_user() == user


# -- the file and its directory ------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077, 0o277])
def test_a_new_log_is_0600_in_0700_directories_whatever_the_umask(
    tmp_path: Path, umask: int
) -> None:
    state = tmp_path / "a" / "b" / "state"
    previous = os.umask(umask)
    try:
        audit.record(state, "x")
    finally:
        os.umask(previous)
    for directory in (tmp_path / "a", tmp_path / "a" / "b", state):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert stat.S_IMODE((state / audit.AUDIT_FILE).stat().st_mode) == 0o600


def test_new_directories_are_0700_even_when_the_umask_takes_the_owners_bits(
    tmp_path: Path,
) -> None:
    state = tmp_path / "a" / "b" / "state"
    previous = os.umask(0o277)
    try:
        assert fs.ensure_private_dir(state) == state
    finally:
        os.umask(previous)
    for directory in (tmp_path / "a", tmp_path / "a" / "b", state):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory


# (mode of an existing state directory, its mode after an event)
DIR_MODES = [(0o755, 0o700), (0o750, 0o700), (0o705, 0o700), (0o700, 0o700), (0o500, 0o500)]


@pytest.mark.parametrize(("before", "after"), DIR_MODES)
def test_an_existing_directory_is_tightened_never_loosened(
    tmp_path: Path, before: int, after: int
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(before)
    try:
        assert fs.ensure_private_dir(state) == state
        assert stat.S_IMODE(state.stat().st_mode) == after
    finally:
        state.chmod(0o700)


# (mode of an existing log, its mode after an event)
FILE_MODES = [(0o644, 0o600), (0o640, 0o600), (0o604, 0o600), (0o600, 0o600), (0o200, 0o200)]


@pytest.mark.parametrize(("before", "after"), FILE_MODES)
def test_an_existing_log_is_tightened_never_loosened(
    tmp_path: Path, before: int, after: int
) -> None:
    path = tmp_path / "log"
    path.write_text("old\n")
    path.chmod(before)
    fs.append_line_durably(path, "new")
    assert stat.S_IMODE(path.stat().st_mode) == after
    path.chmod(0o600)
    assert path.read_text() == "old\nnew\n"


def test_a_directory_created_meanwhile_by_another_process_is_fine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mkdir -p` races: a directory that appears between the check and the mkdir is
    used as it is, and the ones below it are still created."""
    real_mkdir = Path.mkdir
    middle = tmp_path / "a" / "b"

    def mkdir(self: Path, mode: int = 0o777, *args: Any, **kwargs: Any) -> None:
        if self == middle:
            real_mkdir(self, 0o750)  # the other process, with its own mode
        real_mkdir(self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    state = middle / "state"
    fs.ensure_private_dir(state)
    monkeypatch.undo()
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE(middle.stat().st_mode) == 0o750  # not ours: left alone
    assert stat.S_IMODE(state.stat().st_mode) == 0o700


# -- appending -----------------------------------------------------------------------------

# (what the file holds, the line appended, what it holds after)
APPENDS = [
    (None, "a", "a\n"),
    ("", "a", "a\n"),
    ("old\n", "a", "old\na\n"),
    ("old\n", "a\n", "old\na\n"),  # one line break, never two
    ("old\n", "a\n\n", "old\na\n"),
    ("old\n", "a  ", "old\na  \n"),  # other trailing white space is the line's own
    ("old\n", "endsX", "old\nendsX\n"),
    ("old\n", "é€", "old\né€\n"),
]


@pytest.mark.parametrize(("before", "line", "after"), APPENDS)
def test_append_line_durably(tmp_path: Path, before: str | None, line: str, after: str) -> None:
    path = tmp_path / "log"
    if before is not None:
        path.write_bytes(before.encode())
    fs.append_line_durably(path, line)
    assert path.read_bytes() == after.encode("utf-8")


def test_the_line_is_fsynced_before_record_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[bytes] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append((tmp_path / audit.AUDIT_FILE).read_bytes())
        real_fsync(fd)

    monkeypatch.setattr(fs.os, "fsync", fsync)
    audit.record(tmp_path, "x", n=1)
    assert synced == [(tmp_path / audit.AUDIT_FILE).read_bytes()]
    assert synced[0].endswith(b'"n": 1}\n')


def test_the_log_is_opened_to_append_and_not_inherited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[int] = []
    real_open = os.open

    def spy(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        opened.append(flags)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(fs.os, "open", spy)
    audit.record(tmp_path, "x")
    audit.record(tmp_path, "y")
    append = os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | os.O_CLOEXEC
    # every event first tries to create the log exclusively (so it knows to set 0600
    # itself); when the log exists, it is opened to append
    assert opened == [append | os.O_CREAT | os.O_EXCL, append | os.O_CREAT | os.O_EXCL, append]


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else set()


def test_no_descriptor_is_left_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _open_fds()
    audit.record(tmp_path, "x")
    with monkeypatch.context() as patch:
        _disk(patch, [3, FULL])
        with pytest.raises(audit.AuditWriteFailed):
            audit.record(tmp_path, "y")
    list(audit.read_events(tmp_path))
    assert _open_fds() == before


_WRITER = """
import sys
from pathlib import Path
from ztctl.core import audit
for n in range(int(sys.argv[3])):
    audit.record(Path(sys.argv[1]), "tick", writer=sys.argv[2], n=n, pad="x" * 3000)
"""


def test_two_writers_interleave_whole_lines(tmp_path: Path) -> None:
    count = 60
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), name, str(count)])
        for name in ("a", "b")
    ]
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    raw = lines(tmp_path)
    assert raw[-1] == "" and len(raw) == 2 * count + 1
    events = [json.loads(line) for line in raw[:-1]]
    for name in ("a", "b"):
        assert [e["n"] for e in events if e["writer"] == name] == list(range(count))


# -- a write that does not reach the disk whole --------------------------------------------


def _disk(monkeypatch: pytest.MonkeyPatch, script: list[int | OSError]) -> None:
    """``os.write`` that follows ``script``, one step per call: N stores at most N bytes, an
    OSError is raised. Past the script's end, every write fails with ENOSPC."""
    real_write = os.write
    calls = {"n": 0}

    def write(fd: int, data: bytes) -> int:
        calls["n"] += 1
        step = script[calls["n"] - 1] if calls["n"] <= len(script) else FULL
        if isinstance(step, OSError):
            raise step
        return real_write(fd, bytes(data)[:step])

    monkeypatch.setattr(fs.os, "write", write)


FULL = OSError(errno.ENOSPC, "No space left on device")
QUOTA = OSError(errno.EDQUOT, "Disk quota exceeded")
GONE = OSError("the disk went away")  # no errno, no strerror
FIRST = '{"ts": "2026-01-01T00:00:00.000Z", "event": "first", "user": "alice"}\n'


def _line_of(event: str, **fields: Any) -> bytes:
    entry = {"ts": TS, "event": event, "user": "alice", **fields}
    return (json.dumps(entry, ensure_ascii=False) + "\n").encode()


SECOND = _line_of("second", cluster="b")
N = len(SECOND)

# (the disk's script, the reason in the message; "" when the write succeeds)
SHORT_WRITES: list[tuple[list[int | OSError], str]] = [
    ([N], ""),  # the whole line in one call: done, whatever the disk would say next
    ([7, N], ""),  # a short write that goes on: the rest follows
    ([1] * N, ""),  # one byte at a time
    ([7, FULL], f"wrote 7 of {N} bytes: No space left on device"),
    ([FULL], f"wrote 0 of {N} bytes: No space left on device"),
    ([N - 1, QUOTA], f"wrote {N - 1} of {N} bytes: Disk quota exceeded"),
    ([7, GONE], f"wrote 7 of {N} bytes: the disk went away"),
    ([0], f"wrote 0 of {N} bytes"),  # stores nothing and says so
    ([7, 0], f"wrote 7 of {N} bytes"),
]


@pytest.mark.usefixtures("clock")
@pytest.mark.parametrize(("script", "reason"), SHORT_WRITES)
def test_a_short_write_fails_closed_with_no_torn_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: list[int | OSError], reason: str
) -> None:
    path = tmp_path / audit.AUDIT_FILE
    path.write_text(FIRST)
    path.chmod(0o600)
    with monkeypatch.context() as patch:
        _disk(patch, script)
        if not reason:
            audit.record(tmp_path, "second", cluster="b")
            assert path.read_bytes() == FIRST.encode() + SECOND
            return
        with pytest.raises(audit.AuditWriteFailed) as caught:
            audit.record(tmp_path, "second", cluster="b")
    assert caught.value.exit_code == 1
    assert caught.value.message == f"cannot record second in the audit log {path}: {reason}"
    assert caught.value.fix == (
        f"free space on that disk or make {path} writable by you (mode 0600), then run the "
        "command again; nothing that needs the audit trail was done"
    )
    assert isinstance(caught.value, OSError)
    assert isinstance(caught.value.__cause__, fs.ShortWrite)
    assert path.read_bytes() == FIRST.encode()  # nothing torn left behind
    audit.record(tmp_path, "third")
    assert [e["event"] for e in audit.read_events(tmp_path)] == ["first", "third"]


def test_the_errno_of_a_full_disk_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _disk(monkeypatch, [7, FULL])
    with pytest.raises(audit.AuditWriteFailed) as caught:
        audit.record(tmp_path, "x")
    assert isinstance(caught.value.__cause__, fs.ShortWrite)
    assert caught.value.__cause__.errno == errno.ENOSPC


def test_a_torn_line_that_cannot_be_cut_back_is_still_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When even the cut back fails, the write's own failure is reported (the reader skips
    the torn line)."""
    path = tmp_path / audit.AUDIT_FILE

    def ftruncate(fd: int, length: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(fs.os, "ftruncate", ftruncate)
    _disk(monkeypatch, [7, FULL])
    with pytest.raises(audit.AuditWriteFailed) as caught:
        audit.record(tmp_path, "x")
    assert caught.value.message.endswith(": No space left on device")
    monkeypatch.undo()
    assert len(path.read_bytes()) == 7
    audit.record(tmp_path, "y")
    assert [e["event"] for e in audit.read_events(tmp_path)] == ["y"]


def test_another_writers_line_after_a_torn_one_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cut back would drop what another writer appended after the torn part: the torn
    part stays, and readers recover the other writer's event glued onto it."""
    path = tmp_path / audit.AUDIT_FILE
    other = '{"ts": "2026-01-01T00:00:00.000Z", "event": "other", "user": "bob"}\n'
    real_write = os.write
    calls = {"n": 0}

    def write(fd: int, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            done = real_write(fd, bytes(data)[:7])
            with path.open("a", encoding="utf-8") as another:
                another.write(other)
            return done
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fs.os, "write", write)
    with pytest.raises(audit.AuditWriteFailed):
        audit.record(tmp_path, "x")
    monkeypatch.undo()
    assert path.read_text() == '{"ts": ' + other
    assert [e["event"] for e in audit.read_events(tmp_path)] == ["other"]


# -- reading -------------------------------------------------------------------------------


def _event(name: str, second: int = 0) -> str:
    return json.dumps({"ts": f"2026-01-01T00:00:0{second}.000Z", "event": name, "user": "u"})


A, B, C = _event("a"), _event("b", 1), _event("c", 2)
TORN = '{"ts": "2026-01-01T00:00:00.000Z", "event": "bro'

# (what the file holds, the events read)
READS: list[tuple[bytes | None, list[str]]] = [
    (None, []),  # no log yet
    (b"", []),
    (f"{A}\n{B}\n".encode(), ["a", "b"]),
    (f"{A}\n{B}".encode(), ["a", "b"]),  # no final line break
    (f"{A}\n{TORN}".encode(), ["a"]),  # a torn last line
    (f"{A}\n{TORN}{B}\n{C}\n".encode(), ["a", "b", "c"]),  # an event glued onto a torn line
    (f"{TORN}{TORN}{B}\n".encode(), ["b"]),  # glued onto two torn ones
    (f"X{B}\n".encode(), ["b"]),  # one stray character before it
    (f"{TORN}{TORN}\n{A}\n".encode(), ["a"]),  # torn lines with no whole event
    (f"{A}\n\n   \n{B}\n".encode(), ["a", "b"]),  # blank lines
    (f'{A}\n[1, 2]\n"text"\n42\nnull\n{B}\n'.encode(), ["a", "b"]),  # JSON, not an event
    (f"{A}\n".encode() + b'{"ts": "\xe2\x82' + f"{B}\n".encode(), ["a", "b"]),  # cut UTF-8
    (b'{"ts": "\xff", "event": "bytes", "user": "u"}\n', ["bytes"]),  # bad UTF-8 in a value
    (f"{A}\r\n{B}\r\n".encode(), ["a", "b"]),  # written on Windows
]


@pytest.mark.parametrize(("content", "events"), READS)
def test_read_events(tmp_path: Path, content: bytes | None, events: list[str]) -> None:
    if content is not None:
        (tmp_path / audit.AUDIT_FILE).write_bytes(content)
    assert [e["event"] for e in audit.read_events(tmp_path)] == events


def test_events_are_read_as_utf8_whatever_the_locale(tmp_path: Path) -> None:
    if sys.flags.utf8_mode:
        pytest.skip("Python's UTF-8 mode is on: the locale's encoding is never used")
    audit.record(tmp_path, "x", reason="café €")
    previous = locale.setlocale(locale.LC_CTYPE)
    try:
        locale.setlocale(locale.LC_CTYPE, "C")  # an ASCII locale
        events = list(audit.read_events(tmp_path))
    finally:
        locale.setlocale(locale.LC_CTYPE, previous)
    assert [e["reason"] for e in events] == ["café €"]


# (a line, what _parse_line gives: the event, or None for a torn line)
PARSED: list[tuple[str, Any]] = [
    (A, json.loads(A)),
    (f"{TORN}{B}", json.loads(B)),
    (f"X{B}", json.loads(B)),
    (TORN, None),
    (f"{TORN}{TORN}", None),
    ("", None),
    ("garbage", None),
]


@pytest.mark.parametrize(("line", "parsed"), PARSED)
def test_parse_line(line: str, parsed: Any) -> None:
    assert audit._parse_line(line) == parsed
    if parsed is None:
        assert audit._parse_line(line) is None


# (the event asked for, the numbers of the events read)
FILTERS: list[tuple[str | None, list[int]]] = [
    (None, [0, 1, 2, 3]),
    ("login", [0, 2]),
    ("break-glass.start", [1]),
    ("break-glass", []),  # whole names only
    ("nothing", []),
]


@pytest.mark.parametrize(("event", "numbers"), FILTERS)
def test_events_filtered_by_name(tmp_path: Path, event: str | None, numbers: list[int]) -> None:
    for n, name in enumerate(["login", "break-glass.start", "login", "logout"]):
        audit.record(tmp_path, name, n=n)
    assert [e["n"] for e in audit.read_events(tmp_path, event)] == numbers
    assert [e["n"] for e in audit.read_events(tmp_path, event=event)] == numbers


def test_a_fifo_in_place_of_the_log_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / audit.AUDIT_FILE
    os.mkfifo(fifo)
    with pytest.raises(audit.AuditWriteFailed) as info:  # before: blocked for ever
        audit.record(tmp_path, "x")
    assert info.value.message.startswith(f"cannot record x in the audit log {fifo}: ")
    with pytest.raises(fs.NotRegularFile):
        list(audit.read_events(tmp_path))
    # with a reader waiting on the FIFO, the write side is still refused (not a file)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with pytest.raises(audit.AuditWriteFailed) as info:
            audit.record(tmp_path, "x")
        assert info.value.message == (
            f"cannot record x in the audit log {fifo}: it is a FIFO (named pipe), "
            "not a regular file"
        )
    finally:
        os.close(reader)


def test_a_line_longer_than_an_event_is_skipped(tmp_path: Path) -> None:
    audit.record(tmp_path, "first")
    with (tmp_path / audit.AUDIT_FILE).open("a") as handle:
        handle.write('{"ts": "2026-01-01T00:00:00.000Z", "event": "huge", "pad": "')
        handle.write("x" * (3 * audit.MAX_EVENT_BYTES) + '"}\n')
    audit.record(tmp_path, "last")
    assert [e["event"] for e in audit.read_events(tmp_path)] == ["first", "last"]


def _directory(path: Path) -> None:
    path.mkdir()


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _dangling(path: Path) -> None:
    path.symlink_to(path.parent / "gone.jsonl")


def _loop(path: Path) -> None:
    path.symlink_to(path.name)


def _link_to_a_directory(path: Path) -> None:
    (path.parent / "elsewhere").mkdir()
    path.symlink_to(path.parent / "elsewhere")


def _socket(path: Path) -> None:
    import socket

    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()


DISK_FIX = (
    "free space on that disk or make {path} writable by you (mode 0600), then run the "
    "command again; nothing that needs the audit trail was done"
)
REMOVE_FIX = (
    "remove it (rm -r {path}; ztctl starts a new log there), then run the command again; "
    "nothing that needs the audit trail was done"
)

# what is where the log should be -> (the end of the message, the fix)
NOT_A_LOG: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "directory": (_directory, "it is a directory, not a regular file", REMOVE_FIX),
    "fifo": (_fifo, "it is a FIFO (named pipe), not a regular file", REMOVE_FIX),
    "socket": (_socket, "it is a socket, not a regular file", REMOVE_FIX),
    "dangling symlink": (
        _dangling,
        "it is a symlink to {dir}/gone.jsonl, which does not exist",
        REMOVE_FIX,
    ),
    "symlink loop": (_loop, "it is a symlink loop", REMOVE_FIX),
    "symlink to a directory": (
        _link_to_a_directory,
        "it is a directory, not a regular file",
        REMOVE_FIX,
    ),
}


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs, sockets and symlinks as on POSIX")
@pytest.mark.parametrize("kind", list(NOT_A_LOG))
def test_a_log_that_is_not_a_regular_file_says_what_it_is_and_to_remove_it(
    tmp_path: Path, kind: str
) -> None:
    make, said, fix = NOT_A_LOG[kind]
    path = tmp_path / audit.AUDIT_FILE
    make(path)
    with pytest.raises(audit.AuditWriteFailed) as caught:
        audit.record(tmp_path, "x")
    assert caught.value.message == (
        f"cannot record x in the audit log {path}: " + said.format(dir=tmp_path)
    )
    assert caught.value.fix == fix.format(path=path)
    assert caught.value.exit_code == 1


def test_a_full_disk_keeps_the_free_space_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _disk(monkeypatch, [FULL])
    with pytest.raises(audit.AuditWriteFailed) as caught:
        audit.record(tmp_path, "x")
    path = tmp_path / audit.AUDIT_FILE
    assert caught.value.message.startswith(f"cannot record x in the audit log {path}: ")
    assert caught.value.fix == DISK_FIX.format(path=path)


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0,
    reason="as root (as here) a mode 0400 file is still writable: nothing to refuse",
)
def test_a_read_only_log_keeps_the_writable_fix(tmp_path: Path) -> None:
    path = tmp_path / audit.AUDIT_FILE
    path.write_text("")
    path.chmod(0o400)
    with pytest.raises(audit.AuditWriteFailed) as caught:
        audit.record(tmp_path, "x")
    assert caught.value.message == f"cannot record x in the audit log {path}: Permission denied"
    assert caught.value.fix == DISK_FIX.format(path=path)


# -- reading: lines around the longest event ------------------------------------------------

_EVENT_HEAD = '{"ts": "2026-01-01T00:00:00.000Z", "event": "e", "n": '


def _event_line(n: int, size: int) -> str:
    """An event line of exactly ``size`` characters, and its newline."""
    head = f'{_EVENT_HEAD}{n}, "pad": "'
    return head + "x" * (size - len(head) - 2) + '"}\n'


# (lines written, the events read back): every line of up to MAX_EVENT_BYTES characters
# (its newline not counted) is an event; a longer one is skipped whole, wherever it is
LONG_LINE_ROWS = [
    ("exactly the cap", [(1, audit.MAX_EVENT_BYTES)], [1]),
    ("one under", [(1, audit.MAX_EVENT_BYTES - 1)], [1]),
    ("one over", [(1, audit.MAX_EVENT_BYTES + 1), (2, 100)], [2]),
    ("two over", [(1, audit.MAX_EVENT_BYTES + 2), (2, 100)], [2]),
    ("long between", [(1, 100), (2, 5 * audit.MAX_EVENT_BYTES), (3, 100)], [1, 3]),
    ("two long", [(1, 3 * audit.MAX_EVENT_BYTES), (2, 2 * audit.MAX_EVENT_BYTES), (3, 99)], [3]),
]


@pytest.mark.parametrize(
    ("lines", "read"), [r[1:] for r in LONG_LINE_ROWS], ids=[r[0] for r in LONG_LINE_ROWS]
)
def test_lines_around_the_longest_event(
    tmp_path: Path, lines: list[tuple[int, int]], read: list[int]
) -> None:
    text = "".join(_event_line(n, size) for n, size in lines)
    (tmp_path / audit.AUDIT_FILE).write_text(text)
    assert [e["n"] for e in audit.read_events(tmp_path)] == read


def test_a_long_last_line_without_its_newline_is_skipped(tmp_path: Path) -> None:
    text = _event_line(1, 100) + _event_line(2, 3 * audit.MAX_EVENT_BYTES)[:-1]
    (tmp_path / audit.AUDIT_FILE).write_text(text)
    assert [e["n"] for e in audit.read_events(tmp_path)] == [1]


def test_reading_a_log_that_is_not_a_file_names_it(tmp_path: Path) -> None:
    (tmp_path / audit.AUDIT_FILE).mkdir()
    with pytest.raises(fs.NotRegularFile) as info:
        list(audit.read_events(tmp_path))
    assert (info.value.path, info.value.what) == (tmp_path / audit.AUDIT_FILE, "a directory")
    assert str(info.value) == f"{tmp_path / audit.AUDIT_FILE} is a directory, not a regular file"


# -- creating: never readable by others, not even before the chmod ---------------------------


def test_a_new_log_is_created_0600_not_chmod_ed_there_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    real_fchmod = os.fchmod

    def spy(fd: int, mode: int) -> None:
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        real_fchmod(fd, mode)

    monkeypatch.setattr(fs.os, "fchmod", spy)
    previous = os.umask(0o022)
    try:
        audit.record(tmp_path, "x")
    finally:
        os.umask(previous)
    assert seen == [0o600]  # as created, before ztctl's own chmod


def test_a_file_where_a_private_directory_should_be_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "state"
    path.write_text("")
    path.chmod(0o644)
    with pytest.raises(NotADirectoryError) as info:
        fs.ensure_private_dir(path)
    assert (info.value.errno, info.value.strerror, info.value.filename) == (
        errno.ENOTDIR,
        os.strerror(errno.ENOTDIR),
        str(path),
    )
    assert str(info.value) == f"[Errno {errno.ENOTDIR}] Not a directory: '{path}'"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # never chmod-ed


def test_the_rest_of_a_long_line_is_never_read_as_an_event(tmp_path: Path) -> None:
    # a forged event hidden after a long run of padding stays skipped with the padding
    forged = '{"ts": "2026-01-01T00:00:00.000Z", "event": "forged"}\n'
    log = tmp_path / audit.AUDIT_FILE
    log.write_text("x" * (audit.MAX_EVENT_BYTES + 1) + forged + _event_line(2, 100))
    assert [e.get("n") for e in audit.read_events(tmp_path)] == [2]


def test_a_whole_last_event_of_exactly_the_cap_without_its_newline_is_read(
    tmp_path: Path,
) -> None:
    (tmp_path / audit.AUDIT_FILE).write_text(_event_line(1, audit.MAX_EVENT_BYTES)[:-1])
    assert [e["n"] for e in audit.read_events(tmp_path)] == [1]


def test_appending_to_a_fifo_with_a_reader_is_refused_by_name(tmp_path: Path) -> None:
    fifo = tmp_path / "log"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with pytest.raises(fs.NotRegularFile) as info:
            fs.append_line_durably(fifo, "x")
        assert (info.value.path, info.value.what) == (fifo, "a FIFO (named pipe)")
    finally:
        os.close(reader)


def test_a_symlink_through_a_file_is_not_called_a_loop(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("")
    (tmp_path / audit.AUDIT_FILE).symlink_to(tmp_path / "plain" / "log")  # ENOTDIR, not ELOOP
    with pytest.raises(audit.AuditWriteFailed) as info:
        audit.record(tmp_path, "x")
    assert "loop" not in info.value.message
    assert info.value.message.endswith(": Not a directory")
    assert info.value.fix.startswith("free space on that disk or make ")
