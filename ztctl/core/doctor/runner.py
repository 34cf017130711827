"""Run doctor checks concurrently: dependencies, a per-check timeout and a global deadline.

A :class:`Check` is an id, a title, an optional cluster, the keys of the checks it needs
(``after``) and a function that returns an :class:`Outcome`. :func:`run_checks` starts each
check on its own daemon thread as soon as everything it needs has finished, and turns every
outcome into a frozen :class:`CheckResult` (docs/doctor.md):

- a check whose prerequisite failed (or was skipped because of a failure) is ``skip`` and
  names the failure at the root, without running;
- a check still running ``timeout`` seconds after it started is ``fail`` ("did not finish
  within"); its thread is left behind (it is a daemon, and every I/O in the checks has its
  own, shorter, timeout, so it ends soon after);
- at the global ``deadline`` every unfinished check is ``fail`` (running) or ``skip`` (never
  started), and :func:`run_checks` returns.

``on_result`` is called on the caller's thread, once per result, in completion order (for a
live table). Results come back in the order the checks were given. Nothing here prints.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ztctl.errors import ZtctlError

STATUSES = ("pass", "warn", "fail", "skip")
T = TypeVar("T")


@dataclass(frozen=True)
class Outcome:
    """What a check function found."""

    status: str
    summary: str
    fix: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown check status {self.status!r}")


def passed(summary: str, data: Mapping[str, Any] | None = None) -> Outcome:
    return Outcome("pass", summary, "", data or {})


def warned(summary: str, fix: str = "", data: Mapping[str, Any] | None = None) -> Outcome:
    return Outcome("warn", summary, fix, data or {})


def failed(summary: str, fix: str, data: Mapping[str, Any] | None = None) -> Outcome:
    return Outcome("fail", summary, fix, data or {})


def skipped(summary: str, data: Mapping[str, Any] | None = None) -> Outcome:
    return Outcome("skip", summary, "", data or {})


@dataclass(frozen=True)
class CheckResult:
    id: str
    title: str
    status: str
    summary: str
    fix: str = ""
    cluster: str | None = None
    duration_ms: float = 0.0
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Every message and datum a check reports is shown (text, --json, the bundle): a
        # URL's password or presigned signature never leaves as written.
        for name in ("summary", "fix", "data"):
            object.__setattr__(self, name, _hide_secrets(getattr(self, name)))

    @property
    def key(self) -> str:
        return check_key(self.id, self.cluster)

    @property
    def ok(self) -> bool:
        return self.status != "fail"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "summary": self.summary,
            "fix": self.fix,
            "cluster": self.cluster,
            "durationMs": round(self.duration_ms, 1),
            "data": dict(self.data),
        }


def _hide_secrets(value: Any) -> Any:
    """``value`` with :func:`~ztctl.core.redact.hide_passwords` applied to every
    string in it (nested mappings and lists included)."""
    from ztctl.core.redact import hide_passwords

    if isinstance(value, str):
        return hide_passwords(value)
    if isinstance(value, Mapping):
        return {key: _hide_secrets(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_hide_secrets(item) for item in value)
    return value


def check_key(check_id: str, cluster: str | None = None) -> str:
    """``warp.mode`` or ``cluster.tcp@prod-eu``."""
    return f"{check_id}@{cluster}" if cluster else check_id


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    run: Callable[[], Outcome] = field(repr=False)
    cluster: str | None = None
    after: tuple[str, ...] = ()  # keys of the checks this one needs

    @property
    def key(self) -> str:
        return check_key(self.id, self.cluster)


@dataclass(frozen=True)
class RunReport:
    results: tuple[CheckResult, ...]
    duration_ms: float
    deadline_hit: bool = False

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)


def _skip_for(check: Check, cause: CheckResult) -> CheckResult:
    root_id = cause.data.get("skippedBecause") if cause.status == "skip" else None
    root_summary = cause.data.get("rootSummary") if root_id else None
    root = str(root_id) if root_id else cause.id
    summary_of_root = str(root_summary) if root_summary else cause.summary
    where = f" for {cause.cluster}" if cause.cluster and cause.cluster != check.cluster else ""
    return CheckResult(
        id=check.id,
        title=check.title,
        status="skip",
        summary=f"skipped: {root}{where} failed ({_short(summary_of_root)})",
        fix="",
        cluster=check.cluster,
        duration_ms=0.0,
        data={"skippedBecause": root, "rootSummary": summary_of_root},
    )


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    head = cut.rsplit(" ", 1)[0] if " " in cut else cut  # at a word boundary
    return head.rstrip(" ,;:(") + "…"


def _result(check: Check, outcome: Outcome, duration_ms: float) -> CheckResult:
    return CheckResult(
        id=check.id,
        title=check.title,
        status=outcome.status,
        summary=outcome.summary,
        fix=outcome.fix,
        cluster=check.cluster,
        duration_ms=duration_ms,
        data=dict(outcome.data),
    )


def _call(check: Check) -> Outcome:
    try:
        return check.run()
    except ZtctlError as exc:
        return failed(exc.message, exc.fix)
    except Exception as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        where = f" at {frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}" if frame else ""
        return failed(
            f"the check itself crashed: {type(exc).__name__}: {exc}{where}",
            "this is a bug in ztctl: please report it with the file from "
            "`ztctl doctor --bundle doctor.tar.gz`",
        )


def run_checks(
    checks: Sequence[Check],
    *,
    timeout: float,
    deadline: float | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> RunReport:
    """Run ``checks`` as described in the module docstring.

    ``timeout`` is per check (seconds, from the check's start); ``deadline`` is the whole
    run's limit in seconds from now (default: twice the timeout plus one second).
    """
    keys = [c.key for c in checks]
    if len(set(keys)) != len(keys):
        raise ValueError("two checks share a key")
    by_key = {c.key: c for c in checks}
    for check in checks:
        unknown = [k for k in check.after if k not in by_key]
        if unknown:
            raise ValueError(f"{check.key} needs unknown checks {unknown}")
    run = _Run(checks, timeout, on_result)
    limit = run.started_at + (deadline if deadline is not None else 2 * timeout + 1.0)
    run.start_ready()
    while len(run.results) < len(checks):
        now = time.monotonic()
        if now >= limit:
            run.stop_at_deadline()
            break
        next_expiry = min((s + timeout for s in run.running.values()), default=limit)
        try:
            key, outcome, duration_ms = run.done.get(
                timeout=max(0.0, min(next_expiry, limit) - now)
            )
        except queue.Empty:
            run.time_out_overdue()
        else:
            if key not in run.results:  # else: finished after its timeout was reported
                run.record(_result(by_key[key], outcome, duration_ms))
        run.start_ready()
    ordered = tuple(run.results[k] for k in keys)
    return RunReport(ordered, (time.monotonic() - run.started_at) * 1000.0, run.deadline_hit)


class _Run:
    """The state of one :func:`run_checks`: what finished, what runs since when, what waits."""

    def __init__(
        self,
        checks: Sequence[Check],
        timeout: float,
        on_result: Callable[[CheckResult], None] | None,
    ) -> None:
        self.by_key = {c.key: c for c in checks}
        self.timeout = timeout
        self.on_result = on_result
        self.started_at = time.monotonic()
        self.results: dict[str, CheckResult] = {}
        self.running: dict[str, float] = {}  # key -> monotonic start
        self.pending = list(checks)
        self.done: queue.Queue[tuple[str, Outcome, float]] = queue.Queue()
        self.deadline_hit = False

    def record(self, result: CheckResult) -> None:
        self.results[result.key] = result
        self.running.pop(result.key, None)
        if self.on_result is not None:
            self.on_result(result)

    def start_ready(self) -> None:
        """Start every pending check whose dependencies finished (skip it if one failed)."""
        progressed = True
        while progressed:
            progressed = False
            for check in list(self.pending):
                needs = [self.results.get(k) for k in check.after]
                if any(r is None for r in needs):
                    continue
                self.pending.remove(check)
                progressed = True
                cause = next(
                    (r for r in needs if r is not None and r.status in ("fail", "skip")), None
                )
                if cause is not None and (cause.status == "fail" or "skippedBecause" in cause.data):
                    self.record(_skip_for(check, cause))
                    continue
                self.running[check.key] = time.monotonic()
                thread = threading.Thread(
                    target=_worker,
                    args=(check, self.done),
                    name=f"ztctl-{check.key}",
                    daemon=True,
                )
                thread.start()

    def time_out_overdue(self) -> None:
        now = time.monotonic()
        for key, began in list(self.running.items()):
            if now - began >= self.timeout:
                outcome = failed(
                    f"did not finish within {self.timeout:g}s",
                    "run `ztctl doctor` again with a longer `--timeout`; if it "
                    "keeps timing out, the part it checks is hanging",
                    {"timedOut": True},
                )
                self.record(_result(self.by_key[key], outcome, (now - began) * 1000.0))

    def stop_at_deadline(self) -> None:
        """The whole run's deadline: what still runs fails, what waits is skipped."""
        self.deadline_hit = True
        now = time.monotonic()
        total = now - self.started_at
        for key, began in list(self.running.items()):
            outcome = failed(
                f"stopped at the doctor's deadline ({total:.1f}s) before it finished",
                "run `ztctl doctor` again with a longer `--timeout`",
                {"timedOut": True},
            )
            self.record(_result(self.by_key[key], outcome, (now - began) * 1000.0))
        for check in list(self.pending):
            self.pending.remove(check)
            skip = skipped(f"not started before the doctor's deadline ({total:.1f}s)")
            self.record(_result(check, skip, 0.0))


def _worker(check: Check, done: queue.Queue[tuple[str, Outcome, float]]) -> None:
    began = time.perf_counter()
    outcome = _call(check)
    done.put((check.key, outcome, (time.perf_counter() - began) * 1000.0))


class _Slot(Generic[T]):
    def __init__(self) -> None:
        self.event = threading.Event()
        self.value: T | None = None
        self.error: BaseException | None = None


class Facts:
    """Single-flight memo shared by checks: the first caller of a key computes it, the
    others wait for that result (or its exception)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[str, _Slot[Any]] = {}

    def get(self, key: str, compute: Callable[[], T]) -> T:
        with self._lock:
            slot = self._slots.get(key)
            owner = slot is None
            if slot is None:
                slot = _Slot()
                self._slots[key] = slot
        if owner:
            try:
                slot.value = compute()
            except BaseException as exc:
                slot.error = exc
            finally:
                slot.event.set()
        else:
            slot.event.wait()
        if slot.error is not None:
            raise slot.error
        return slot.value  # type: ignore[return-value]

    def peek(self, key: str) -> Any:
        """The value of ``key`` if it has been computed successfully, else ``None``."""
        with self._lock:
            slot = self._slots.get(key)
        if slot is None or not slot.event.is_set() or slot.error is not None:
            return None
        return slot.value

    def items(self) -> Iterable[tuple[str, Any]]:
        with self._lock:
            slots = list(self._slots.items())
        return [(k, s.value) for k, s in slots if s.event.is_set() and s.error is None]


def status_counts(results: Sequence[CheckResult]) -> dict[str, int]:
    """How many results pass, warn, fail and skip (the summary line of doctor and catalog check)."""
    out = {"pass": 0, "warn": 0, "fail": 0, "skip": 0}
    for r in results:
        out[r.status] += 1
    return out
