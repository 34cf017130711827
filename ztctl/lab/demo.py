"""``ztctl lab demo``: the guided tour of the lab (docs/lab.md), step by step.

Each step is a :class:`Step` in :data:`STEPS`; it gets the :class:`Tour` (the lab, its
environment, kubectl) and returns a one-line detail, raises :class:`Skip` with a reason, or
raises :class:`StepFailed` (any other exception fails the step too). After a failure, the
remaining steps are skipped except those marked ``always`` (stopping the lab). Later
capabilities add their steps to the list, e.g. ``insert_step(step, before="outage")``.

Nothing here prints: :func:`run_demo` hands each :class:`StepResult` to a callback as soon as
the step ends, and returns a :class:`DemoResult`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ztctl.lab import control
from ztctl.lab.env import LabInfo

OK, FAIL, SKIP = "ok", "fail", "skip"
KUBECTL_TIMEOUT = "--request-timeout=5s"
OUTAGE_TIMEOUT = "--request-timeout=2s"


class Skip(Exception):
    """The step does not apply here (the message says why)."""


class StepFailed(Exception):
    """The step ran and the lab did not behave as designed."""


@dataclass
class Tour:
    """What the steps share: the lab directory, the running lab, the environment."""

    dir: Path
    work: Path  # scratch space for the tour's own files (kubeconfig copies)
    kubectl: str | None
    base_env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    info: LabInfo | None = None

    @property
    def lab(self) -> LabInfo:
        if self.info is None:
            raise StepFailed("the lab is not running")
        return self.info

    @property
    def env(self) -> dict[str, str]:
        """The environment after ``eval "$(ztctl lab up)"``."""
        return {**self.base_env, **self.lab.env(self.base_env)}

    def run(
        self, args: Sequence[str | Path], timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def kubectl_run(
        self, *args: str | Path, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        if self.kubectl is None:
            raise Skip("kubectl is not installed")
        return self.run([self.kubectl, *args], timeout=timeout)

    def ztctl_run(self, *args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ztctl itself (this installation) with the lab's environment."""
        return self.run([sys.executable, "-m", "ztctl", *args], timeout=timeout)


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    run: Callable[[Tour], str]
    always: bool = False  # runs even after an earlier step failed (clean-up)


@dataclass(frozen=True)
class StepResult:
    name: str
    title: str
    status: str  # ok | fail | skip
    detail: str
    duration_ms: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "durationMs": self.duration_ms,
        }


@dataclass(frozen=True)
class DemoResult:
    dir: Path
    kept: bool  # the lab directory was kept (given by the user, or kept to debug a failure)
    steps: tuple[StepResult, ...]

    @property
    def ok(self) -> bool:
        return all(step.status != FAIL for step in self.steps)

    @property
    def failed(self) -> StepResult | None:
        return next((s for s in self.steps if s.status == FAIL), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dir": str(self.dir),
            "kept": self.kept,
            "steps": [s.to_dict() for s in self.steps],
        }


# -- the steps -------------------------------------------------------------------------------


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _expect_success(result: subprocess.CompletedProcess[str], what: str) -> None:
    if result.returncode != 0:
        raise StepFailed(f"{what} exited {result.returncode}: {_first_line(result.stderr)}")


def _whoami(tour: Tour, *extra: str | Path) -> tuple[str, str]:
    result = tour.kubectl_run(*extra, KUBECTL_TIMEOUT, "auth", "whoami", "-o", "json")
    _expect_success(result, "kubectl auth whoami")
    user = json.loads(result.stdout)["status"]["userInfo"]
    route = (user.get("extra") or {}).get("ztctl.lab/route", ["?"])[0]
    return str(user.get("username")), str(route)


def step_lab_up(tour: Tour) -> str:
    tour.info = control.up(tour.dir).info
    return f"API server {tour.info.server}, bastion {tour.info.proxy_url} (ztctl lab up)"


def step_login(tour: Tour) -> str:
    """`ztctl login` from an unenrolled device: under --no-input it prints the enrolment URL
    and exits 4; on a terminal it enrols, connects and keeps the Access token (exit 4 with the
    keyring's fix where this machine has no OS keyring)."""
    import pty

    from ztctl.lab import state as lab_state

    control.set_values(tour.dir, ["warp.registered=false", "warp.connected=false"])
    headless = tour.ztctl_run("--no-input", "login")
    if headless.returncode != 4 or "cloudflareaccess.com/warp" not in headless.stderr:
        raise StepFailed(
            f"ztctl --no-input login exited {headless.returncode} without the enrolment URL"
        )
    primary, secondary = pty.openpty()
    try:
        login = subprocess.run(
            [sys.executable, "-m", "ztctl", "login"],
            env=tour.env,
            stdin=secondary,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(secondary)
        os.close(primary)
    warp = lab_state.load(tour.dir).warp
    if not (warp.registered and warp.team == lab_state.load(tour.dir).team and warp.connected):
        raise StepFailed(
            f"ztctl login left WARP unenrolled or disconnected (exit {login.returncode})"
        )
    if login.returncode == 0:
        who = _first_line(login.stdout)
        tour.ztctl_run("logout")  # leave no lab token in this machine's keyring
        return f"--no-input: URL and exit 4; on a terminal: enrolled, connected. {who}"
    if login.returncode == 4 and "keyring" in login.stderr:
        return (
            "--no-input: URL and exit 4; on a terminal: enrolled and connected (no OS keyring "
            "here for the Access token: exit 4 with the fix)"
        )
    raise StepFailed(f"ztctl login exited {login.returncode}: {_first_line(login.stderr)}")


def step_zero_trust_readyz(tour: Tour) -> str:
    result = tour.kubectl_run(KUBECTL_TIMEOUT, "get", "--raw", "/readyz")
    _expect_success(result, "kubectl get --raw /readyz")
    if result.stdout.strip() != "ok":
        raise StepFailed(f"/readyz answered {result.stdout.strip()!r}, expected 'ok'")
    return "kubectl get --raw /readyz → ok"


def step_zero_trust_whoami(tour: Tour) -> str:
    user, route = _whoami(tour)
    if route != "zero-trust":
        raise StepFailed(f"the API server saw route {route!r}, expected 'zero-trust'")
    return f"kubectl auth whoami → {user}, route {route}"


def step_use_cluster(tour: Tour) -> str:
    fresh = tour.work / "fresh-kubeconfig"
    result = tour.run(
        [sys.executable, "-m", "ztctl", "--kubeconfig", fresh, "use-cluster", "lab", "--json"]
    )
    _expect_success(result, "ztctl use-cluster lab")
    doc = json.loads(result.stdout)
    if doc.get("currentContext") != "lab" or not doc.get("changed"):
        raise StepFailed(f"use-cluster did not switch to lab: {doc.get('currentContext')!r}")
    mode = fresh.stat().st_mode & 0o777
    if mode != 0o600:
        raise StepFailed(f"{fresh} was created with mode {mode:o}, expected 600")
    readyz = tour.kubectl_run("--kubeconfig", fresh, KUBECTL_TIMEOUT, "get", "--raw", "/readyz")
    _expect_success(readyz, "kubectl get --raw /readyz with the merged kubeconfig")
    user, _route = _whoami(tour, "--kubeconfig", fresh)
    added = sum(change["action"] == "add" for change in doc["changes"])
    return (
        f"ztctl use-cluster lab into an empty kubeconfig: {added} entries added (0600), "
        f"kubectl → /readyz {readyz.stdout.strip()}, whoami {user}"
    )


def step_outage(tour: Tour) -> str:
    control.set_values(tour.dir, ["zt-path=blackhole"])
    return "ztctl lab set zt-path=blackhole: the Zero Trust path now swallows packets"


def step_outage_kubectl(tour: Tour) -> str:
    started = time.monotonic()
    result = tour.kubectl_run(OUTAGE_TIMEOUT, "get", "--raw", "/readyz", timeout=30)
    elapsed = time.monotonic() - started
    if result.returncode == 0:
        raise StepFailed("kubectl succeeded through a black hole")
    if "Unable to connect to the server" not in result.stderr:
        raise StepFailed(f"kubectl failed for another reason: {_first_line(result.stderr)}")
    return f"kubectl {OUTAGE_TIMEOUT} failed as expected in {elapsed:.1f}s"


BREAK_GLASS_REASON = "lab demo: Zero Trust path black-holed, need kubectl over the bastion"


def _kubeconfig_digest(tour: Tour) -> str:
    import hashlib

    return hashlib.sha256(tour.lab.paths.kubeconfig.read_bytes()).hexdigest()


def step_break_glass_start(tour: Tour) -> str:
    (tour.work / "kubeconfig.sha256").write_text(_kubeconfig_digest(tour))
    result = tour.ztctl_run(
        "break-glass", "start", "lab", "--reason", BREAK_GLASS_REASON, "--ttl", "15m",
        "--timeout", "1", "--json",
    )  # fmt: skip
    _expect_success(result, "ztctl break-glass start lab")
    document = json.loads(result.stdout)
    verified = document["verified"]
    return (
        f"ztctl break-glass start lab → {document['session']['route']}, /readyz "
        f"{verified['readyz']} over it as {verified['user']}, open for 15m"
    )


def step_break_glass_exec(tour: Tour) -> str:
    if tour.kubectl is None:
        raise Skip("kubectl is not installed")
    ready = tour.ztctl_run(
        "break-glass", "exec", "lab", "--", tour.kubectl, KUBECTL_TIMEOUT, "get", "--raw", "/readyz"
    )
    _expect_success(ready, "ztctl break-glass exec lab -- kubectl get --raw /readyz")
    whoami = tour.ztctl_run(
        "break-glass", "exec", "lab", "--", tour.kubectl, KUBECTL_TIMEOUT,
        "auth", "whoami", "-o", "json",
    )  # fmt: skip
    _expect_success(whoami, "ztctl break-glass exec lab -- kubectl auth whoami")
    user = json.loads(whoami.stdout)["status"]["userInfo"]
    route = (user.get("extra") or {}).get("ztctl.lab/route", ["?"])[0]
    if route != "break-glass":
        raise StepFailed(f"the API server saw route {route!r}, expected 'break-glass'")
    return (
        f"ztctl break-glass exec lab -- kubectl: /readyz {ready.stdout.strip()}, "
        f"whoami {user.get('username')}, route {route}"
    )


def step_break_glass_end(tour: Tour) -> str:
    from ztctl.core import audit
    from ztctl.core.breakglass.session import read_session

    if tour.info is None:
        raise Skip("the lab was not started")
    state_dir = tour.lab.paths.state_dir
    if read_session(state_dir, "lab") is None:
        raise Skip("no break-glass session was open")
    result = tour.ztctl_run("break-glass", "end", "lab")
    _expect_success(result, "ztctl break-glass end lab")
    events = [
        e
        for e in audit.read_events(state_dir)
        if str(e.get("event", "")).startswith("break-glass.")
        and e.get("reason") == BREAK_GLASS_REASON
    ]
    kinds = [str(e["event"]).removeprefix("break-glass.") for e in events]
    if kinds[:2] != ["route-open", "start"] or kinds[-1] != "end":
        raise StepFailed(f"the audit log holds {kinds}, expected route-open, start ... end")
    before = tour.work / "kubeconfig.sha256"
    if before.exists() and before.read_text() != _kubeconfig_digest(tour):
        raise StepFailed("break-glass changed the kubeconfig")
    return f"route closed; audit log: {', '.join(kinds)} with the reason; kubeconfig unchanged"


def step_lab_down(tour: Tour) -> str:
    if tour.info is None:
        raise Skip("the lab was not started")
    result = control.down(tour.dir)
    tour.info = None
    if result.pid is None:
        raise StepFailed("no lab process was running any more")
    return f"stopped pid {result.pid} (ztctl lab down)"


def step_probe(tour: Tour) -> str:
    result = tour.ztctl_run("probe", "lab", "--route", "zero-trust", "--json")
    _expect_success(result, "ztctl probe lab")
    doc = json.loads(result.stdout)
    t = doc["timings"]
    phases = ", ".join(
        f"{name} {t[key]:.1f} ms"
        for name, key in (("dns", "dnsMs"), ("tcp", "connectMs"), ("tls", "tlsMs"),
                          ("first byte", "firstByteMs"), ("total", "totalMs"))
    )  # fmt: skip
    return f"ztctl probe lab → readyz {doc['readyz']}, {doc['version']}, {doc['user']}: {phases}"


def step_probe_outage(tour: Tour) -> str:
    result = tour.ztctl_run("probe", "lab", "--timeout", "2", "--json")
    if result.returncode != 5:
        raise StepFailed(f"ztctl probe exited {result.returncode} during the outage, expected 5")
    doc = json.loads(result.stdout)
    bg = doc.get("breakGlass") or {}
    if not bg.get("ok"):
        raise StepFailed("ztctl probe did not find the break-glass route answering")
    error = doc["error"]
    return (
        f"ztctl probe lab → exit 5 ({error['kind']} in the {error['phase']} phase); "
        f"break-glass answers through {bg['via']} in {bg['timings']['totalMs']:.0f} ms"
    )


def step_doctor(tour: Tour) -> str:
    result = tour.ztctl_run("doctor", "--json")
    doc = json.loads(result.stdout) if result.stdout.strip() else {}
    failing = [c["id"] for c in doc.get("checks", []) if c["status"] == "fail"]
    if result.returncode != 0 or failing:
        raise StepFailed(f"ztctl doctor exited {result.returncode}; failing: {failing}")
    counts = {s: sum(c["status"] == s for c in doc["checks"]) for s in ("pass", "warn", "skip")}
    return (
        f"ztctl doctor → exit 0: {counts['pass']} passed, {counts['warn']} warnings, "
        f"{counts['skip']} skipped, in {doc['durationMs'] / 1000:.1f}s"
    )


def step_doctor_outage(tour: Tour) -> str:
    result = tour.ztctl_run("doctor", "--timeout", "1", "--json")
    if result.returncode != 1:
        raise StepFailed(f"ztctl doctor exited {result.returncode} during the outage, expected 1")
    failing = [c for c in json.loads(result.stdout)["checks"] if c["status"] == "fail"]
    path = [c for c in failing if c["id"] in ("cluster.tcp", "cluster.tls")]
    if not path or "Zero Trust path" not in path[0]["fix"]:
        raise StepFailed(f"ztctl doctor did not name the black-holed path: {failing}")
    if "ztctl break-glass start lab" not in path[0]["fix"]:
        raise StepFailed("ztctl doctor did not name the break-glass route")
    others = [c["id"] for c in failing if c not in path]
    if others:
        raise StepFailed(f"ztctl doctor blamed more than the path: {others}")
    return (
        f"ztctl doctor → exit 1: {path[0]['id']} fails, the Zero Trust path is named, "
        "break-glass offered"
    )


def step_server_outage(tour: Tour) -> str:
    control.set_values(tour.dir, ["reset", "cf.tunnel=down"])
    return (
        "ztctl lab set cf.tunnel=down: the cluster's cloudflared replicas lose their "
        "connections; the Cloudflare API says so"
    )


def step_doctor_server(tour: Tour) -> str:
    result = tour.ztctl_run("doctor", "--timeout", "2", "--json")
    if result.returncode != 1:
        raise StepFailed(f"ztctl doctor exited {result.returncode}, expected 1")
    checks = json.loads(result.stdout)["checks"]
    tunnel = next((c for c in checks if c["id"] == "cf.tunnel"), None)
    if tunnel is None or tunnel["status"] != "fail" or "0 connectors" not in tunnel["summary"]:
        raise StepFailed(f"cf.tunnel did not report the tunnel down: {tunnel}")
    path = [c for c in checks if c["id"].startswith("cluster.") and c["status"] == "fail"]
    if not path or "0 connectors" not in path[0]["fix"]:
        raise StepFailed(f"the local failure does not point at the tunnel: {path}")
    return f"ztctl doctor → {path[0]['id']}: {path[0]['fix'].split(' (see ')[0]}"


def step_catalog_check(tour: Tour) -> str:
    broken = tour.ztctl_run("catalog", "check", "--json")
    if broken.returncode != 1:
        raise StepFailed(f"ztctl catalog check exited {broken.returncode} with the tunnel down")
    failing = sorted(
        {c["id"] for c in json.loads(broken.stdout)["checks"] if c["status"] == "fail"}
    )
    control.set_values(tour.dir, ["reset"])
    fixed = tour.ztctl_run("catalog", "check", "--json")
    if fixed.returncode != 0:
        raise StepFailed(f"ztctl catalog check exited {fixed.returncode} once the tunnel was up")
    calls = json.loads(fixed.stdout)["apiCalls"]
    return (
        f"ztctl catalog check → exit 1 ({', '.join(failing)}) with the tunnel down, exit 0 "
        f"once it is back ({calls} API calls)"
    )


STEPS: list[Step] = [
    Step("lab-up", "Start the lab", step_lab_up),
    Step("login", "ztctl login from an unenrolled device", step_login),
    Step("use-cluster", "ztctl use-cluster into a fresh kubeconfig", step_use_cluster),
    Step("zero-trust-readyz", "Reach the API server over Zero Trust", step_zero_trust_readyz),
    Step("zero-trust-whoami", "Authenticate over Zero Trust", step_zero_trust_whoami),
    Step("probe-healthy", "ztctl probe: where the time goes", step_probe),
    Step("doctor", "ztctl doctor: every layer passes", step_doctor),
    Step("outage", "Inject an outage", step_outage),
    Step("outage-kubectl", "kubectl fails fast during the outage", step_outage_kubectl),
    Step("doctor-outage", "ztctl doctor names the injected fault", step_doctor_outage),
    Step("probe-outage", "ztctl probe names the outage and the way around it", step_probe_outage),
    Step("break-glass-start", "ztctl break-glass start during the outage", step_break_glass_start),
    Step("break-glass", "kubectl over the break-glass route", step_break_glass_exec),
    Step("break-glass-end", "ztctl break-glass end", step_break_glass_end, always=True),
    Step("server-outage", "Take the cluster's tunnel down", step_server_outage),
    Step("doctor-server", "ztctl doctor explains it server-side", step_doctor_server),
    Step("catalog-check", "ztctl catalog check fails, then passes", step_catalog_check),
    Step("lab-down", "Stop the lab", step_lab_down, always=True),
]


def insert_step(step: Step, *, before: str) -> None:
    """Add ``step`` to the tour just before the step named ``before``."""
    names = [s.name for s in STEPS]
    STEPS.insert(names.index(before), step)


# -- running the tour -------------------------------------------------------------------------


def run_demo(
    lab_dir: Path | None = None,
    *,
    steps: Sequence[Step] | None = None,
    on_result: Callable[[StepResult], None] | None = None,
    kubectl: str | None = None,
    env: dict[str, str] | None = None,
) -> DemoResult:
    """Run the tour in ``lab_dir`` (default: a new temporary directory, removed on success)."""
    temporary = lab_dir is None
    root = Path(tempfile.mkdtemp(prefix="ztctl-lab-demo-")) if lab_dir is None else lab_dir
    work = Path(tempfile.mkdtemp(prefix="ztctl-demo-work-"))
    tour = Tour(
        dir=root,
        work=work,
        kubectl=kubectl if kubectl is not None else shutil.which("kubectl"),
        base_env=dict(os.environ if env is None else env),
    )
    results: list[StepResult] = []
    failed = False
    try:
        for step in STEPS if steps is None else steps:
            if failed and not step.always:
                result = StepResult(step.name, step.title, SKIP, "an earlier step failed", 0)
            else:
                result = _run_step(step, tour)
                failed = failed or result.status == FAIL
            results.append(result)
            if on_result is not None:
                on_result(result)
    finally:
        if tour.info is not None:  # a step list without lab-down, or an interruption
            control.down(tour.dir)
        shutil.rmtree(work, ignore_errors=True)
    keep = not temporary or failed
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
    return DemoResult(root, keep, tuple(results))


def _run_step(step: Step, tour: Tour) -> StepResult:
    started = time.monotonic()
    try:
        detail, status = step.run(tour), OK
    except Skip as skip:
        detail, status = str(skip), SKIP
    except StepFailed as failure:
        detail, status = str(failure), FAIL
    except Exception as exc:  # any error is a misbehaving step, reported, not raised
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        detail, status = message, FAIL
    duration = round((time.monotonic() - started) * 1000)
    return StepResult(step.name, step.title, status, detail, duration)
