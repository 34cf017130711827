"""Many writers at once, and writers killed mid-write: no lost update, no torn file."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from ztctl.core.kubeconfig.files import parse_file
from ztctl.core.kubeconfig.model import load_kubeconfig
from ztctl.core.kubeconfig.store import lock_path
from ztctl.errors import InvalidInput

ZTCTL = [sys.executable, "-m", "ztctl"]
HELPER = Path(__file__).with_name("kill_helper.py")
WRITERS = 8


def catalog(path: Path, count: int) -> Path:
    clusters = [
        {
            "name": f"zt-{i}",
            "server": f"https://k8s-{i}.acme.net:6443",
            "addresses": [f"203.0.113.{i + 1}"],
            "certificateAuthority": "/ca.pem",
            "credentials": {"clientCertificate": "/c.crt", "clientKey": "/c.key"},
        }
        for i in range(count)
    ]
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "ztctl/v1",
                "kind": "ClusterCatalog",
                "team": "acme",
                "clusters": clusters,
            }
        )
    )
    return path


def environment(tmp_path: Path, kubeconfig: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HOME": str(tmp_path),
        "ZTCTL_CATALOG": str(tmp_path / "catalog.yaml"),
        "ZTCTL_CONFIG": str(tmp_path / "absent.toml"),
        "ZTCTL_STATE_DIR": str(tmp_path / "state"),
        "KUBECONFIG": str(kubeconfig),
    }


def retry_while_locked(args: list[str], env: dict[str, str], attempts: int = 200) -> int:
    """Run until the process does not fail on the lock; returns how many retries it took.

    kubectl fails at once when `<file>.lock` exists (client-go has no wait); ztctl waits
    about two seconds. Both are retried here, as a user would.
    """
    for attempt in range(attempts):
        proc = subprocess.run(
            args, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        if proc.returncode == 0:
            return attempt
        assert ".lock" in proc.stderr and ("exists" in proc.stderr), proc.stderr
        time.sleep(random.uniform(0.01, 0.05))
    raise AssertionError(f"{args} never got the lock")


class Reader:
    """Reads the file in a loop while writers run; keeps what did not parse."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.torn: list[bytes] = []
        self.problems: list[str] = []
        self.reads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.is_set():
            data = self.path.read_bytes()
            self.reads += 1
            if not data:
                continue  # kubectl truncates, then writes: readers can see 0 bytes
            try:
                parse_file(self.path, data)
            except InvalidInput as exc:
                self.torn.append(data)
                self.problems.append(exc.message)

    def __enter__(self) -> Reader:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_all(jobs: list[list[str]], env: dict[str, str]) -> None:
    errors: list[BaseException] = []

    def worker(args: list[str]) -> None:
        try:
            retry_while_locked(args, env)
        except BaseException as exc:  # reported below
            errors.append(exc)

    random.shuffle(jobs)
    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def test_many_ztctl_writers_at_once_lose_no_update(tmp_path: Path, kubectl: str) -> None:
    cfg = tmp_path / "config"
    cfg.write_text("apiVersion: v1\nkind: Config\ncurrent-context: ''\n")
    catalog(tmp_path / "catalog.yaml", 2 * WRITERS)
    env = environment(tmp_path, cfg)
    jobs = [[*ZTCTL, "use-cluster", f"zt-{i}", "--no-probe"] for i in range(2 * WRITERS)]
    jobs += [[kubectl, "config", "view"] for _ in range(WRITERS)]  # readers never lock
    with Reader(cfg) as reader:
        run_all(jobs, env)
    assert reader.torn == [], reader.problems
    assert reader.reads > 0
    kc = load_kubeconfig(str(cfg), {})
    for i in range(2 * WRITERS):
        for kind in ("cluster", "user", "context"):
            entry = kc.entry(kind, f"zt-{i}")
            assert entry is not None and entry.owned, (kind, i)
    assert not lock_path(cfg).exists()


def test_ztctl_and_kubectl_writers_at_once(tmp_path: Path, kubectl: str) -> None:
    """8 ztctl and 8 `kubectl config set-context` on one file, all at once.

    Both take `<file>.lock`, so no write interleaves with another: every process succeeds
    (kubectl after retries) and the final file loads. ztctl reads the file after taking the
    lock, so each of its writes keeps every entry that was there (checked on a record of
    each write). Readers are not checked here: kubectl truncates and rewrites in place, so
    a reader can see part of a kubectl write (ztctl's renames are checked above).

    kubectl computes its change from the file as read *before* it takes the lock, then
    writes back every entry that differs from that stale copy and deletes every entry
    missing from it (client-go ModifyConfig): with concurrent writers kubectl itself can
    drop their entries, so the final file is not required to hold everything here.
    """
    cfg = tmp_path / "config"
    cfg.write_text("apiVersion: v1\nkind: Config\ncurrent-context: ''\n")
    catalog(tmp_path / "catalog.yaml", WRITERS)
    records = tmp_path / "records"
    records.mkdir()
    env = environment(tmp_path, cfg)
    jobs: list[list[str]] = []
    for i in range(WRITERS):
        jobs.append(
            [
                sys.executable,
                str(HELPER),
                "record",
                str(cfg),
                str(records),
                "--",
                "use-cluster",
                f"zt-{i}",
                "--no-probe",
            ]
        )
        jobs.append(
            [
                kubectl,
                "config",
                "set-context",
                f"kc-{i}",
                f"--cluster=zt-{i}",
                "--user=someone",
                f"--namespace=ns-{i}",
            ]
        )
    run_all(jobs, env)
    assert not lock_path(cfg).exists()
    proc = subprocess.run(
        [kubectl, "--kubeconfig", str(cfg), "config", "view", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    befores = sorted(records.glob("*.before"))
    assert len(befores) >= WRITERS
    for before in befores:
        old = parse_file(before, before.read_bytes()).data
        new = parse_file(before, before.with_suffix(".after").read_bytes()).data
        for key in ("clusters", "users", "contexts"):
            kept = [item for item in new.get(key) or [] if item in (old.get(key) or [])]
            theirs = [
                item
                for item in old.get(key) or []
                if not str(item.get("name", "")).startswith("zt-")
            ]
            assert all(item in kept for item in theirs), (before.name, key)


def _start_paused(tmp_path: Path, cfg: Path, when: str) -> tuple[subprocess.Popen[bytes], Path]:
    marker = tmp_path / f"marker-{when}"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HELPER),
            when,
            str(cfg),
            str(marker),
            "--",
            "use-cluster",
            "zt-0",
            "--no-probe",
        ],
        env=environment(tmp_path, cfg),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return proc, marker


def test_sigkill_before_the_rename_leaves_the_old_file(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    old = b"apiVersion: v1\nkind: Config\ncurrent-context: ''\n"
    cfg.write_bytes(old)
    catalog(tmp_path / "catalog.yaml", 1)
    proc, marker = _start_paused(tmp_path, cfg, "before")
    temp = Path(marker.read_text())
    assert temp.parent == tmp_path and temp.name.startswith(".config.")
    assert b"zt-0" in temp.read_bytes()  # the new content was complete and fsynced
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert cfg.read_bytes() == old
    # The killed writer's lock stays, as with kubectl; the next writer names it.
    env = environment(tmp_path, cfg)
    blocked = subprocess.run(
        [*ZTCTL, "use-cluster", "zt-0", "--no-probe"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert blocked.returncode == 1
    assert f"rm {cfg}.lock" in blocked.stderr
    lock_path(cfg).unlink()
    done = subprocess.run(
        [*ZTCTL, "use-cluster", "zt-0", "--no-probe"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert load_kubeconfig(str(cfg), {}).current_context == "zt-0"


def test_sigkill_after_the_rename_leaves_the_new_file(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    cfg.write_bytes(b"kind: Config\n")
    catalog(tmp_path / "catalog.yaml", 1)
    proc, _marker = _start_paused(tmp_path, cfg, "after")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    kc = load_kubeconfig(str(cfg), {})
    assert kc.current_context == "zt-0" and kc.clusters["zt-0"].owned


@pytest.mark.slow
def test_sigkill_at_random_moments_never_tears_the_file(tmp_path: Path) -> None:
    """A large file (about 1 MB) so that the kill often lands inside the write."""
    cfg = tmp_path / "config"
    entries = 1500
    big = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": f"c{i}", "cluster": {"server": f"https://10.0.{i // 250}.{i % 250}"}}
            for i in range(entries)
        ],
        "contexts": [
            {"name": f"c{i}", "context": {"cluster": f"c{i}", "user": "u"}} for i in range(entries)
        ],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "current-context": "c0",
    }
    old = yaml.safe_dump(big).encode()
    catalog(tmp_path / "catalog.yaml", 1)
    env = environment(tmp_path, cfg)
    args = [*ZTCTL, "use-cluster", "zt-0", "--no-probe"]
    cfg.write_bytes(old)
    start = time.monotonic()
    subprocess.run(args, env=env, check=True, capture_output=True, timeout=60)
    new = cfg.read_bytes()
    duration = time.monotonic() - start
    for _ in range(8):
        cfg.write_bytes(old)
        lock_path(cfg).unlink(missing_ok=True)
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(random.uniform(0.5, 1.1) * duration)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        now = cfg.read_bytes()
        assert now in (old, new)
    lock_path(cfg).unlink(missing_ok=True)
    for leftover in tmp_path.glob(".config.*.tmp"):
        leftover.unlink()


def test_sigterm_mid_write_releases_the_lock_and_keeps_the_old_file(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    old = b"apiVersion: v1\nkind: Config\ncurrent-context: ''\n"
    cfg.write_bytes(old)
    catalog(tmp_path / "catalog.yaml", 1)
    proc, _marker = _start_paused(tmp_path, cfg, "before")
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert b"terminated while writing kubeconfig" in err
    assert cfg.read_bytes() == old
    assert not lock_path(cfg).exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_kubectl_honours_ztctls_lock(tmp_path: Path, kubectl: str) -> None:
    cfg = tmp_path / "config"
    cfg.write_bytes(b"apiVersion: v1\nkind: Config\n")
    catalog(tmp_path / "catalog.yaml", 1)
    proc, _marker = _start_paused(tmp_path, cfg, "before")  # ztctl holds the lock here
    args = [kubectl, "--kubeconfig", str(cfg), "config", "set-context", "kc", "--cluster=x"]
    blocked = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    assert blocked.returncode != 0
    assert f"{cfg}.lock: file exists" in blocked.stderr
    proc.send_signal(signal.SIGTERM)  # ztctl gives up cleanly and removes its lock
    proc.communicate(timeout=30)
    done = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr


def test_ztctl_reads_after_taking_the_lock(tmp_path: Path) -> None:
    """A writer holding the lock changes the file; ztctl, waiting, keeps that change."""
    cfg = tmp_path / "config"
    cfg.write_bytes(b"apiVersion: v1\nkind: Config\n")
    catalog(tmp_path / "catalog.yaml", 1)
    lock = lock_path(cfg)
    lock.touch()
    # Returns once ztctl has found the lock taken: it is now waiting (about 2 s) for it.
    ztctl, _marker = _start_paused(tmp_path, cfg, "lockwait")
    cfg.write_bytes(
        b"apiVersion: v1\nkind: Config\ncontexts:\n- name: other\n  context: {cluster: c}\n"
    )
    lock.unlink()
    _out, err = ztctl.communicate(timeout=30)
    assert ztctl.returncode == 0, err
    kc = load_kubeconfig(str(cfg), {})
    assert "other" in kc.contexts and "zt-0" in kc.contexts
